"""Checkpoint -> model directory (models/README.md).

    python3 -m training.export --checkpoint CKPT --vocab VOCAB.txt --out DIR [--id NAME]
        [--prompt-sets FILE] [--model-card FILE] [--evaluation FILE.json] [--intended-use TEXT]
        [--quantize int8|int8-static [--reduce-range]] [--overwrite]

A non-empty --out is refused unless --overwrite is given; then the files an earlier export wrote (model.json, the
files it lists, the names an export writes) are removed and everything else in the directory is left alone, unlisted.
model.json `files` lists exactly what this export wrote.

--quantize int8 rewrites both encoders with dynamic int8 quantization (training/quantize.py), int8-static with
static quantization (onnxruntime's fused int8 kernels) calibrated on synthetic images of another seed than the
held-out set's (training/quantize_static.py); golden.json stays the fp32 PyTorch reference and model.json `golden`
carries tolerances measured on the int8 graphs.
"""

import argparse
import datetime
import hashlib
import inspect
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

from . import __version__
from .checkpoint import CheckpointError, load_model, sha256_file
from .image import MEAN, RESIZE_RULE, STD, load_rgb, preprocess
from .model import ImageEncoderExport, TextEncoderExport
from .tokenizer import CLEANING, CONTEXT_LENGTH, BertTokenizer, clean_text
from .zeroshot import cosine

FORMAT_VERSION = 1
OPSET = 17
TOLERANCES = {"text_min_cosine": 0.99999, "image_exact_min_cosine": 0.99999, "image_resized_min_cosine": 0.999}
# every file an export can write (--quantize rewrites the two encoders in place)
EXPORT_FILES = ("model.json", "image_encoder.onnx", "text_encoder.onnx", "tokenizer.json", "tokenizer_config.json",
                "golden.json", "golden_exact.png", "golden_resized.png", "MODEL_CARD.md", "prompt_sets.json")

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


class ExportError(Exception):
    """An export that cannot go ahead; the CLI prints it and exits with status 1."""


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


def make_golden(model, tok, out_dir):
    """Writes golden_exact.png and golden_resized.png; -> golden.json's content (PyTorch's outputs)."""
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
    return min(cosine(e, t["embedding"]) for e, t in zip(emb, golden["texts"]))


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


def read_prompt_sets(path):
    """The bytes of a prompt_sets.json, refused when it is not JSON."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        json.loads(data.decode("utf-8"))
    except ValueError as e:
        raise ExportError(f"{path}: not a JSON file ({e})") from None
    return data


# ----------------------------------------------------------------------------------------------- the directory
def check_out_dir(out_dir, overwrite):
    """Refuses a directory that holds anything unless `overwrite`: an earlier export's leftovers would ship."""
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise ExportError(f"{out_dir} is not empty; pass --overwrite to replace an earlier export there "
                          "(only the files an export writes are removed)")


def previous_export_files(out_dir):
    """The files of an earlier export in `out_dir`: the names an export writes and those its model.json lists."""
    names = set(EXPORT_FILES)
    try:
        with open(os.path.join(out_dir, "model.json"), encoding="utf-8") as f:
            names.update(n for n in json.load(f)["files"] if isinstance(n, str) and os.path.basename(n) == n)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no model.json, or not one of ours: the known names only
    return sorted(n for n in names if os.path.isfile(os.path.join(out_dir, n)))


def remove_previous_export(out_dir):
    """Removes an earlier export's files, model.json first (a half-replaced directory never passes as a model);
    leaves everything else. -> the names removed."""
    os.makedirs(out_dir, exist_ok=True)
    names = sorted(previous_export_files(out_dir), key=lambda n: n != "model.json")
    for n in names:
        os.remove(os.path.join(out_dir, n))
    return names


