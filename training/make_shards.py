"""Write a manifest's image-caption pairs as WebDataset tar shards, the layout UniMed-CLIP's data is stored in.

    python3 -m training.make_shards --manifest DATA.csv --out DIR --per-shard 5000 [--prefix shard]

Row i of the manifest becomes the sample KEY = i zero-padded to 9 digits: ``KEY.png``/``KEY.jpg`` (the image file's
own bytes; other formats are re-encoded as PNG from the RGB picture training would read), ``KEY.txt`` (the caption,
UTF-8) and, when the manifest has other columns, ``KEY.json`` (those columns). Shard k holds rows k*N .. k*N+N-1 in
manifest order as DIR/PREFIX-{k:05d}.tar; DIR/shards.json indexes them (wids format, with sample counts, so
training does not have to count them). The tar files are byte-reproducible (fixed mtime, owner and mode).
Prints the ``--train-shards`` pattern for training.train.
"""

import argparse
import io
import json
import math
import os
import sys
import tarfile

from .data import manifest_columns, read_manifest, read_table
from .image import load_rgb
from .shards import INDEX_NAME

KEEP_AS_IS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg"}


def image_member(path):
    """-> (extension, bytes) of an image file as it goes into a shard."""
    ext = KEEP_AS_IS.get(os.path.splitext(path)[1].lower())
    if ext:
        with open(path, "rb") as f:
            return ext, f.read()
    buf = io.BytesIO()
    load_rgb(path).save(buf, format="PNG")
    return "png", buf.getvalue()


def _add(tf, name, data):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o444
    tf.addfile(info, io.BytesIO(data))


def write_shards(rows, out, per_shard, prefix="shard", meta_columns=()):
    """rows: dicts with 'image' (a path) and 'caption' -> (shard paths, --train-shards pattern)."""
    if per_shard < 1:
        raise ValueError("--per-shard must be at least 1")
    if any(r.get("caption") is None for r in rows):
        raise ValueError("every row needs a caption (no caption column found; set --caption-column)")
    os.makedirs(out, exist_ok=True)
    n_shards = math.ceil(len(rows) / per_shard)
    paths, index = [], []
    for k in range(n_shards):
        name = f"{prefix}-{k:05d}.tar"
        path = os.path.join(out, name)
        lo, hi = k * per_shard, min(len(rows), (k + 1) * per_shard)
        with tarfile.open(path + ".tmp", "w", format=tarfile.USTAR_FORMAT) as tf:
            for i in range(lo, hi):
                key, r = f"{i:09d}", rows[i]
                ext, data = image_member(r["image"])
                _add(tf, f"{key}.{ext}", data)
                _add(tf, f"{key}.txt", r["caption"].encode("utf-8"))
                if meta_columns:
                    meta = {c: r[c] for c in meta_columns}
                    _add(tf, f"{key}.json", json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        os.replace(path + ".tmp", path)
        paths.append(path)
        index.append({"url": name, "nsamples": hi - lo, "filesize": os.path.getsize(path)})
    with open(os.path.join(out, INDEX_NAME), "w", encoding="utf-8") as f:
        json.dump({"__kind__": "wids-shard-index-v1", "wids_version": 1, "name": prefix, "shardlist": index}, f,
                  indent=1)
        f.write("\n")
    return paths, os.path.join(out, f"{prefix}-{{00000..{n_shards - 1:05d}}}.tar")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True, help="CSV/TSV with an image path and a caption column")
    p.add_argument("--out", required=True)
    p.add_argument("--per-shard", type=int, required=True, help="samples per shard")
    p.add_argument("--prefix", default="shard")
    p.add_argument("--image-column", default=None)
    p.add_argument("--caption-column", default=None)
    p.add_argument("--no-metadata", action="store_true", help="write no KEY.json of the other columns")
    a = p.parse_args(argv)
    try:
        rows = read_manifest(a.manifest, a.image_column, a.caption_column)
        columns = list(read_table(a.manifest)[0])
        ic, cc = manifest_columns(a.manifest, columns, a.image_column, a.caption_column)
        meta = [] if a.no_metadata else [c for c in columns if c not in (ic, cc)]
        paths, pattern = write_shards(rows, a.out, a.per_shard, a.prefix, meta)
    except (OSError, ValueError) as e:
        print(f"make_shards: {e}", file=sys.stderr)
        return 1
    print(f"wrote {len(rows)} samples in {len(paths)} shards", file=sys.stderr)
    print(pattern)
    return 0


if __name__ == "__main__":
    sys.exit(main())
