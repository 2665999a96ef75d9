"""Out-of-distribution image sources assembled from what Debian packages ship (and procedural patterns).

    python3 -m training.ood_sources [--cache bench/.cache/ood] [--offline]

Downloads the packages below with `apt-get download` into CACHE/debs (no installation), unpacks them with
`dpkg -x` into CACHE/x, and writes every selected picture as an RGB PNG (transparency composited on white, the
shorter side brought down to at most 224 px) to CACHE/images/<source>/, with CACHE/manifest.csv:
source, role, kind, package, version, path (inside the package, or the recipe), licence (the package's
copyright file's License: names), file (relative to CACHE). Nothing downloaded is committed (bench/.cache/ is
git-ignored); the selection is deterministic (sorted paths, seeded sampling), so CI rebuilds the same sets.

Roles: `fit` sources may be used for training (outlier exposure) and for fitting thresholds; `eval` sources are
only ever used for the reported figures (split by source, not by image); `medical` are real medical sample
pictures that a package ships (skimage's retina photographs, IHC and cell micrographs, the Shepp-Logan phantom):
never in a non-medical set, only reported apart.
"""

import argparse
import csv
import glob
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Image.MAX_IMAGE_PIXELS = None  # package artwork (a few wallpapers and clip art exceed the bomb check), not uploads

PACKAGES = ["python3-skimage", "mate-backgrounds", "gnome-backgrounds", "desktop-base", "plasma-workspace-wallpapers",
            "xfdesktop4-data", "ukui-wallpapers", "lomiri-wallpapers", "adwaita-icon-theme", "tango-icon-theme",
            "gimp-help-en", "python3-matplotlib", "fonts-dejavu-core", "openclipart-png", "extremetuxracer-data",
            "frozen-bubble-data"]
MAX_SIDE = 224
SEED = 23

SKIMAGE = "usr/lib/python3/dist-packages/skimage/data/"
SKIMAGE_MEDICAL = {"retina.jpg": "retina fundus photograph", "microaneurysms.png": "retina fundus detail",
                   "ihc.png": "immunohistochemistry micrograph", "cell.png": "cell micrograph",
                   "phantom.png": "Shepp-Logan CT phantom"}
SKIMAGE_PHOTOS = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "hubble_deep_field.jpg",
                  "moon.png", "motorcycle_left.png", "motorcycle_right.png", "rocket.jpg", "grass.png", "gravel.png",
                  "brick.png", "clock_motion.png", "color.png"]
SKIMAGE_DOCUMENTS = ["page.png", "text.png", "bw_text.png"]


def licence(cache, pkg):
    path = os.path.join(cache, "x", pkg, "usr/share/doc", pkg, "copyright")
    if not os.path.exists(path):
        return "see the package's copyright file"
    with open(path, encoding="utf-8", errors="replace") as f:
        names = sorted({m.group(1).strip() for m in re.finditer(r"^License:\s*(\S.*)$", f.read(), re.M)})
    return "; ".join(names) or "see the package's copyright file"


def fetch(cache, offline):
    debs = os.path.join(cache, "debs")
    os.makedirs(debs, exist_ok=True)
    versions = {}
    for pkg in PACKAGES:
        found = glob.glob(os.path.join(debs, f"{pkg}_*.deb"))
        if not found:
            if offline:
                raise SystemExit(f"{pkg}: not in {debs} and --offline")
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True, stdout=subprocess.DEVNULL)
            found = glob.glob(os.path.join(debs, f"{pkg}_*.deb"))
        deb = sorted(found)[-1]
        versions[pkg] = os.path.basename(deb).split("_")[1].replace("%3a", ":")
        dest = os.path.join(cache, "x", pkg)
        if not os.path.isdir(dest):
            os.makedirs(dest)
            subprocess.run(["dpkg", "-x", deb, dest], check=True)
    return versions


def to_rgb(img):
    if img.mode in ("P", "LA", "PA") or (img.mode == "RGBA") or "transparency" in img.info:
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    img = img.convert("RGB")
    w, h = img.size
    if min(w, h) > MAX_SIDE:
        s = MAX_SIDE / min(w, h)
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BICUBIC)
    return img


def sample(paths, n, seed):
    paths = sorted(paths)
    if len(paths) <= n:
        return paths
    rng = np.random.RandomState(seed)
    return sorted(paths[i] for i in rng.choice(len(paths), n, replace=False))


def package_files(cache, pkg, patterns, min_side=64):
    root = os.path.join(cache, "x", pkg)
    out = []
    for pat in patterns:
        for p in glob.glob(os.path.join(root, pat), recursive=True):
            if not re.search(r"\.(png|jpe?g|webp)$", p, re.I) or not os.path.isfile(p):
                continue
            try:
                with Image.open(p) as im:
                    if min(im.size) < min_side:
                        continue
            except Exception:
                continue
            out.append(os.path.relpath(p, root))
    return sorted(set(out))


