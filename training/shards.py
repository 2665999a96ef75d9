"""WebDataset tar shards read with plain ``tarfile``: shard patterns, sample counts, and each rank's batch stream.

Layout (webdataset's): consecutive tar members that share a key (the member name up to the first dot of its last
path component) are one sample: ``KEY.png``/``KEY.jpg``/``KEY.jpeg`` the image, ``KEY.txt`` the caption, optionally
``KEY.json`` (ignored by training) and others. ``training.make_shards`` writes them, plus a ``shards.json`` index
(wids format: ``shardlist`` of ``{url, nsamples, filesize}``); shards without a matching index entry are counted
by reading their tar headers.

How an epoch is split, for any number of shards, R ranks and W data-loader workers per rank (no divisibility rule):

1. the shards are put in the epoch's order (a seeded shuffle, or as listed with ``shuffle=False``) and read as one
   sequence of N samples;
2. an epoch is S = N // B steps of the global batch B = R * b; it uses the first S * B samples of that sequence, and
   the remaining N - S * B (fewer than B; other ones each epoch when shuffling) sit this epoch out, so every rank
   runs exactly S steps (DDP needs that) and no sample is used twice;
3. rank r owns the contiguous range [r S b, (r+1) S b); its batches i = 0..S-1 are dealt to L = max(1, W) streams
   (stream v makes the batches i = v mod L) and stream v reads the next contiguous piece of the rank's range,
   shuffled through a seeded buffer; the DataLoader's round-robin over its workers then returns batch i from
   worker i mod L.

The order is a function of (seed, epoch, R, W): resuming at any step is exact (each stream fast-forwards through
its part of the epoch without decoding images), and a resume with other R or W still covers the rest of the epoch,
in another order.
"""

import glob
import io
import json
import os
import posixpath
import random
import re
import tarfile

import torch
from PIL import Image

from .data import collate
from .image import preprocess

IMAGE_EXTS = ("png", "jpg", "jpeg")
INDEX_NAME = "shards.json"


# ----------------------------------------------------------------------------------------------- patterns
def expand_braces(pattern):
    """``a-{000..011}.tar`` (zero-padded ranges) and ``{a,b}`` lists, as the shell and webdataset expand them."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    body, head, tail = m.group(1), pattern[:m.start()], pattern[m.end():]
    r = re.fullmatch(r"(\d+)\.\.(\d+)", body)
    if r:
        a, b = r.group(1), r.group(2)
        if int(a) > int(b):
            raise ValueError(f"{pattern}: descending range {{{body}}}")
        width = max(len(a), len(b)) if a.startswith("0") or b.startswith("0") else 0
        items = [str(i).zfill(width) for i in range(int(a), int(b) + 1)]
    elif "," in body:
        items = body.split(",")
    else:
        raise ValueError(f"{pattern}: cannot expand {{{body}}} (use {{000..123}} or {{a,b}})")
    return [p for it in items for p in expand_braces(head + it + tail)]


def shard_paths(spec):
    """Shard files of a spec: patterns separated by ``::``, each with brace ranges and/or glob wildcards."""
    paths = []
    for pattern in spec.split("::"):
        for p in expand_braces(pattern.strip()):
            if any(c in p for c in "*?["):
                found = sorted(glob.glob(p))
                if not found:
                    raise FileNotFoundError(f"no shard matches {p}")
                paths += found
            elif os.path.isfile(p):
                paths.append(p)
            else:
                raise FileNotFoundError(f"no such shard: {p}")
    if not paths:
        raise FileNotFoundError(f"no shards in {spec!r}")
    return paths


# ----------------------------------------------------------------------------------------------- reading tar files
def split_name(name):
    """tar member name -> (sample key, extension in lower case)."""
    d, base = posixpath.split(name)
    key, _, ext = base.partition(".")
    return posixpath.join(d, key), ext.lower()


def _groups(tf):
    """(key, members) of consecutive regular files sharing a key; iterating reads tar headers only."""
    key, members = None, []
    for m in tf:
        if not m.isfile():
            continue
        k = split_name(m.name)[0]
        if members and k != key:
            yield key, members
            members = []
        key = k
        members.append(m)
    if members:
        yield key, members


def count_samples(path):
    with tarfile.open(path, "r:*") as tf:
        return sum(1 for _ in _groups(tf))


def read_samples(path, skip=0, take=None):
    """Samples skip .. skip+take-1 of a shard as ``{"__key__": key, ext: bytes}``; skipped ones are not read."""
    n = 0
    with tarfile.open(path, "r:*") as tf:
        for i, (key, members) in enumerate(_groups(tf)):
            if i < skip:
                continue
            if take is not None and n == take:
                return
            sample = {"__key__": key}
            for m in members:
                sample[split_name(m.name)[1]] = tf.extractfile(m).read()
            n += 1
            yield sample
    if take is not None and n < take:
        raise ValueError(f"{path}: {skip + n} samples, expected at least {skip + take} (stale {INDEX_NAME}?)")


def shard_sizes(paths):
    """Samples per shard: from a ``shards.json`` beside the shard when it lists it with the same file size."""
    indexes, sizes = {}, []
    for p in paths:
        d = os.path.dirname(os.path.abspath(p))
        if d not in indexes:
            indexes[d] = {}
            if os.path.isfile(os.path.join(d, INDEX_NAME)):
                with open(os.path.join(d, INDEX_NAME), encoding="utf-8") as f:
                    indexes[d] = {posixpath.basename(e["url"]): e for e in json.load(f).get("shardlist", [])}
        e = indexes[d].get(os.path.basename(p))
        ok = e is not None and e.get("filesize") == os.path.getsize(p)
        sizes.append(int(e["nsamples"]) if ok else count_samples(p))
    return sizes


def decode(sample, image_size, tok):
    ext = next((e for e in IMAGE_EXTS if e in sample), None)
    if ext is None or "txt" not in sample:
        raise ValueError(f"sample {sample['__key__']!r} needs an image ({'/'.join(IMAGE_EXTS)}) and a .txt caption; "
                         f"it has {sorted(k for k in sample if k != '__key__')}")
    with Image.open(io.BytesIO(sample[ext])) as im:
        image = preprocess(im.convert("RGB"), image_size)
    return image, tok.encode(sample["txt"].decode("utf-8"))


def buffer_shuffle(items, size, rng):
    """webdataset's shuffle: a buffer of ``size``; each new item replaces a random one, which is emitted."""
    buf = []
    for x in items:
        if len(buf) < size:
            buf.append(x)
            continue
        j = rng.randrange(size)
        buf[j], x = x, buf[j]
        yield x
    rng.shuffle(buf)
    yield from buf


