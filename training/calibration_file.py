"""The calibration file of a model directory (issue 23; see CALIBRATION_SPEC in the issue notes): what the service
needs to abstain, to report calibrated probabilities and to form conformal prediction sets. Written by
bench/trust.py --write-calibration DIR/calibration.json from the fitted quantities.

Its id is the sha256 of its bytes; it names the model it was fitted on by the model sha256 (models/README.md) and
the encoders' sha256, and each prompt set by its version (src/zeroshot/prompt-sets.ts), so a service refuses it
for another model or for a prompt set whose labels or templates have changed.
"""

import hashlib
import json
import os

import numpy as np

FORMAT = "unimed-calibration"
FORMAT_VERSION = 1


def model_sha256(meta):
    """sha256 of the `sha256sum` listing of model.json `files`, sorted by name (src/models/integrity.ts)."""
    listing = "".join(f"{meta['files'][n]}  {n}\n" for n in sorted(meta["files"]))
    return hashlib.sha256(listing.encode()).hexdigest()


def prompt_set_version(name, ps, model_sha):
    """src/zeroshot/prompt-sets.ts promptSetVersion: labels as [name, text], compact JSON, then the model sha256."""
    labels = [[lab, lab] if isinstance(lab, str) else [lab["name"], lab["text"]] for lab in ps["labels"]]
    content = json.dumps({"name": name, "labels": labels, "templates": ps["templates"]}, separators=(",", ":"),
                         ensure_ascii=False)
    return hashlib.sha256(content.encode() + b"\n" + model_sha.encode()).hexdigest()[:16]


def _r(a, digits=7):
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def document(result, fitted, detector="mahalanobis"):
    emb = fitted["emb"]
    meta = emb.meta
    msha = model_sha256(meta)
    det = result["detectors"][detector]
    rate = str(result["id_abstain_design_rate"])
    maha = fitted["maha"]
    sets = {}
    for name, c in result["calibration"].items():
        v = c["model"]
        sets[name] = {"version": prompt_set_version(name, fitted["prompt_sets"][name], msha),
                      "labels": [lab if isinstance(lab, str) else lab["name"]
                                 for lab in fitted["prompt_sets"][name]["labels"]],
                      "temperature": round(v["temperature"], 6),
                      "conformal": {"score": "1 - p(true label)", "n": v["n_conformal"],
                                    "sorted_scores": _r(v["sorted_scores"], 7)},
                      "measured": {"ece_before": round(v["ece_before"], 4), "ece_after": round(v["ece_after"], 4),
                                   "coverage_at_0.9": round(v["coverage"], 4),
                                   "mean_set_size_at_0.9": round(v["mean_set_size"], 3)}}
    primary = next(iter(sets))
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "model": {"id": meta["id"], "sha256": msha, "image_encoder_sha256": meta["files"][meta["image"]["file"]],
                  "text_encoder_sha256": meta["files"][meta["text"]["file"]], "embed_dim": meta["embed_dim"],
                  "logit_scale": meta["logit_scale"]},
        "data": {"description": "synthetic images of training.synthetic, seed %d, %d images, split at random (seed 0) "
                                "into fold A (detector statistics, temperatures) and fold B (threshold, conformal "
                                "scores)" % (result["calibration_seed"], result["calibration_images"]),
                 "n": result["calibration_images"], "fold_a": result["calibration_images"] // 2,
                 "fold_b": result["calibration_images"] - result["calibration_images"] // 2},
        "temperature": {"value": sets[primary]["temperature"], "fitted_on": primary,
                        "note": "model-level temperature (inline labels): the primary prompt set's, the first listed"},
        "ood": {"method": "mahalanobis", "space": "L2-normalised image embedding",
                "score": "min over classes c of (x - means[c])^T precision (x - means[c])",
                "abstain_when": "score > threshold", "threshold": round(det["thresholds"][rate], 6),
                "in_distribution_abstention": float(rate),
                "n_threshold": result["calibration_images"] - result["calibration_images"] // 2,
                "classes": list(maha["classes"]), "means": _r(maha["means"]), "precision": _r(maha["precision"], 5)},
        "prompt_sets": sets,
    }


def write(path, result, fitted, detector="mahalanobis"):
    doc = document(result, fitted, detector)
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    # The service checks the file against this sidecar (src/models/calibration.ts): a changed byte refuses to load.
    with open(path + ".sha256", "w", encoding="utf-8") as f:
        f.write(f"{digest}  {os.path.basename(path)}\n")
    print(f"wrote {path} and {path}.sha256: calibration id sha256 {digest}")