# ----------------------------------------------------------------------------------------------- the steps
# export()'s steps, in order; those that write files return their names
def load_checked(checkpoint, vocab):
    """-> (model, tokenizer), refused when the vocabulary or the context length does not fit the model."""
    model = load_model(checkpoint)
    tok = BertTokenizer(vocab, context_length=CONTEXT_LENGTH)
    text = model.cfg.text
    if max(tok.vocab.values()) >= text.vocab_size:
        raise ExportError(f"vocab has ids up to {max(tok.vocab.values())} but the model has {text.vocab_size}")
    if CONTEXT_LENGTH > text.max_positions:
        raise ExportError(f"context length {CONTEXT_LENGTH} exceeds the model's {text.max_positions} positions")
    return model, tok


def write_encoders(model, tok, out_dir):
    """image_encoder.onnx and text_encoder.onnx (fp32), checked by onnx's checker."""
    s = model.cfg.vision.image_size
    img_path = os.path.join(out_dir, "image_encoder.onnx")
    txt_path = os.path.join(out_dir, "text_encoder.onnx")
    _onnx_export(ImageEncoderExport(model), (torch.randn(2, 3, s, s),), img_path, ["pixel_values"],
                 ["image_embeds"], {"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})
    ids, mask = tok.batch_tensors(["a chest x-ray", "an mri of the brain with a small lesion"])
    _onnx_export(TextEncoderExport(model), (ids, mask), txt_path, ["input_ids", "attention_mask"], ["text_embeds"],
                 {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                  "text_embeds": {0: "batch"}})
    _check_onnx(img_path)
    _check_onnx(txt_path)
    return ["image_encoder.onnx", "text_encoder.onnx"]


def write_tokenizer(tok, out_dir):
    tok.write(out_dir)
    return ["tokenizer.json", "tokenizer_config.json"]


def write_golden(model, tok, out_dir):
    """golden.json and its two PNGs, refused when the texts do not come out the same in a padded batch."""
    golden = make_golden(model, tok, out_dir)
    worst = check_golden(model, golden)
    if worst < TOLERANCES["text_min_cosine"]:
        raise ExportError(f"golden texts not reproducible in a padded batch (cosine {worst})")
    with open(os.path.join(out_dir, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    return ["golden.json", "golden_exact.png", "golden_resized.png"]


QUANTIZE_METHODS = {"int8": "dynamic", "int8-static": "static"}


def quantize_encoders(out_dir, method, image_size, reduce_range=False, calibration=None):
    """-> (model.json `golden` tolerances, its `quantization` or None). int8 / int8-static rewrite both encoders
    in place (no new file) and measure the tolerances on them; golden.json stays the fp32 reference."""
    if method is None:
        return dict(TOLERANCES), None
    if method not in QUANTIZE_METHODS:
        raise ValueError(f"unknown quantization {method!r} (known: {', '.join(QUANTIZE_METHODS)})")
    from .quantize import quantize_by

    return quantize_by(QUANTIZE_METHODS[method], out_dir, TOLERANCES, image_size, reduce_range, calibration)


def write_prompt_sets(out_dir, prompt_sets):
    """prompt_sets.json (the bytes given), when there are prompt sets."""
    if prompt_sets is None:
        return []
    with open(os.path.join(out_dir, "prompt_sets.json"), "wb") as f:
        f.write(prompt_sets)
    return ["prompt_sets.json"]


def write_card(out_dir, card):
    """MODEL_CARD.md (the bytes given)."""
    with open(os.path.join(out_dir, "MODEL_CARD.md"), "wb") as f:
        f.write(card)
    return ["MODEL_CARD.md"]


def make_manifest(model, tok, model_id, files, tolerances, ckpt_sha, quantization=None, evaluation=None,
                  intended_use=None):
    """model.json's content; `files` maps each file this export wrote to its sha256."""
    import onnx

    cfg, s = model.cfg, model.cfg.vision.image_size
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
                       "torch": torch.__version__.split("+")[0], "onnx": onnx.__version__, "opset": OPSET,
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
    return manifest


def write_manifest(out_dir, manifest):
    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------------------------- export
def export(checkpoint, vocab, out_dir, model_id=None, prompt_sets=None, model_card=None, evaluation=None,
           intended_use=None, quantize=None, reduce_range=False, overwrite=False, calibration=None):
    """Checkpoint -> model directory; -> model.json's content. Raises ExportError when it cannot go ahead.
    `calibration`: int8-static's options (training.quantize_static.static_quantize_dir keywords)."""
    if quantize is not None and quantize not in QUANTIZE_METHODS:
        raise ValueError(f"unknown quantization {quantize!r} (known: {', '.join(QUANTIZE_METHODS)})")
    check_out_dir(out_dir, overwrite)
    model, tok = load_checked(checkpoint, vocab)
    model_id = model_id or os.path.basename(os.path.normpath(out_dir))
    ckpt_sha = sha256_file(checkpoint)
    # the inputs are read before the directory is cleared: they may be files of the earlier export
    prompts = read_prompt_sets(prompt_sets) if prompt_sets else None
    if model_card:
        with open(model_card, "rb") as f:
            card = f.read()
    else:
        card = default_model_card(model_id, model.cfg, os.path.basename(checkpoint), ckpt_sha).encode("utf-8")

    remove_previous_export(out_dir)
    written = write_encoders(model, tok, out_dir)
    written += write_tokenizer(tok, out_dir)
    written += write_golden(model, tok, out_dir)
    tolerances, quantization = quantize_encoders(out_dir, quantize, model.cfg.vision.image_size, reduce_range,
                                                 calibration)
    written += write_prompt_sets(out_dir, prompts)
    written += write_card(out_dir, card)
    files = {n: sha256_file(os.path.join(out_dir, n)) for n in sorted(written)}
    manifest = make_manifest(model, tok, model_id, files, tolerances, ckpt_sha, quantization, evaluation,
                             intended_use)
    write_manifest(out_dir, manifest)
    return manifest


def model_sha256(files):
    """The model sha256 of models/README.md: sha256 of sha256sum-format lines sorted by name."""
    text = "".join(f"{files[n]}  {n}\n" for n in sorted(files))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def main(argv=None):
    from .quantize import add_calibration_arguments, calibration_kwargs

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--vocab", required=True, help="BERT vocab.txt (one token a line)")
    p.add_argument("--out", required=True, help="the model directory: new or empty (or see --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier export in --out: its files are removed, other files are left unlisted")
    p.add_argument("--id", default=None)
    p.add_argument("--prompt-sets", default=None, help="a prompt_sets.json to copy into the directory")
    p.add_argument("--model-card", default=None, help="MODEL_CARD.md to use instead of the generated one")
    p.add_argument("--evaluation", default=None, help="JSON file put into model.json as 'evaluation'")
    p.add_argument("--intended-use", default=None)
    p.add_argument("--quantize", default=None, choices=sorted(QUANTIZE_METHODS),
                   help="int8: dynamic int8 quantization of both encoders; int8-static: static (calibrated ranges, fused int8 kernels)")
    p.add_argument("--reduce-range", action="store_true",
                   help="7-bit weights (for x86 CPUs without VNNI, whose u8 x s8 kernels can saturate)")
    add_calibration_arguments(p)
    a = p.parse_args(argv)
    try:
        evaluation = None
        if a.evaluation:
            with open(a.evaluation, encoding="utf-8") as f:
                evaluation = json.load(f)
        torch.manual_seed(0)
        m = export(a.checkpoint, a.vocab, a.out, a.id, a.prompt_sets, a.model_card, evaluation, a.intended_use,
                   a.quantize, a.reduce_range, a.overwrite, calibration_kwargs(a))
    except (ExportError, CheckpointError, FileNotFoundError) as e:
        print(f"training.export: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {a.out}: id={m['id']} embed_dim={m['embed_dim']} model sha256={model_sha256(m['files'])}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
