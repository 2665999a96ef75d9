"""Inputs of bench/int8.ts: held-out synthetic images, preprocessed, and the modality prompt texts, tokenized.

    /usr/bin/python3 bench/int8_inputs.py --model-dir DIR --per-class 50 --seed 777 --out PREFIX [--prompt-sets F]

Writes PREFIX.f32 (float32 little-endian pixel values, [N, 3, S, S], the model's preprocessing) and PREFIX.json:
count, size, each image's modality and PNG sha256, and the prompt set's labels with the token ids of every filled
template. The images are training.synthetic's of `seed` (777: the demo's held-out set; never a calibration seed).
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


from training.data import load_images, read_manifest  # noqa: E402
from training.synthetic import generate  # noqa: E402
from training.tokenizer import BertTokenizer  # noqa: E402
from training.zeroshot import label_name, label_text  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--per-class", type=int, default=50)
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--out", required=True)
    p.add_argument("--prompt-sets", default=None, help="default: the model directory's prompt_sets.json")
    a = p.parse_args(argv)
    with open(os.path.join(a.model_dir, "model.json"), encoding="utf-8") as f:
        size = json.load(f)["image"]["size"]
    with open(a.prompt_sets or os.path.join(a.model_dir, "prompt_sets.json"), encoding="utf-8") as f:
        modality = json.load(f)["prompt_sets"]["modality"]
    with open(os.path.join(a.model_dir, "tokenizer.json"), encoding="utf-8") as f:
        tok = BertTokenizer(json.load(f)["model"]["vocab"])
    with tempfile.TemporaryDirectory(prefix="unimed-int8-bench-") as work:
        generate(work, a.per_class, a.seed)
        rows = read_manifest(os.path.join(work, "labels.csv"))
        pixels = load_images(rows, size).numpy().astype("<f4")
        hashes = []
        for r in rows:
            with open(os.path.join(work, r["path"]), "rb") as f:
                hashes.append(hashlib.sha256(f.read()).hexdigest())
    pixels.tofile(a.out + ".f32")
    classes = [{"name": label_name(lab),
                "ids": [tok.encode(t.replace("{}", label_text(lab))) for t in modality["templates"]]}
               for lab in modality["labels"]]
    with open(a.out + ".json", "w", encoding="utf-8") as f:
        json.dump({"count": len(rows), "size": size, "seed": a.seed, "modalities": [r["modality"] for r in rows],
                   "sha256": hashes, "classes": classes}, f)
    print(f"wrote {len(rows)} images ({size}px) to {a.out}.f32", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
