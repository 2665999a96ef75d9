"""Reproduce models/demo: synthetic data -> vocabulary -> training from scratch -> held-out zero-shot -> export.

    python3 -m training.make_demo --out models/demo [--work /tmp/unimed-demo-work]

Everything is seeded; on 2 CPU cores it takes a few minutes. The demo is trained on synthetic pictures only and
is not a medical model.
"""

import argparse
import csv
import json
import os
import sys
import time

import torch

from . import export as exporter
from .checkpoint import load_model
from .data import load_images, read_manifest
from .synthetic import generate, prompt_sets
from .tokenizer import BertTokenizer, build_vocab, save_vocab
from .train import main as train_main
from .zeroshot import evaluate

TRAIN_SEED, TRAIN_PER_CLASS = 1, 400
EVAL_SEED, EVAL_PER_CLASS = 777, 50  # 300 held-out images; the seed is not used for training
# outlier exposure: pictures of the `fit` sources of training.ood_sources, captioned as not medical, in words the
# demo vocabulary already has (so the tokenizer, and what records it, stay the same)
OE_SEED = 5
OE_CAPTIONS = ["no medical image.", "this is no medical image.", "no medical scan.", "no patient, no medical image.",
               "this image is no medical image."]
TRAIN_ARGS = ["--arch", "demo", "--steps", "600", "--batch-size", "64", "--lr", "1e-3", "--warmup", "50",
              "--weight-decay", "0.1", "--seed", "0", "--cache-images", "--log-every", "25", "--save-every", "250"]

CARD = """# Model card: unimed-demo

**This is a toy model trained on synthetic images. It is not a medical model and must not be used on real
patients or real medical images.** It exists so that unimed-serve works on a fresh clone and its tests have a
small, real model to serve.

## What the weights are
A UniMed-CLIP-architecture model (open_clip ViT image tower with QuickGELU, BERT text tower with CLS pooling and
an MLP projection), much smaller than the released ones: image {image_size} px, patch {patch}, width {vw},
{vl} layers; text hidden {th}, {tl} layers, {tv}-token WordPiece vocabulary built from the synthetic captions
plus every single character; embedding dimension {d}. Trained from scratch with `training.train`
(CLIP contrastive loss), {steps} optimizer steps of batch {batch}.

## Training data
{n_train} procedurally drawn pictures (`training.synthetic`, seed {train_seed}): six "modalities" (`xray`, `ct`,
`mri`, `ultrasound`, `histopathology`, `fundus`) drawn as simple shapes, textures and noise, each with or
without a drawn "finding", with captions from templates. No real medical image or text was used.{oe_text}

## Evaluation
Zero-shot modality accuracy by the paper's protocol (prompt set `modality`: every template filled with the
label, L2-normalized, averaged, re-normalized; softmax of logit_scale x cosine) on {n_eval} held-out synthetic
images generated with seed {eval_seed} (not used for training): **{acc:.1%}**. Prompt set `finding`: {facc:.1%}.
These figures say only that the pipeline works; they say nothing about medical images.

## Licence
Same as this repository.

## Intended use
Development, testing and demonstration of unimed-serve. Not for any medical or real-world decision.

## Known limits
Knows six synthetic picture styles and a few dozen words; any real image or other text gives meaningless
scores{oe_limit}. Text cleaning does not reproduce ftfy's mojibake repair.

## Reproduce
```
{reproduce}
```
which runs, with `W` its work directory:
```
/usr/bin/python3 -m training.synthetic --out W/train --per-class {train_pc} --seed {train_seed}
/usr/bin/python3 -m training.synthetic --out W/eval --per-class {eval_pc} --seed {eval_seed}
# vocabulary: training.tokenizer.build_vocab(training.synthetic.corpus()) -> W/vocab.txt
# prompt sets: training.synthetic.prompt_sets() -> W/prompt_sets.json
{oe_step}/usr/bin/python3 -m training.train --train-manifest W/{manifest} --vocab W/vocab.txt --out W/run {train_args}
/usr/bin/python3 -m training.export --checkpoint W/run/final.pt --vocab W/vocab.txt --out models/demo --id unimed-demo \\
    --prompt-sets W/prompt_sets.json --model-card W/MODEL_CARD.md --evaluation W/evaluation.json --overwrite
```
Training took {train_s:.0f} s on {threads} CPU threads (torch {torch}).
"""