def selections(cache):
    """-> list of (source, role, kind, package, [paths inside the package]) for package pictures."""
    sel = [
        ("photographs", "eval", "natural photographs", "python3-skimage", [SKIMAGE + f for f in SKIMAGE_PHOTOS]),
        ("photographs", "eval", "natural photographs", "mate-backgrounds",
         package_files(cache, "mate-backgrounds", ["usr/share/backgrounds/mate/nature/*",
                                                   "usr/share/backgrounds/mate/abstract/Elephants.jpg"])),
        ("documents", "eval", "scanned text pages", "python3-skimage", [SKIMAGE + f for f in SKIMAGE_DOCUMENTS]),
        ("gimp-help", "eval", "documentation screenshots and filter examples", "gimp-help-en",
         sample(package_files(cache, "gimp-help-en", ["usr/share/gimp/2.0/help/en/images/dialogs/**/*",
                                                      "usr/share/gimp/2.0/help/en/images/filters/examples/*"],
                              min_side=80), 120, SEED)),
        ("charts", "eval", "plots (matplotlib's test baseline images)", "python3-matplotlib",
         sample(package_files(cache, "python3-matplotlib", ["usr/lib/python3/dist-packages/**/baseline_images/**/*"]),
                80, SEED)),
        ("medical-samples", "medical", "medical sample pictures (kept out of the non-medical sets)", "python3-skimage",
         [SKIMAGE + f for f in SKIMAGE_MEDICAL]),
    ]
    for pkg, pats in [("gnome-backgrounds", ["usr/share/backgrounds/gnome/*"]),
                      ("desktop-base", ["usr/share/desktop-base/*-theme/**/*"]),
                      ("xfdesktop4-data", ["usr/share/backgrounds/xfce/*"]),
                      ("ukui-wallpapers", ["usr/share/backgrounds/*"]),
                      ("lomiri-wallpapers", ["usr/share/backgrounds/*"])]:
        sel.append(("wallpapers", "fit", "desktop backgrounds", pkg, package_files(cache, pkg, pats, 200)))
    plasma = []
    for d in sorted(glob.glob(os.path.join(cache, "x/plasma-workspace-wallpapers/usr/share/wallpapers/*/contents"))):
        for sub in ("images", "images_dark"):
            fs = package_files(cache, "plasma-workspace-wallpapers",
                               [os.path.relpath(os.path.join(d, sub, "*"), os.path.join(cache, "x/plasma-workspace-wallpapers"))])
            if fs:  # the smallest rendering of each wallpaper (they differ only in size)
                plasma.append(min(fs, key=lambda f: os.path.getsize(os.path.join(cache, "x/plasma-workspace-wallpapers", f))))
    sel.append(("wallpapers", "fit", "desktop backgrounds", "plasma-workspace-wallpapers", plasma))
    sel.append(("icons", "fit", "icons", "adwaita-icon-theme",
                package_files(cache, "adwaita-icon-theme", ["usr/share/icons/Adwaita/512x512/**/*",
                                                            "usr/share/icons/Adwaita/256x256/**/*"], 32)))
    sel.append(("icons", "fit", "icons", "tango-icon-theme",
                sample(package_files(cache, "tango-icon-theme", ["usr/share/icons/Tango/32x32/**/*"], 32), 100, SEED)))
    sel.append(("clipart", "fit", "clip art", "openclipart-png",
                sample(package_files(cache, "openclipart-png", ["usr/share/openclipart/png/**/*"]), 200, SEED)))
    sel.append(("game-art", "fit", "game textures and sprites", "extremetuxracer-data",
                package_files(cache, "extremetuxracer-data", ["usr/share/games/etr/**/*"])))
    sel.append(("game-art", "fit", "game textures and sprites", "frozen-bubble-data",
                sample(package_files(cache, "frozen-bubble-data", ["usr/share/games/frozen-bubble/gfx/*",
                                                                   "usr/share/games/frozen-bubble/gfx/menu/*"]), 80, SEED)))
    return sel


