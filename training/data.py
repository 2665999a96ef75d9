"""Image-text manifests (CSV/TSV) and a deterministic, resumable, rank-aware batch order."""

import csv
import os

import torch

from .image import load_rgb, preprocess

IMAGE_COLUMNS = ("path", "image", "filepath", "file", "image_path")
CAPTION_COLUMNS = ("caption", "text", "title")


def manifest_columns(path, cols, image_column=None, caption_column=None):
    """-> (image column, caption column or None) of a manifest with these columns."""
    ic = image_column or next((c for c in IMAGE_COLUMNS if c in cols), None)
    cc = caption_column or next((c for c in CAPTION_COLUMNS if c in cols), None)
    if ic is None or ic not in cols:
        raise ValueError(f"{path}: no image column (tried {IMAGE_COLUMNS}); columns: {list(cols)}")
    return ic, cc


def read_table(path):
    """-> the rows of a CSV (TSV if the file says so) as dicts."""
    with open(path, newline="", encoding="utf-8") as f:
        head = f.readline()
        f.seek(0)
        delim = "\t" if (path.endswith(".tsv") or ("\t" in head and "," not in head)) else ","
        rows = list(csv.DictReader(f, delimiter=delim))
    if not rows:
        raise ValueError(f"{path}: empty manifest")
    return rows


def read_manifest(path, image_column=None, caption_column=None):
    """-> list of dict rows, with 'image' (absolute path) and 'caption' added."""
    rows = read_table(path)
    ic, cc = manifest_columns(path, list(rows[0].keys()), image_column, caption_column)
    root = os.path.dirname(os.path.abspath(path))
    for r in rows:
        r["image"] = r[ic] if os.path.isabs(r[ic]) else os.path.join(root, r[ic])
        if cc is not None:
            r["caption"] = r[cc]
    return rows


class ImageTextDataset:
    def __init__(self, rows, image_size, tokenizer=None, cache=False):
        self.rows, self.size, self.tok, self.cache = rows, image_size, tokenizer, {} if cache else None

    def __len__(self):
        return len(self.rows)

    def image(self, i):
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        x = preprocess(load_rgb(self.rows[i]["image"]), self.size)
        if self.cache is not None:
            self.cache[i] = x
        return x

    def __getitem__(self, i):
        return self.image(i), self.tok.encode(self.rows[i]["caption"])


def collate(items, pad_id=0):
    images = torch.stack([it[0] for it in items])
    n = max(len(it[1]) for it in items)
    ids = torch.full((len(items), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), n), dtype=torch.long)
    for j, (_, seq) in enumerate(items):
        ids[j, : len(seq)] = torch.tensor(seq)
        mask[j, : len(seq)] = 1
    return images, ids, mask


def load_images(rows, size):
    return torch.stack([preprocess(load_rgb(r["image"]), size) for r in rows])


class BatchOrder:
    """The data order is a pure function of (seed, epoch, position): resuming at micro-step k is exact.

    Every micro-step consumes ``global_batch`` samples of the epoch's permutation (the last partial batch is
    dropped); rank r of w takes the r-th of w equal slices, so N ranks see the same global batch as 1 rank.
    ``shuffle=False``: the manifest's own order, every epoch.
    """

    def __init__(self, n, global_batch, seed, rank=0, world=1, shuffle=True):
        if global_batch % world:
            raise ValueError(f"global batch {global_batch} is not divisible by world size {world}")
        if n < global_batch:
            raise ValueError(f"dataset of {n} is smaller than one global batch of {global_batch}")
        self.n, self.gb, self.seed, self.rank, self.world, self.shuffle = n, global_batch, seed, rank, world, shuffle
        self.per_epoch = n // global_batch
        self._perm_epoch, self._perm = None, None

    def indices(self, micro_step):
        epoch, pos = divmod(micro_step, self.per_epoch)
        if self._perm_epoch != epoch:
            g = torch.Generator()
            g.manual_seed(self.seed * 100003 + epoch)
            perm = torch.randperm(self.n, generator=g).tolist() if self.shuffle else list(range(self.n))
            self._perm, self._perm_epoch = perm, epoch
        start = pos * self.gb
        local = self.gb // self.world
        return epoch, self._perm[start + self.rank * local: start + (self.rank + 1) * local]


class ManifestBatches:
    """Training batches from a manifest by micro-step number (same interface as shards.ShardBatches)."""

    def __init__(self, rows, global_batch, rank, world, image_size, tok, seed=0, shuffle=True, cache=False):
        self.ds, self.tok = ImageTextDataset(rows, image_size, tok, cache=cache), tok
        self.order = BatchOrder(len(rows), global_batch, seed, rank, world, shuffle)
        self.per_epoch = self.order.per_epoch

    def get(self, micro_step):
        """-> (epoch, images, ids, mask)"""
        epoch, idx = self.order.indices(micro_step)
        return (epoch, *collate([self.ds[i] for i in idx], self.tok.pad_id))
