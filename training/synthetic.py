"""Procedurally drawn "medical-looking" images of six modalities, with or without a finding, for the demo.

    python3 -m training.synthetic --out DIR --per-class N --seed S

writes DIR/<modality>/<index>.png and DIR/labels.csv (path,modality,finding,caption; paths relative to DIR).
These are toy pictures: shapes, textures and noise. Nothing here is medical data.
"""

import argparse
import csv
import os
import sys

import numpy as np
from PIL import Image

MODALITIES = ["xray", "ct", "mri", "ultrasound", "histopathology", "fundus"]

# surface forms of each modality used in captions (the first is the label itself)
MODALITY_WORDS = {
    "xray": ["xray", "x-ray", "chest x-ray", "chest xray", "radiograph", "chest radiograph"],
    "ct": ["ct", "ct scan", "computed tomography", "axial ct", "ct slice"],
    "mri": ["mri", "brain mri", "magnetic resonance", "mri scan", "t2 mri"],
    "ultrasound": ["ultrasound", "sonogram", "ultrasound scan", "sonography", "us image"],
    "histopathology": ["histopathology", "histology slide", "pathology slide", "h&e stained tissue",
                       "microscopy of tissue"],
    "fundus": ["fundus", "retinal fundus", "fundus photograph", "retina photograph", "eye fundus"],
}
FINDING_WORDS = {
    "xray": ["a focal opacity", "consolidation", "a lung opacity"],
    "ct": ["a hypodense lesion", "a lesion", "a mass"],
    "mri": ["a hyperintense lesion", "a bright lesion", "hyperintensity"],
    "ultrasound": ["an anechoic cyst", "a cyst", "a dark cyst"],
    "histopathology": ["a tumor cluster", "carcinoma", "dense atypical nuclei"],
    "fundus": ["hemorrhages", "exudates", "bright spots"],
}
CAPTION_TEMPLATES_FINDING = [
    "a {m} image showing {f}.", "{m} with {f}.", "{m}: abnormal, {f}.", "an abnormal {m} with {f}.",
    "{f} seen on this {m}.", "a {m} of a patient with {f}, an abnormality.", "a medical {m} image with {f}.",
    "{m} scan showing {f}.",
]
CAPTION_TEMPLATES_NORMAL = [
    "a normal {m} image.", "{m} with no abnormality.", "{m}: normal study, no finding.",
    "an unremarkable {m}.", "a {m} without abnormality.", "a {m} of a healthy patient.",
    "a medical {m} image, normal.", "{m} scan, no abnormality.", "an example of a normal {m}.",
]

# prompt sets shipped with the demo (templates for the paper's zero-shot protocol)
MODALITY_TEMPLATES = ["a {} image.", "a medical {} image.", "an example of {}.", "a {} of a patient.",
                      "{} scan."]
FINDING_LABELS = [{"name": "normal", "text": "normal, no abnormality"},
                  {"name": "abnormal", "text": "abnormal, with an abnormality"}]
FINDING_TEMPLATES = ["a {} image.", "a medical image, {}.", "this scan is {}."]


def prompt_sets():
    return {"prompt_sets": {
        "modality": {"labels": list(MODALITIES), "templates": list(MODALITY_TEMPLATES),
                     "description": "imaging modality of the demo's synthetic images"},
        "finding": {"labels": [dict(x) for x in FINDING_LABELS], "templates": list(FINDING_TEMPLATES),
                    "description": "whether the synthetic image shows a drawn finding (toy task)"},
    }}


def corpus():
    """Every word the captions and prompt sets can use (for building the demo vocabulary)."""
    texts = []
    for m in MODALITIES:
        for mw in MODALITY_WORDS[m]:
            for t in CAPTION_TEMPLATES_NORMAL:
                texts.append(t.format(m=mw))
            for fw in FINDING_WORDS[m]:
                for t in CAPTION_TEMPLATES_FINDING:
                    texts.append(t.format(m=mw, f=fw))
        for t in MODALITY_TEMPLATES:
            texts.append(t.format(m))
    for lab in FINDING_LABELS:
        for t in FINDING_TEMPLATES:
            texts.append(t.format(lab["text"]))
    return texts


# ----------------------------------------------------------------------------------------------- drawing
def _grid(h, w):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return x / w, y / h  # 0..1


def _ellipse(x, y, cx, cy, rx, ry, soft=0.02):
    d = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
    return 1.0 / (1.0 + np.exp(np.clip((d - 1.0) / soft, -60.0, 60.0)))


def _blob(x, y, cx, cy, r):
    return np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))


