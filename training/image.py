"""The evaluation image transform of models/README.md, with PIL (as the reference's torchvision transform)."""

import numpy as np
import torch
from PIL import Image

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
RESIZE_RULE = "shortest_side_bicubic_center_crop"


def load_rgb(path):
    with Image.open(path) as im:
        return im.convert("RGB")  # grey expanded, alpha dropped, no EXIF rotation


def resize_center_crop(img, size):
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short != size:  # torchvision Resize(size): shorter side -> size, longer side truncated
        new_long = int(size * long / short)
        new_w, new_h = (size, new_long) if w <= h else (new_long, size)
        img = img.resize((new_w, new_h), Image.BICUBIC)
    w, h = img.size
    top = int(round((h - size) / 2.0))  # Python round: half to even, as torchvision's center_crop
    left = int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def to_tensor(img, mean=MEAN, std=STD):
    a = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0  # HWC
    a = (a - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


def preprocess(img, size, mean=MEAN, std=STD):
    """PIL image (any mode/size) -> float32 CHW tensor."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    return to_tensor(resize_center_crop(img, size), mean, std)
