"""Checkpoint -> model directory (models/README.md).

    python3 -m training.export --checkpoint CKPT --vocab VOCAB.txt --out DIR [--id NAME]
        [--prompt-sets FILE] [--model-card FILE] [--evaluation FILE.json] [--intended-use TEXT]
        [--quantize int8 [--reduce-range]]

--quantize int8 rewrites both encoders with dynamic int8 quantization (training/quantize.py); golden.json stays
the fp32 PyTorch reference and model.json `golden` carries tolerances measured on the int8 graphs.
"""

import argparse
import datetime
import hashlib
import inspect
import json
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import __version__
from .checkpoint import load_model, sha256_file
from .image import MEAN, RESIZE_RULE, STD, preprocess
from .model import ImageEncoderExport, TextEncoderExport
from .tokenizer import CLEANING, CONTEXT_LENGTH, BertTokenizer, clean_text

FORMAT_VERSION = 1
OPSET = 17
TOLERANCES = {"text_min_cosine": 0.99999, "image_exact_min_cosine": 0.99999, "image_resized_min_cosine": 0.999}

DEFAULT_INTENDED_USE = (
    "Research use: zero-shot classification and retrieval of medical images against text prompts, served by "
    "unimed-serve. Not a medical device; outputs must not be used for diagnosis or treatment decisions.")

LONG_TEXT = " ".join(["The lesion in segment {} measures {} mm, with irregular margins and no calcification."
                      .format(i % 8 + 1, 3 + i) for i in range(40)])
GOLDEN_TEXTS = [
    "Chest X-ray showing right lower lobe pneumonia.",
    "Crohn\u2019s disease with \u201cskip lesions\u201d in the terminal ileum.",
    "\uff23\uff34 scan of the \uff41\uff42\uff44\uff4f\uff4d\uff45\uff4e\uff0c contrast\u3000enhanced",
    "Di\ufb00use \ufb01brosis with \ufb02uid and e\ufb03cient \ufb04ow",
    "Nodule &lt;5 mm &amp;amp; no effusion &gt; 2&nbsp;cm &#x3B1;-fetoprotein",
    "Caf\u00e9-au-lait spots; na\u00efve \u00c5ngstr\u00f6m fa\u00e7ade r\u00e9sum\u00e9 (NFD: cafe\u0301)",
    "T2-weighted MRI, 3.0 T, 12/24 slices at 0.5mm (n=1024); SUVmax 7.8 +/- 1.2%",
    "Pneumonoultramicroscopicsilicovolcanoconiosis and hepatosplenomegaly",
    LONG_TEXT,
    "  Whitespace\t\tand\nnewlines \u00a0 collapse\x07 here  ",
    "\u80ba\u708e pneumonia \u4e2d\u6587 [MASK] literal special token",
    "",
    "an ultrasound image of the liver",
    "Patient \U0001F60A stable; \u03b1-fetoprotein and \u03b22-microglobulin normal",
]


def _onnx_export(module, args, path, input_names, output_names, dynamic_axes):
    kwargs = dict(input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
                  opset_version=OPSET, do_constant_folding=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter, on every torch version
    with torch.no_grad():
        torch.onnx.export(module, args, path, **kwargs)


def _check_onnx(path):
    import onnx

    onnx.checker.check_model(path)
    return onnx.__version__


def golden_images(size, seed=1234):
    """Two smooth synthetic RGB pictures: exactly S x S, and a larger non-square one."""
    rng = np.random.RandomState(seed)

    def draw(w, h):
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        img = np.zeros((h, w, 3), np.float32)
        for c in range(3):
            fx, fy, ph = rng.uniform(1, 4), rng.uniform(1, 4), rng.uniform(0, 6.28)
            img[..., c] = 0.5 + 0.3 * np.sin(2 * np.pi * (fx * x / w + fy * y / h) + ph)
        for _ in range(4):
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.25) * min(w, h)
            blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
            img += blob[..., None] * rng.uniform(-0.4, 0.4, size=3)
        return Image.fromarray(np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8), "RGB")

    exact = draw(size, size)
    resized = draw(int(size * 1.7) + 3, size + size // 3 + 5)
    return exact, resized


def _round(vec, digits=7):
    return [float(f"{float(v):.{digits}g}") for v in vec]


def _cos(a, b):
    return float(F.cosine_similarity(torch.as_tensor(a)[None], torch.as_tensor(b)[None]).item())


def make_golden(model, tok, out_dir):
    size = model.cfg.vision.image_size
    texts = []
    with torch.no_grad():
        for t in GOLDEN_TEXTS:
            ids = tok.encode(t)
            emb = model.encode_text(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))[0]
            texts.append({"text": t, "cleaned": clean_text(t), "input_ids": ids, "embedding": _round(emb)})
        exact, resized = golden_images(size)
        exact.save(os.path.join(out_dir, "golden_exact.png"))
        resized.save(os.path.join(out_dir, "golden_resized.png"))
        images = []
        for name, kind in (("golden_exact.png", "exact"), ("golden_resized.png", "resized")):
            from .image import load_rgb

            img = load_rgb(os.path.join(out_dir, name))
            x = preprocess(img, size)
            emb = model.encode_image(x[None])[0]
            images.append({"file": name, "kind": kind, "width": img.size[0], "height": img.size[1],
                           "pixel_values_sum": float(f"{float(x.double().sum()):.9g}"), "embedding": _round(emb)})
    return {"texts": texts, "images": images}