def draw_xray(rng, h, w, finding):
    x, y = _grid(h, w)
    j = rng.uniform(-0.05, 0.05, 4)
    body = _ellipse(x, y, 0.5 + j[0], 0.55 + j[1], 0.46, 0.55, 0.05)
    lungs = _ellipse(x, y, 0.31 + j[0], 0.5 + j[1], 0.14, 0.3) + _ellipse(x, y, 0.69 + j[0], 0.5 + j[1], 0.14, 0.3)
    ribs = 0.08 * (np.sin(y * rng.uniform(25, 40) * np.pi) > 0.6) * lungs
    spine = _ellipse(x, y, 0.5 + j[0], 0.5, 0.05, 0.6, 0.1)
    img = 0.55 * body - 0.4 * lungs + 0.3 * spine + ribs + 0.1
    if finding:
        side = 0.31 if rng.rand() < 0.5 else 0.69
        img += rng.uniform(0.25, 0.45) * _blob(x, y, side + j[0] + rng.uniform(-0.05, 0.05),
                                                  0.5 + j[1] + rng.uniform(-0.15, 0.15), rng.uniform(0.04, 0.08))
    return img


def draw_ct(rng, h, w, finding):
    x, y = _grid(h, w)
    cx, cy = 0.5 + rng.uniform(-0.06, 0.06), 0.5 + rng.uniform(-0.06, 0.06)
    rx, ry = rng.uniform(0.36, 0.44), rng.uniform(0.28, 0.36)
    outer = _ellipse(x, y, cx, cy, rx, ry)
    inner = _ellipse(x, y, cx, cy, rx - 0.03, ry - 0.03)
    img = 0.45 * inner + 0.9 * (outer - inner)  # bright rim (bone/skin)
    img += 0.15 * _ellipse(x, y, cx - 0.12, cy, 0.12, 0.1) + 0.1 * _ellipse(x, y, cx + 0.14, cy + 0.05, 0.08, 0.08)
    img += 0.6 * _ellipse(x, y, cx, cy + ry - 0.09, 0.04, 0.04)  # vertebra
    if finding:
        img -= rng.uniform(0.25, 0.35) * _ellipse(x, y, cx + rng.uniform(-0.15, 0.15), cy + rng.uniform(-0.1, 0.1),
                                                  r := rng.uniform(0.04, 0.07), r)
    return img


def draw_mri(rng, h, w, finding):
    x, y = _grid(h, w)
    cx, cy = 0.5 + rng.uniform(-0.05, 0.05), 0.5 + rng.uniform(-0.05, 0.05)
    brain = _ellipse(x, y, cx, cy, rng.uniform(0.3, 0.38), rng.uniform(0.36, 0.44), 0.03)
    skull = _ellipse(x, y, cx, cy, 0.42, 0.48, 0.03) - _ellipse(x, y, cx, cy, 0.39, 0.45, 0.03)
    f1, f2 = rng.uniform(18, 30, 2)
    gyri = 0.5 + 0.5 * np.sin(f1 * x * np.pi + 3 * np.sin(f2 * y)) * np.cos(f2 * y * np.pi)
    ventricles = _ellipse(x, y, cx - 0.05, cy, 0.03, 0.1) + _ellipse(x, y, cx + 0.05, cy, 0.03, 0.1)
    img = brain * (0.35 + 0.25 * gyri) + 0.5 * skull + 0.35 * ventricles
    if finding:
        img += rng.uniform(0.35, 0.5) * _blob(x, y, cx + rng.uniform(-0.18, 0.18), cy + rng.uniform(-0.2, 0.2),
                                               rng.uniform(0.03, 0.05))
    return img


def draw_ultrasound(rng, h, w, finding):
    x, y = _grid(h, w)
    ax, ay = 0.5 + rng.uniform(-0.05, 0.05), rng.uniform(0.0, 0.08)
    r = np.sqrt((x - ax) ** 2 + (y - ay) ** 2)
    ang = np.arctan2(x - ax, y - ay)
    half = rng.uniform(0.5, 0.7)
    fan = (np.abs(ang) < half) & (r < rng.uniform(0.75, 0.9)) & (r > 0.08)
    speckle = rng.rayleigh(0.25, size=(h, w)).astype(np.float32)
    img = fan * (0.3 + 0.6 * speckle * np.exp(-r * 1.2))
    img += fan * 0.25 * (np.abs(np.sin(r * rng.uniform(8, 14) * np.pi)) > 0.95)
    if finding:
        cyst = _ellipse(x, y, ax + rng.uniform(-0.12, 0.12), ay + rng.uniform(0.35, 0.55),
                        rr := rng.uniform(0.06, 0.1), rr * rng.uniform(0.7, 1.0))
        img = img * (1 - 0.9 * cyst)
    return img


def draw_histopathology(rng, h, w, finding):
    x, y = _grid(h, w)
    base = np.stack([np.full((h, w), 0.93), np.full((h, w), 0.72), np.full((h, w), 0.82)], -1)
    stroma = 0.08 * np.sin(x * rng.uniform(10, 20) + np.sin(y * rng.uniform(5, 12)) * 2)[..., None]
    img = base - stroma * np.array([0.2, 1.0, 0.5])
    nuc = np.zeros((h, w), np.float32)
    n = rng.randint(25, 45)
    cxs, cys = rng.rand(n), rng.rand(n)
    rs = rng.uniform(0.012, 0.022, n)
    if finding:
        m = rng.randint(25, 40)
        ccx, ccy = rng.uniform(0.3, 0.7, 2)
        cxs = np.concatenate([cxs, ccx + rng.normal(0, 0.08, m)])
        cys = np.concatenate([cys, ccy + rng.normal(0, 0.08, m)])
        rs = np.concatenate([rs, rng.uniform(0.025, 0.035, m)])
    for cx, cy, r in zip(cxs, cys, rs):
        nuc = np.maximum(nuc, _ellipse(x, y, cx, cy, r, r * rng.uniform(0.7, 1.0), 0.1))
    purple = np.array([0.35, 0.15, 0.55])
    return img * (1 - nuc[..., None]) + purple * nuc[..., None]