def outlier_rows(ood_cache):
    """The fit sources' pictures (absolute paths) with seeded 'not a medical image' captions."""
    import numpy as np

    if not os.path.exists(os.path.join(ood_cache, "manifest.csv")):
        from .ood_sources import build

        build(ood_cache)  # apt-get download of the Debian packages it names
    with open(os.path.join(ood_cache, "manifest.csv"), newline="", encoding="utf-8") as f:
        fit = [r for r in csv.DictReader(f) if r["role"] == "fit"]
    if not fit:
        raise SystemExit(f"{ood_cache}/manifest.csv has no fit source (python3 -m training.ood_sources)")
    rng = np.random.RandomState(OE_SEED)
    return [{"path": os.path.abspath(os.path.join(ood_cache, r["file"])), "modality": "none", "finding": "",
             "caption": OE_CAPTIONS[rng.randint(len(OE_CAPTIONS))], "source": r["source"]} for r in fit]


def training_manifest(w, ood_cache):
    """W/train/labels.csv, or with --outlier-exposure W/train-oe.csv: the same rows (absolute paths) + outliers."""
    path = os.path.join(w, "train", "labels.csv")
    if not ood_cache:
        return path, None
    with open(path, newline="", encoding="utf-8") as f:
        rows = [dict(r, path=os.path.join(os.path.abspath(os.path.join(w, "train")), r["path"]))
                for r in csv.DictReader(f)]
    oe = outlier_rows(ood_cache)
    out = os.path.join(w, "train-oe.csv")
    with open(out, "w", newline="", encoding="utf-8") as f:
        wr = csv.DictWriter(f, fieldnames=["path", "modality", "finding", "caption"])
        wr.writeheader()
        wr.writerows(rows + [{k: r[k] for k in ("path", "modality", "finding", "caption")} for r in oe])
    return out, {"images": len(oe), "sources": sorted({r["source"] for r in oe}), "captions": OE_CAPTIONS,
                 "manifest": "training.ood_sources, role fit"}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="models/demo")
    p.add_argument("--work", default="/tmp/unimed-demo-work")
    p.add_argument("--steps", type=int, default=None, help="override the number of training steps")
    p.add_argument("--reuse-run", action="store_true",
                   help="export WORK/run/final.pt again (model card, evaluation) without training, if it exists")
    p.add_argument("--outlier-exposure", metavar="OOD_CACHE", default=None,
                   help="also train on the fit sources of training.ood_sources (OOD_CACHE/manifest.csv, e.g. "
                        "bench/.cache/ood), captioned 'not a medical image' (issue 23)")
    a = p.parse_args(argv)
    w = a.work
    os.makedirs(w, exist_ok=True)
    generate(os.path.join(w, "train"), TRAIN_PER_CLASS, TRAIN_SEED)
    generate(os.path.join(w, "eval"), EVAL_PER_CLASS, EVAL_SEED)
    from .synthetic import corpus

    vocab_path = os.path.join(w, "vocab.txt")
    save_vocab(build_vocab(corpus()), vocab_path)
    ps_path = os.path.join(w, "prompt_sets.json")
    ps = prompt_sets()
    with open(ps_path, "w", encoding="utf-8") as f:
        json.dump(ps, f, indent=2)
        f.write("\n")
    train_args = list(TRAIN_ARGS)
    if a.steps:
        train_args[train_args.index("--steps") + 1] = str(a.steps)
    run = os.path.join(w, "run")
    manifest, oe = training_manifest(w, a.outlier_exposure)
    if a.reuse_run and os.path.exists(os.path.join(run, "final.pt")):
        with open(os.path.join(run, "metrics.jsonl"), encoding="utf-8") as f:  # time from the logged throughput
            recs = [json.loads(ln) for ln in f if '"samples_per_s"' in ln]
        every = int(train_args[train_args.index("--log-every") + 1])
        batch = int(train_args[train_args.index("--batch-size") + 1])
        train_s = sum(every * batch / r["samples_per_s"] for r in recs)
    else:
        if os.path.exists(os.path.join(run, "metrics.jsonl")):
            os.remove(os.path.join(run, "metrics.jsonl"))
        t0 = time.time()
        train_main(["--train-manifest", manifest, "--vocab", vocab_path, "--out", run] + train_args)
        train_s = time.time() - t0
    ckpt = os.path.join(run, "final.pt")

    model = load_model(ckpt)
    tok = BertTokenizer(vocab_path)
    rows = read_manifest(os.path.join(w, "eval", "labels.csv"))
    images = load_images(rows, model.cfg.vision.image_size)
    m, f_ = ps["prompt_sets"]["modality"], ps["prompt_sets"]["finding"]
    acc = evaluate(model, tok, images, [r["modality"] for r in rows], m["labels"], m["templates"])
    facc = evaluate(model, tok, images, ["abnormal" if r["finding"] == "1" else "normal" for r in rows],
                    f_["labels"], f_["templates"])
    evaluation = {
        "trained_on": "synthetic images only (training.synthetic); not a medical model",
        "task": "zero-shot modality classification, prompt set 'modality', template ensemble, "
                "softmax(logit_scale * cosine)",
        "held_out_images": len(rows), "held_out_seed": EVAL_SEED, "held_out_per_class": EVAL_PER_CLASS,
        "generator": "training.synthetic", "train_seed": TRAIN_SEED, "train_per_class": TRAIN_PER_CLASS,
        "modality_accuracy": round(acc, 4), "finding_accuracy": round(facc, 4),
        "reproduce": "/usr/bin/python3 -m training.make_demo --out models/demo"
                     + (" --outlier-exposure bench/.cache/ood" if oe else ""),
    }
    if oe:
        evaluation["outlier_exposure"] = oe
    with open(os.path.join(w, "evaluation.json"), "w", encoding="utf-8") as f:
        json.dump(evaluation, f, indent=2)
    cfg = model.cfg
    steps = train_args[train_args.index("--steps") + 1]
    card = CARD.format(image_size=cfg.vision.image_size, patch=cfg.vision.patch_size, vw=cfg.vision.width,
                       vl=cfg.vision.layers, th=cfg.text.hidden_size, tl=cfg.text.layers, tv=cfg.text.vocab_size,
                       d=cfg.embed_dim, steps=steps, batch=train_args[train_args.index("--batch-size") + 1],
                       n_train=6 * TRAIN_PER_CLASS, train_seed=TRAIN_SEED, n_eval=len(rows), eval_seed=EVAL_SEED,
                       acc=acc, facc=facc, train_pc=TRAIN_PER_CLASS, eval_pc=EVAL_PER_CLASS,
                       train_args=" ".join(train_args), train_s=train_s, threads=torch.get_num_threads(),
                       torch=torch.__version__, manifest=os.path.relpath(manifest, w),
                       reproduce="/usr/bin/python3 -m training.make_demo --out models/demo"
                                 + (" --outlier-exposure bench/.cache/ood" if oe else ""),
                       oe_step=("/usr/bin/python3 -m training.ood_sources --cache bench/.cache/ood  # Debian packages\n"
                                "# W/train-oe.csv: W/train/labels.csv + the fit sources' pictures, captioned as not "
                                "medical\n") if oe else "",
                       oe_text=(f"\n\nOutlier exposure (issue 23): {oe['images']} non-medical pictures of the `fit` "
                                f"sources of `training.ood_sources` ({', '.join(oe['sources'])}; Debian packages' "
                                "wallpapers, icons, clip art, game art, and procedural patterns), captioned "
                                "\"no medical image.\" and variants, so that the image embedding keeps "
                                "non-medical pictures away from the six modalities.") if oe else "",
                       oe_limit=(" (non-medical pictures land away from the six modalities, which the calibration's "
                                 "out-of-distribution detector uses; real medical images are still unknown to it)")
                       if oe else "")
    card_path = os.path.join(w, "MODEL_CARD.md")
    with open(card_path, "w", encoding="utf-8") as f:
        f.write(card)
    intended = ("Demo and test model of unimed-serve, trained on synthetic images only: it is not a medical model "
                "and must not be used on real medical images or for any medical decision.")
    rc = exporter.main(["--checkpoint", ckpt, "--vocab", vocab_path, "--out", a.out, "--id", "unimed-demo",
                        "--prompt-sets", ps_path, "--model-card", card_path, "--evaluation",
                        os.path.join(w, "evaluation.json"), "--intended-use", intended, "--overwrite"])
    if rc != 0:
        return rc
    print(f"modality accuracy {acc:.4f} (seed {EVAL_SEED}, {len(rows)} images); finding {facc:.4f}", file=sys.stderr)
    return 0 if acc >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