# ----------------------------------------------------------------------------------------------- the epoch plan
class ShardPlan:
    """Which samples each (rank, stream) turns into which batches; see the module docstring."""

    def __init__(self, paths, sizes, global_batch, rank, world, streams, seed=0, shuffle=True, buffer=1000):
        if global_batch % world:
            raise ValueError(f"global batch {global_batch} is not divisible by world size {world}")
        self.paths, self.sizes, self.n = list(paths), list(sizes), sum(sizes)
        self.local, self.rank, self.streams = global_batch // world, rank, max(1, streams)
        self.per_epoch = self.n // global_batch
        if self.per_epoch == 0:
            raise ValueError(f"the shards hold {self.n} samples, fewer than one global batch of {global_batch}")
        self.seed, self.shuffle, self.buffer = seed, shuffle, buffer

    def shard_order(self, epoch):
        order = list(range(len(self.paths)))
        if self.shuffle:
            random.Random(f"{self.seed}:{epoch}:shards").shuffle(order)
        return order

    def stream_range(self, v):
        """-> (first sample, number of samples) of stream v of this rank, in the epoch's sequence."""
        counts = [len(range(u, self.per_epoch, self.streams)) for u in range(self.streams)]
        start = self.rank * self.per_epoch * self.local + self.local * sum(counts[:v])
        return start, self.local * counts[v]

    def samples(self, epoch, lo, n):
        pos = 0
        for i in self.shard_order(epoch):
            size = self.sizes[i]
            if n > 0 and pos + size > lo:
                skip = max(0, lo - pos)
                take = min(n, size - skip)
                yield from read_samples(self.paths[i], skip, take)
                lo, n = lo + take, n - take
            pos += size

    def batches(self, epoch, v, start=0):
        """Raw sample batches of stream v, from rank batch ``start`` of the epoch on (earlier ones are skipped)."""
        lo, n = self.stream_range(v)
        items = self.samples(epoch, lo, n)
        if self.shuffle and self.buffer > 1:
            items = buffer_shuffle(items, self.buffer, random.Random(f"{self.seed}:{epoch}:{self.rank}:{v}"))
        skip, batch = len(range(v, start, self.streams)), []
        for s in items:
            batch.append(s)
            if len(batch) == self.local:
                if skip:
                    skip -= 1
                else:
                    yield batch
                batch = []


class EpochStream(torch.utils.data.IterableDataset):
    """One rank's decoded batches (images, ids, mask, keys) of one epoch from batch ``start``; data-loader worker
    k serves stream (k + start) mod L, so the loader's round-robin yields the batches in order."""

    def __init__(self, plan, epoch, start, image_size, tok):
        self.plan, self.epoch, self.start, self.size, self.tok = plan, epoch, start, image_size, tok

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        if (info.num_workers if info else 1) != self.plan.streams:
            raise ValueError(f"the plan has {self.plan.streams} streams; run it with as many workers (or 0 for 1)")
        v = ((info.id if info else 0) + self.start) % self.plan.streams
        for batch in self.plan.batches(self.epoch, v, self.start):
            images, ids, mask = collate([decode(s, self.size, self.tok) for s in batch], self.tok.pad_id)
            yield images, ids, mask, [s["__key__"] for s in batch]


def epoch_loader(plan, epoch, start, image_size, tok, workers):
    ds = EpochStream(plan, epoch, start, image_size, tok)
    # own generator: creating a loader must not draw from the global RNG (part of a checkpoint's state)
    return torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers, generator=torch.Generator())


class ShardBatches:
    """Training batches from shards by micro-step number, read in sequence; a jump (resume) restarts the stream."""

    def __init__(self, spec, global_batch, rank, world, image_size, tok, seed=0, shuffle=True, buffer=1000, workers=0):
        paths = shard_paths(spec)
        self.plan = ShardPlan(paths, shard_sizes(paths), global_batch, rank, world, workers, seed, shuffle, buffer)
        self.per_epoch, self.size, self.tok, self.workers = self.plan.per_epoch, image_size, tok, workers
        self._it, self._next = None, None

    def get(self, micro_step):
        """-> (epoch, images, ids, mask)"""
        epoch, pos = divmod(micro_step, self.per_epoch)
        if pos == 0 or micro_step != self._next:
            self._it = iter(epoch_loader(self.plan, epoch, pos, self.size, self.tok, self.workers))
        images, ids, mask, _ = next(self._it)
        self._next = micro_step + 1
        return epoch, images, ids, mask
