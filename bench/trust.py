"""Issue 23's figures: out-of-distribution detectors, temperature scaling, ECE and conformal sets on a model directory.

    /usr/bin/python3 bench/trust.py [--model models/demo] [--publish] [--write-calibration FILE]

Images: synthetic in-distribution sets from training.synthetic with seeds never used for training (calibration
seed 2001, 400 per class; evaluation seed 3001, 350 per class) and the out-of-distribution sources of
training.ood_sources (Debian packages, rebuilt into bench/.cache/ood when missing). Embeddings come from the
directory's ONNX graphs through onnxruntime-node (bench/trust-embed.ts), the runtime the service uses.

The calibration images are split in two random halves (seeded): fold A fits the detectors' reference statistics
and the temperature, fold B the thresholds and the conformal scores, so that each fitted quantity is set on images
its inputs never saw. `fit` sources may tune choices; figures are reported on `eval` sources only.
Writes bench/results/trust.json and trust.md; --publish replaces the trust section of bench/RESULTS.md;
--write-calibration writes the calibration file (CALIBRATION_SPEC.md) for the chosen detector.
"""

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from training import ood_sources  # noqa: E402
from training import trust as T  # noqa: E402
from training.make_demo import OE_CAPTIONS  # noqa: E402
from training.image import load_rgb, resize_center_crop  # noqa: E402
from training.synthetic import generate  # noqa: E402
from training.tokenizer import BertTokenizer  # noqa: E402