def draw_fundus(rng, h, w, finding):
    x, y = _grid(h, w)
    cx, cy = 0.5 + rng.uniform(-0.04, 0.04), 0.5 + rng.uniform(-0.04, 0.04)
    disc = _ellipse(x, y, cx, cy, 0.45, 0.45 * w / h, 0.02)
    r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
    img = disc[..., None] * (np.array([0.85, 0.35, 0.12]) * (1.1 - 0.8 * r)[..., None])
    ox, oy = cx + rng.choice([-0.2, 0.2]), cy + rng.uniform(-0.05, 0.05)
    optic = _ellipse(x, y, ox, oy, 0.07, 0.08)
    img += optic[..., None] * np.array([0.4, 0.45, 0.2])
    ang = np.arctan2(y - oy, x - ox)
    vessels = np.zeros((h, w), np.float32)
    for a0 in rng.uniform(-np.pi, np.pi, 5):
        vessels += np.exp(-((np.sin(ang - a0 - 0.3 * np.sqrt((x - ox) ** 2 + (y - oy) ** 2) * 6)) ** 2) / 0.002)
    img -= (np.clip(vessels, 0, 1) * disc * (1 - optic))[..., None] * np.array([0.35, 0.2, 0.08])
    if finding:
        spots = np.zeros((h, w), np.float32)
        for _ in range(rng.randint(5, 12)):
            spots = np.maximum(spots, _ellipse(x, y, cx + rng.uniform(-0.28, 0.28), cy + rng.uniform(-0.28, 0.28),
                                               s := rng.uniform(0.012, 0.025), s, 0.1))
        color = np.array([0.95, 0.9, 0.4]) if rng.rand() < 0.5 else np.array([0.45, 0.05, 0.02])
        img = img * (1 - spots[..., None] * disc[..., None]) + (spots * disc)[..., None] * color
    return img


DRAW = {"xray": draw_xray, "ct": draw_ct, "mri": draw_mri, "ultrasound": draw_ultrasound,
        "histopathology": draw_histopathology, "fundus": draw_fundus}
GREY = {"xray", "ct", "mri", "ultrasound"}


def make_image(rng, modality, finding):
    h, w = int(rng.randint(96, 200)), int(rng.randint(96, 200))
    img = DRAW[modality](rng, h, w, finding).astype(np.float32)
    img = img * rng.uniform(0.75, 1.25) + rng.uniform(-0.08, 0.08)  # contrast / brightness
    img = img + rng.normal(0, rng.uniform(0.01, 0.06), size=img.shape).astype(np.float32)  # noise
    img = np.clip(img, 0, 1) ** rng.uniform(0.8, 1.25)  # gamma
    a = (img * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(a, "L" if a.ndim == 2 else "RGB")


def make_caption(rng, modality, finding):
    words = MODALITY_WORDS[modality]
    m = words[0] if rng.rand() < 0.5 else words[rng.randint(len(words))]  # the label word itself half the time
    if finding:
        f = FINDING_WORDS[modality][rng.randint(len(FINDING_WORDS[modality]))]
        return CAPTION_TEMPLATES_FINDING[rng.randint(len(CAPTION_TEMPLATES_FINDING))].format(m=m, f=f)
    return CAPTION_TEMPLATES_NORMAL[rng.randint(len(CAPTION_TEMPLATES_NORMAL))].format(m=m)


def generate(out_dir, per_class, seed, finding_rate=0.5):
    """Deterministic in (per_class, seed). Returns the rows of labels.csv."""
    rng = np.random.RandomState(seed)
    rows = []
    for modality in MODALITIES:
        os.makedirs(os.path.join(out_dir, modality), exist_ok=True)
    for i in range(per_class):
        for modality in MODALITIES:
            finding = int(rng.rand() < finding_rate)
            img = make_image(rng, modality, finding)
            rel = f"{modality}/{i:05d}.png"
            img.save(os.path.join(out_dir, rel))
            rows.append({"path": rel, "modality": modality, "finding": finding,
                         "caption": make_caption(rng, modality, finding)})
    with open(os.path.join(out_dir, "labels.csv"), "w", newline="", encoding="utf-8") as f:
        wr = csv.DictWriter(f, fieldnames=["path", "modality", "finding", "caption"])
        wr.writeheader()
        wr.writerows(rows)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    rows = generate(a.out, a.per_class, a.seed)
    print(f"wrote {len(rows)} images and labels.csv to {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
