"""Write a randomly initialised checkpoint in the released UniMed-CLIP layout (for benchmarks and tests).

    python3 -m training.random_checkpoint --arch vit-b16 --out CKPT [--vocab-out VOCAB.txt] [--seed 0]
"""

import argparse
import sys

import torch

from .model import MODEL_CONFIGS, UniMedCLIP, make_config
from .tokenizer import build_vocab, save_vocab

SAMPLE_CORPUS = [
    "a chest x-ray showing pneumonia in the right lower lobe",
    "ct scan of the abdomen with contrast, liver lesion",
    "mri of the brain, t2-weighted, no acute infarct",
    "ultrasound image of the kidney with hydronephrosis",
    "histopathology slide showing adenocarcinoma, h&e stain",
    "retinal fundus photograph with diabetic retinopathy and hemorrhages",
    "normal study without findings",
    "an image of a medical scan",
]


def synthetic_vocab(vocab_size, corpus=SAMPLE_CORPUS):
    """specials, characters, ## characters, corpus words, then [unusedN] fillers up to vocab_size."""
    tokens = build_vocab(corpus)
    if len(tokens) > vocab_size:
        tokens = tokens[:vocab_size]
    i = 0
    while len(tokens) < vocab_size:
        tokens.append(f"[unused{i}]")
        i += 1
    return tokens


def random_state_dict(arch, vocab_size=None, seed=0):
    torch.manual_seed(seed)
    cfg = make_config(arch, vocab_size)
    model = UniMedCLIP(cfg)
    return model.state_dict(), cfg


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="vit-b16", choices=sorted(MODEL_CONFIGS))
    p.add_argument("--out", required=True)
    p.add_argument("--vocab-out", default=None, help="also write a matching synthetic vocab.txt")
    p.add_argument("--vocab-size", type=int, default=None, help="override the text vocabulary size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--module-prefix", action="store_true", help="prefix keys with 'module.' as DDP saves them")
    a = p.parse_args(argv)
    sd, cfg = random_state_dict(a.arch, a.vocab_size, a.seed)
    if a.module_prefix:
        sd = {"module." + k: v for k, v in sd.items()}
    torch.save({"epoch": 0, "state_dict": sd}, a.out)
    if a.vocab_out:
        save_vocab(synthetic_vocab(cfg.text.vocab_size), a.vocab_out)
    print(f"wrote {a.out} ({a.arch}, {sum(v.numel() for v in sd.values()) / 1e6:.1f}M parameters)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