CAL_SEED, CAL_PER_CLASS = 2001, 400
EVAL_SEED, EVAL_PER_CLASS = 3001, 350
ID_ABSTAIN = 0.04  # design rate: below the 5% target by about one standard deviation of the measured rate
KNN_K = 10
SHIPPED = "mahalanobis"  # the detector of the calibration file (docs/decisions.md)
COMBINED = ("negative_labels", "mahalanobis")  # measured alternative: either part, each at half the rate
# negative labels: the captions that outlier exposure trains (training/make_demo.py); words a real checkpoint knows
NEGATIVE_TEXTS = OE_CAPTIONS


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def synthetic(cache, seed, per_class):
    d = os.path.join(cache, f"syn-{seed}-{per_class}")
    if not os.path.exists(os.path.join(d, "labels.csv")):
        generate(d, per_class, seed)
    with open(os.path.join(d, "labels.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["file"] = os.path.join(d, r["path"])
    return rows


class Embedder:
    def __init__(self, model_dir, cache):
        self.dir, self.cache = model_dir, cache
        with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
            self.meta = json.load(f)
        self.key = sha256(os.path.join(model_dir, self.meta["image"]["file"]))[:16]
        with open(os.path.join(model_dir, self.meta["text"]["tokenizer"]), encoding="utf-8") as f:
            self.tok = BertTokenizer(json.load(f)["model"]["vocab"])

    def _node(self, job):
        path = os.path.join(self.cache, f"job-{os.getpid()}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(job, f)
        subprocess.run(["node", os.path.join(ROOT, "bench", "trust-embed.ts"), path], check=True,
                       stdout=subprocess.DEVNULL)
        os.remove(path)

    def images(self, name, files):
        out = os.path.join(self.cache, f"emb-{self.key}-{name}")
        if not os.path.exists(out + ".image.f32"):
            m = self.meta["image"]
            mean, std = np.asarray(m["mean"], np.float32), np.asarray(m["std"], np.float32)
            raw = out + ".pixels.f32"
            with open(raw, "wb") as f:
                for p in files:
                    a = np.asarray(resize_center_crop(load_rgb(p), m["size"]), np.float32) / 255.0
                    f.write(np.ascontiguousarray(((a - mean) / std).transpose(2, 0, 1)).tobytes())
            self._node({"modelDir": os.path.abspath(self.dir), "images": {"file": raw, "n": len(files)}, "out": out})
            os.remove(raw)
        e = np.fromfile(out + ".image.f32", np.float32).reshape(len(files), -1)
        return T.normalize(e)

    def texts(self, texts):
        out = os.path.join(self.cache, f"emb-{self.key}-text-{hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]}")
        if not os.path.exists(out + ".text.f32"):
            self._node({"modelDir": os.path.abspath(self.dir), "texts": {"ids": [self.tok.encode(t) for t in texts]},
                        "out": out})
        return T.normalize(np.fromfile(out + ".text.f32", np.float32).reshape(len(texts), -1))

    def prompt_set(self, ps):
        """Class embeddings by the paper's protocol: fill every template, normalise, average, normalise."""
        labels = [lab if isinstance(lab, str) else lab.get("text", lab["name"]) for lab in ps["labels"]]
        filled = [t.replace("{}", lab) for lab in labels for t in ps["templates"]]
        e = self.texts(filled).reshape(len(labels), len(ps["templates"]), -1)
        return T.normalize(e.mean(axis=1))


def label_names(ps):
    return [lab if isinstance(lab, str) else lab["name"] for lab in ps["labels"]]


def targets(rows, name):
    return [r["modality"] if name == "modality" else ("abnormal" if r["finding"] == "1" else "normal") for r in rows]


def detectors(emb, cls_mod, neg, scale, ref, ref_labels):
    """-> {name: function(images, is_reference_fold) -> scores}; all fitted on fold A (ref) only."""
    maha = T.fit_mahalanobis(ref, ref_labels)
    return {
        "mcm": lambda x, _: T.mcm_score(x, cls_mod, scale),
        "max_cosine": lambda x, _: T.max_cosine_score(x, cls_mod),
        "negative_labels": lambda x, _: T.negative_label_score(x, cls_mod, neg, scale),
        "mahalanobis": lambda x, _: T.mahalanobis_score(x, maha),
        f"knn{KNN_K}": lambda x, self_: T.knn_score(x, ref, KNN_K, exclude_self=self_),
    }, maha


def calibration_figures(emb, ps, cal_a, cal_b, ev, scale):
    cls = emb.prompt_set(ps)
    names = label_names(ps)
    out = {}
    for tag, s in (("model", scale), ("halved", scale / 2)):
        def probs(x, t=1.0):
            return T.softmax(s / t * x["emb"] @ cls.T)
        ya, yb, ye = ([names.index(v) for v in targets(x["rows"], ps["_name"])] for x in (cal_a, cal_b, ev))
        t = T.fit_temperature(cal_a["emb"] @ cls.T, np.asarray(ya), s)
        pe, pe_t = probs(ev), probs(ev, t)
        scores = T.conformal_scores(probs(cal_b, t), yb)
        sets = T.prediction_sets(pe_t, scores, 0.9)
        cover = sets[np.arange(len(ye)), ye]
        out[tag] = {"logit_scale": s, "temperature": t, "accuracy": float((pe.argmax(1) == np.asarray(ye)).mean()),
                    "ece_before": T.ece(pe, ye), "ece_after": T.ece(pe_t, ye),
                    "nll_before": T.nll(ev["emb"] @ cls.T, np.asarray(ye), s),
                    "nll_after": T.nll(ev["emb"] @ cls.T, np.asarray(ye), s / t),
                    "coverage_target": 0.9, "coverage": float(cover.mean()), "mean_set_size": float(sets.sum(1).mean()),
                    "empty_sets": float((sets.sum(1) == 0).mean()), "n_conformal": len(scores),
                    "reliability": T.reliability(pe_t, ye), "sorted_scores": scores}
    return out


def run(args):
    cache = os.path.join(ROOT, "bench", ".cache", "trust")
    os.makedirs(cache, exist_ok=True)
    ood_cache = os.path.join(ROOT, "bench", ".cache", "ood")
    if not os.path.exists(os.path.join(ood_cache, "manifest.csv")):
        ood_sources.build(ood_cache)
    ood = ood_sources.read(ood_cache)
    emb = Embedder(args.model, cache)
    with open(os.path.join(args.model, "prompt_sets.json"), encoding="utf-8") as f:
        prompt_sets = json.load(f)["prompt_sets"]
    scale = float(emb.meta["logit_scale"])
    t0 = time.time()
    cal = synthetic(cache, CAL_SEED, CAL_PER_CLASS)
    ev_rows = synthetic(cache, EVAL_SEED, EVAL_PER_CLASS)
    cal_e = emb.images(f"syn-{CAL_SEED}-{CAL_PER_CLASS}", [r["file"] for r in cal])
    ev_e = emb.images(f"syn-{EVAL_SEED}-{EVAL_PER_CLASS}", [r["file"] for r in ev_rows])
    ood_e = emb.images("ood-" + hashlib.sha256(json.dumps([r["file"] for r in ood]).encode()).hexdigest()[:12],
                       [os.path.join(ood_cache, r["file"]) for r in ood])
    perm = np.random.RandomState(0).permutation(len(cal))  # rows come class by class: split at random
    fa, fb = np.sort(perm[: len(cal) // 2]), np.sort(perm[len(cal) // 2:])
    cal_a = {"rows": [cal[i] for i in fa], "emb": cal_e[fa]}
    cal_b = {"rows": [cal[i] for i in fb], "emb": cal_e[fb]}
    ev = {"rows": ev_rows, "emb": ev_e}
    cls_mod = emb.prompt_set(prompt_sets["modality"])
    neg = emb.texts(NEGATIVE_TEXTS)
    dets, maha = detectors(emb, cls_mod, neg, scale, cal_a["emb"], [r["modality"] for r in cal_a["rows"]])
    sources = sorted({(r["role"], r["source"]) for r in ood})
    scores = {name: (fn(cal_b["emb"], False), fn(ev["emb"], False), fn(ood_e, False)) for name, fn in dets.items()}

    def single(name):
        def at(rate):
            sb, se, so = scores[name]
            return sb, se, so, T.threshold_for(sb, rate)
        return at

    def combined(rate):  # abstain when either part passes its own threshold, each set at half the rate
        parts = [scores[n] for n in COMBINED]
        ts = [T.threshold_for(p[0], rate / 2) for p in parts]
        return tuple(np.max([p[i] / t for p, t in zip(parts, ts)], axis=0) for i in range(3)) + (1.0,)

    det_res = {}
    for name, at in [(n, single(n)) for n in dets] + [("combined", combined)]:
        res = {"thresholds": {}, "id_abstained": {}, "sources": {}}
        for rate in (0.05, ID_ABSTAIN):
            _, se, _, thr = at(rate)
            res["thresholds"][str(rate)] = thr
            res["id_abstained"][str(rate)] = float((se > thr).mean())
        so5, thr5 = at(0.05)[2], res["thresholds"]["0.05"]
        _, se, so, thr = at(ID_ABSTAIN)
        for role, src in sources:
            m = np.array([r["source"] == src for r in ood])
            res["sources"][src] = {"role": role, "n": int(m.sum()), "auroc": T.auroc(se, so[m]),
                                   "abstained_at_5pct": float((so5[m] > thr5).mean()),
                                   "abstained": float((so[m] > thr).mean())}
        for role in ("fit", "eval"):
            m = np.array([r["role"] == role for r in ood])
            res[role] = {"n": int(m.sum()), "auroc": T.auroc(se, so[m]), "fpr_at_95tpr": T.fpr_at_tpr(se, so[m]),
                         "abstained_at_5pct": float((so5[m] > thr5).mean()), "abstained": float((so[m] > thr).mean())}
        det_res[name] = res
    if COMBINED:
        det_res["combined"]["parts"] = {n: {"threshold": T.threshold_for(scores[n][0], ID_ABSTAIN / 2)} for n in COMBINED}
    calib = {}
    for name, ps in prompt_sets.items():
        calib[name] = calibration_figures(emb, dict(ps, _name=name), cal_a, cal_b, ev, scale)
    result = {"model": args.model, "model_id": emb.meta["id"], "image_encoder_sha256_16": emb.key,
              "calibration_images": len(cal), "calibration_seed": CAL_SEED, "evaluation_images": len(ev_rows),
              "evaluation_seed": EVAL_SEED, "id_abstain_design_rate": ID_ABSTAIN, "knn_k": KNN_K,
              "ood_sources": {s: {"role": role, "n": sum(r["source"] == s for r in ood),
                                  "packages": sorted({r["package"] or "(generated)" for r in ood if r["source"] == s})}
                              for role, s in sources},
              "detectors": det_res, "calibration": calib, "seconds": round(time.time() - t0, 1)}
    return result, {"maha": maha, "cal_b": cal_b, "dets": dets, "emb": emb, "prompt_sets": prompt_sets,
                    "positive": cls_mod, "negative": neg, "negative_texts": NEGATIVE_TEXTS}


def markdown(r):
    L = [f"Model `{r['model_id']}` ({r['model']}, image encoder sha256 {r['image_encoder_sha256_16']}...). "
         f"In-distribution: {r['calibration_images']} calibration images (synthetic seed {r['calibration_seed']}; fold A "
         f"fits reference statistics and temperature, fold B thresholds and conformal scores), {r['evaluation_images']} "
         f"evaluation images (seed {r['evaluation_seed']}).", "",
         "Out-of-distribution sources (`training/ood_sources.py`; `fit` sources may tune choices, figures are on `eval` "
         "sources only; `medical` is kept out of the non-medical sets):", "",
         "| source | role | images | packages |", "| --- | --- | --- | --- |"]
    for s, v in r["ood_sources"].items():
        L.append(f"| {s} | {v['role']} | {v['n']} | {', '.join(v['packages'])} |")
    rate = r["id_abstain_design_rate"]
    L += ["", f"### Detectors (threshold at {rate:.0%} design in-distribution abstention; in brackets: at 5%)", "",
          "| detector | ID eval abstained | AUROC eval sources | eval abstained | FPR at 95% TPR | AUROC fit sources |"
          + " fit abstained |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, d in r["detectors"].items():
        L.append(f"| {name} | {d['id_abstained'][str(rate)]:.3f} ({d['id_abstained']['0.05']:.3f}) | {d['eval']['auroc']:.3f} "
                 f"| {d['eval']['abstained']:.3f} ({d['eval']['abstained_at_5pct']:.3f}) | {d['eval']['fpr_at_95tpr']:.3f} "
                 f"| {d['fit']['auroc']:.3f} | {d['fit']['abstained']:.3f} |")
    L += ["", f"Shipped in the calibration file: `{SHIPPED}`. `combined`: abstain when {' or '.join(COMBINED)} "
          "passes its own threshold, each set at half the rate.", "",
          "Per source: AUROC / abstained at the design threshold.", ""]
    srcs = list(r["ood_sources"])
    L += ["| detector | " + " | ".join(f"{s} ({r['ood_sources'][s]['role']})" for s in srcs) + " |",
          "| --- |" + " --- |" * len(srcs)]
    for name, d in r["detectors"].items():
        L.append(f"| {name} | " + " | ".join(f"{d['sources'][s]['auroc']:.3f} / {d['sources'][s]['abstained']:.2f}"
                                             for s in srcs) + " |")
    L += ["", "### Calibration (temperature fitted on fold A; ECE 15 bins and conformal coverage on the evaluation images)", "",
          "| prompt set | logit scale | accuracy | temperature | ECE before | ECE after | NLL before | NLL after "
          "| coverage at 0.9 | mean set size | empty sets | n (conformal) |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, c in r["calibration"].items():
        for tag, v in c.items():
            L.append(f"| {name} | {'model' if tag == 'model' else 'halved (miscalibrated copy)'} {v['logit_scale']:.2f} "
                     f"| {v['accuracy']:.3f} | {v['temperature']:.3f} | {v['ece_before']:.4f} | {v['ece_after']:.4f} "
                     f"| {v['nll_before']:.3f} | {v['nll_after']:.3f} | {v['coverage']:.3f} | {v['mean_set_size']:.2f} "
                     f"| {v['empty_sets']:.3f} | {v['n_conformal']} |")
    L += ["", f"Reproduce: `/usr/bin/python3 bench/trust.py --model {r['model']}` ({r['seconds']} s; the first run also builds "
          "the image sets and embeddings, cached in bench/.cache/).", ""]
    return "\n".join(L)


def publish(md):
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    start, end = "<!-- trust:start -->", "<!-- trust:end -->"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    section = f"{start}\n## Knowing when not to answer (issue 23)\n\n{md}{end}"
    i, j = text.find(start), text.find(end)
    text = text[:i] + section + text[j + len(end):] if 0 <= i < j else text.rstrip() + "\n\n" + section + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def jsonable(o):
    if isinstance(o, dict):
        return {k: jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    return o


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/demo")
    p.add_argument("--publish", action="store_true", help="replace the trust section of bench/RESULTS.md")
    p.add_argument("--write-calibration", default=None, metavar="FILE")
    a = p.parse_args(argv)
    result, fitted = run(a)
    out = os.path.join(ROOT, "bench", "results")
    os.makedirs(out, exist_ok=True)
    slim = jsonable(result)
    for c in slim["calibration"].values():
        for v in c.values():
            v.pop("sorted_scores")
    with open(os.path.join(out, "trust.json"), "w", encoding="utf-8") as f:
        json.dump(slim, f, indent=1)
    md = markdown(result)
    with open(os.path.join(out, "trust.md"), "w", encoding="utf-8") as f:
        f.write(md)
    print(md)
    if a.publish:
        publish(md)
    if a.write_calibration:
        from training.calibration_file import write  # noqa: E402
        write(a.write_calibration, result, fitted, SHIPPED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
