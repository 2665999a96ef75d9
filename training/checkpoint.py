"""Loading released UniMed-CLIP checkpoints (and our own training checkpoints) strictly."""

import hashlib

import torch

from .model import UniMedCLIP, config_from_state_dict

# buffers some transformers versions saved; they carry no information (arange) and are dropped
TOLERATED_EXTRA = ("text_encoder.transformer.embeddings.position_ids",)


class CheckpointError(ValueError):
    pass


def torch_load(path):
    kwargs = {"map_location": "cpu"}
    try:  # torch >= 2.4 has weights_only; our checkpoints hold only tensors, numbers, strings and dicts
        return torch.load(path, weights_only=False, **kwargs)
    except TypeError:
        return torch.load(path, **kwargs)


def extract_state_dict(obj):
    """Raw state dict or {"state_dict": ...}; strips a ``module.`` prefix; drops tolerated buffers."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint is a {type(obj).__name__}, expected a state dict")
    sd = {}
    for k, v in obj.items():
        if k.startswith("module."):
            k = k[len("module."):]
        if k in TOLERATED_EXTRA:
            continue
        sd[k] = v
    return sd


def check_keys(model, sd):
    expected = model.state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    wrong = sorted(k for k in set(sd) & set(expected) if tuple(sd[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append("missing keys: " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected keys: " + ", ".join(unexpected))
        if wrong:
            parts.append("shape mismatch: " + ", ".join(
                f"{k} {tuple(sd[k].shape)} != {tuple(expected[k].shape)}" for k in wrong))
        raise CheckpointError("checkpoint does not match the UniMed-CLIP layout: " + "; ".join(parts))


def model_from_state_dict(sd):
    cfg = config_from_state_dict(sd)
    model = UniMedCLIP(cfg)
    check_keys(model, sd)
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return model


def load_model(path):
    """Load a released checkpoint (or one written by training.train) -> (model in eval mode, state dict)."""
    sd = extract_state_dict(torch_load(path))
    model = model_from_state_dict(sd)
    model.eval()
    return model


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