def check_golden(model, golden):
    """Consistency of golden.json with a fresh PyTorch forward (padded batch: also checks padding invariance)."""
    ids = [t["input_ids"] for t in golden["texts"]]
    n = max(len(i) for i in ids)
    batch = torch.tensor([i + [0] * (n - len(i)) for i in ids])
    mask = torch.tensor([[1] * len(i) + [0] * (n - len(i)) for i in ids])
    with torch.no_grad():
        emb = model.encode_text(batch, mask)
    worst = min(_cos(e, t["embedding"]) for e, t in zip(emb, golden["texts"]))
    return worst


def default_model_card(model_id, cfg, ckpt_name, ckpt_sha):
    return f"""# Model card: {model_id}

## What the weights are
UniMed-CLIP-architecture weights exported from `{ckpt_name}` (sha256 `{ckpt_sha}`) by `training.export`.
Image tower: ViT (image {cfg.vision.image_size}, patch {cfg.vision.patch_size}, width {cfg.vision.width},
{cfg.vision.layers} layers); text tower: BERT (hidden {cfg.text.hidden_size}, {cfg.text.layers} layers,
vocabulary {cfg.text.vocab_size}); embedding dimension {cfg.embed_dim}.

## Training data
As documented by the checkpoint's authors (UniMed: public medical image-text datasets). Not retrained here.

## Licence
That of the checkpoint (see its source). Exported files follow the same licence.

## Intended use
{DEFAULT_INTENDED_USE}

## Known limits
ftfy's mojibake repair is not reproduced by the text cleaning (`unimed-clean-v1`); image resizing in the service
may differ slightly from PIL's bicubic filter (tolerance in `model.json` `golden`).
"""