# ------------------------------------------------------------------------------------- generated sources
def text_pages(cache, n, seed):
    """Pages of Debian's licence texts (base-files' /usr/share/common-licenses) set in DejaVu fonts."""
    fonts = sorted(glob.glob(os.path.join(cache, "x/fonts-dejavu-core/usr/share/fonts/truetype/dejavu/*.ttf")))
    texts = sorted(glob.glob("/usr/share/common-licenses/*"))
    rng = np.random.RandomState(seed)
    for i in range(n):
        path = texts[rng.randint(len(texts))]
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [ln for para in f.read().split("\n") for ln in (textwrap.wrap(para, 70) or [""])]
        size = int(rng.randint(11, 20))
        font = ImageFont.truetype(fonts[rng.randint(len(fonts))], size)
        w, h = int(rng.randint(500, 850)), int(rng.randint(650, 1100))
        img = Image.new("RGB", (w, h), tuple(int(v) for v in rng.randint(235, 256, 3)))
        d = ImageDraw.Draw(img)
        start = rng.randint(max(1, len(lines) - 10))
        y, margin = int(rng.randint(20, 60)), int(rng.randint(20, 60))
        ink = tuple(int(v) for v in rng.randint(0, 60, 3))
        for ln in lines[start:]:
            if y > h - margin:
                break
            d.text((margin, y), ln, fill=ink, font=font)
            y += int(size * 1.35)
        yield f"/usr/share/common-licenses/{os.path.basename(path)} (page {i})", img


def patterns(n, seed):
    """Procedural non-medical patterns: checkerboards, stripes, gradients, coloured noise, rings, tiles."""
    rng = np.random.RandomState(seed)
    kinds = ["checker", "stripes", "gradient", "noise", "rings", "tiles", "plaid", "dots"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        h, w = int(rng.randint(96, 300)), int(rng.randint(96, 300))
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        c1, c2 = rng.rand(3), rng.rand(3)
        if kind == "checker":
            s = rng.randint(4, 40)
            m = ((x // s + y // s) % 2)[..., None]
        elif kind == "stripes":
            a, f = rng.uniform(0, np.pi), rng.uniform(0.05, 0.5)
            m = (np.sin((x * np.cos(a) + y * np.sin(a)) * f) > 0)[..., None].astype(np.float32)
        elif kind == "gradient":
            a = rng.uniform(0, 2 * np.pi)
            v = x * np.cos(a) + y * np.sin(a)
            m = ((v - v.min()) / (np.ptp(v) + 1e-6))[..., None]
        elif kind == "noise":
            m = rng.rand(h, w, 3).astype(np.float32)
        elif kind == "rings":
            r = np.hypot(x - rng.uniform(0, w), y - rng.uniform(0, h))
            m = (0.5 + 0.5 * np.sin(r * rng.uniform(0.1, 0.6)))[..., None]
        elif kind == "tiles":
            s = rng.randint(8, 48)
            cells = rng.rand(h // s + 1, w // s + 1, 3)
            m = cells[(y // s).astype(int), (x // s).astype(int)]
        elif kind == "plaid":
            m = (0.5 + 0.25 * np.sin(x * rng.uniform(0.05, 0.4)) + 0.25 * np.sin(y * rng.uniform(0.05, 0.4)))[..., None]
        else:
            s = rng.randint(10, 40)
            m = (np.hypot(x % s - s / 2, y % s - s / 2) < s * rng.uniform(0.15, 0.45))[..., None].astype(np.float32)
        img = c1 * (1 - m) + c2 * m
        yield f"procedural:{kind} seed {seed} #{i}", Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))


def build(cache, offline=False):
    versions = fetch(cache, offline)
    rows = []

    def put(source, role, kind, pkg, where, img):
        rel = os.path.join("images", source, f"{len([r for r in rows if r['source'] == source]):04d}.png")
        os.makedirs(os.path.join(cache, "images", source), exist_ok=True)
        to_rgb(img).save(os.path.join(cache, rel))
        rows.append({"source": source, "role": role, "kind": kind, "package": pkg,
                     "version": versions.get(pkg, ""), "path": where,
                     "licence": licence(cache, pkg) if pkg in versions else "", "file": rel})

    for source, role, kind, pkg, paths in selections(cache):
        for p in paths:
            with Image.open(os.path.join(cache, "x", pkg, p)) as im:
                put(source, role, kind, pkg, "/" + p, im)
    for where, img in text_pages(cache, 100, SEED):
        put("documents", "eval", "text pages rendered from licence texts (DejaVu fonts)", "fonts-dejavu-core", where, img)
    for where, img in patterns(200, SEED):
        put("patterns", "fit", "procedural patterns (numpy, seeded)", "", where, img)
    with open(os.path.join(cache, "manifest.csv"), "w", newline="", encoding="utf-8") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    return rows


def read(cache):
    with open(os.path.join(cache, "manifest.csv"), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", default="bench/.cache/ood")
    p.add_argument("--offline", action="store_true", help="use only the .deb files already in CACHE/debs")
    a = p.parse_args(argv)
    rows = build(a.cache, a.offline)
    counts = {}
    for r in rows:
        counts[(r["source"], r["role"])] = counts.get((r["source"], r["role"]), 0) + 1
    for (s, role), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{role:8s} {s:16s} {n:4d}", file=sys.stderr)
    small = [s for (s, role), n in counts.items() if n < 20 and role != "medical"]
    if small:
        print(f"sources with fewer than 20 images: {small}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