def export(checkpoint, vocab, out_dir, model_id=None, prompt_sets=None, model_card=None, evaluation=None,
           intended_use=None, quantize=None, reduce_range=False):
    os.makedirs(out_dir, exist_ok=True)
    model = load_model(checkpoint)
    cfg = model.cfg
    tok = BertTokenizer(vocab, context_length=CONTEXT_LENGTH)
    if max(tok.vocab.values()) >= cfg.text.vocab_size:
        raise SystemExit(f"vocab has ids up to {max(tok.vocab.values())} but the model has {cfg.text.vocab_size}")
    if CONTEXT_LENGTH > cfg.text.max_positions:
        raise SystemExit(f"context length {CONTEXT_LENGTH} exceeds the model's {cfg.text.max_positions} positions")
    model_id = model_id or os.path.basename(os.path.normpath(out_dir))
    ckpt_sha = sha256_file(checkpoint)

    s = cfg.vision.image_size
    img_path = os.path.join(out_dir, "image_encoder.onnx")
    txt_path = os.path.join(out_dir, "text_encoder.onnx")
    _onnx_export(ImageEncoderExport(model), (torch.randn(2, 3, s, s),), img_path, ["pixel_values"],
                 ["image_embeds"], {"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})
    ids, mask = tok.batch_tensors(["a chest x-ray", "an mri of the brain with a small lesion"])
    _onnx_export(TextEncoderExport(model), (ids, mask), txt_path, ["input_ids", "attention_mask"], ["text_embeds"],
                 {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                  "text_embeds": {0: "batch"}})
    onnx_version = _check_onnx(img_path)
    _check_onnx(txt_path)

    tok.write(out_dir)
    golden = make_golden(model, tok, out_dir)
    worst = check_golden(model, golden)
    if worst < TOLERANCES["text_min_cosine"]:
        raise SystemExit(f"golden texts not reproducible in a padded batch (cosine {worst})")
    with open(os.path.join(out_dir, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    tolerances, quantization = dict(TOLERANCES), None
    if quantize == "int8":
        from .quantize import quantize_dir

        tolerances, quantization = quantize_dir(out_dir, TOLERANCES, s, reduce_range)
    elif quantize is not None:
        raise SystemExit(f"unknown quantization {quantize!r} (known: int8)")

    if prompt_sets:
        with open(prompt_sets, encoding="utf-8") as f:
            json.load(f)  # validate
        shutil.copyfile(prompt_sets, os.path.join(out_dir, "prompt_sets.json"))
    card_path = os.path.join(out_dir, "MODEL_CARD.md")
    if model_card:
        if os.path.abspath(model_card) != os.path.abspath(card_path):
            shutil.copyfile(model_card, card_path)
    else:
        with open(card_path, "w", encoding="utf-8") as f:
            f.write(default_model_card(model_id, cfg, os.path.basename(checkpoint), ckpt_sha))

    names = sorted(n for n in os.listdir(out_dir) if n != "model.json" and os.path.isfile(os.path.join(out_dir, n)))
    files = {n: sha256_file(os.path.join(out_dir, n)) for n in names}
    logit_scale = float(model.logit_scale.detach().exp().item())
    manifest = {
        "format_version": FORMAT_VERSION,
        "id": model_id,
        "embed_dim": cfg.embed_dim,
        "logit_scale": float(f"{logit_scale:.9g}"),
        "image": {"file": "image_encoder.onnx", "input": "pixel_values", "output": "image_embeds", "size": s,
                  "resize": RESIZE_RULE, "mean": list(MEAN), "std": list(STD)},
        "text": {"file": "text_encoder.onnx", "input_ids": "input_ids", "attention_mask": "attention_mask",
                 "output": "text_embeds", "tokenizer": "tokenizer.json", "cleaning": CLEANING,
                 "context_length": CONTEXT_LENGTH, "pad_id": tok.pad_id, "cls_id": tok.cls_id,
                 "sep_id": tok.sep_id, "unk_id": tok.unk_id},
        "files": files,
        "golden": {"file": "golden.json", **tolerances},
        "provenance": {"checkpoint_sha256": ckpt_sha, "exporter": f"training.export {__version__}",
                       "torch": torch.__version__.split("+")[0], "onnx": onnx_version, "opset": OPSET,
                       "exported_at": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
                       .isoformat().replace("+00:00", "Z")},
        "architecture": {"embed_dim": cfg.embed_dim,
                         "vision": {"image_size": s, "patch_size": cfg.vision.patch_size, "width": cfg.vision.width,
                                    "layers": cfg.vision.layers, "heads": cfg.vision.heads},
                         "text": {"vocab_size": cfg.text.vocab_size, "hidden_size": cfg.text.hidden_size,
                                  "layers": cfg.text.layers, "heads": cfg.text.heads,
                                  "max_positions": cfg.text.max_positions}},
        "intended_use": intended_use or DEFAULT_INTENDED_USE,
    }
    if quantization:
        manifest["quantization"] = quantization
    if evaluation:
        manifest["evaluation"] = evaluation
    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return manifest


def model_sha256(files):
    """The model sha256 of models/README.md: sha256 of sha256sum-format lines sorted by name."""
    text = "".join(f"{files[n]}  {n}\n" for n in sorted(files))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--vocab", required=True, help="BERT vocab.txt (one token a line)")
    p.add_argument("--out", required=True)
    p.add_argument("--id", default=None)
    p.add_argument("--prompt-sets", default=None, help="a prompt_sets.json to copy into the directory")
    p.add_argument("--model-card", default=None, help="MODEL_CARD.md to use instead of the generated one")
    p.add_argument("--evaluation", default=None, help="JSON file put into model.json as 'evaluation'")
    p.add_argument("--intended-use", default=None)
    p.add_argument("--quantize", default=None, choices=["int8"], help="dynamic int8 quantization of both encoders")
    p.add_argument("--reduce-range", action="store_true",
                   help="7-bit weights (for x86 CPUs without VNNI, whose u8 x s8 kernels can saturate)")
    a = p.parse_args(argv)
    evaluation = None
    if a.evaluation:
        with open(a.evaluation, encoding="utf-8") as f:
            evaluation = json.load(f)
    torch.manual_seed(0)
    m = export(a.checkpoint, a.vocab, a.out, a.id, a.prompt_sets, a.model_card, evaluation, a.intended_use,
               a.quantize, a.reduce_range)
    print(f"wrote {a.out}: id={m['id']} embed_dim={m['embed_dim']} model sha256={model_sha256(m['files'])}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
