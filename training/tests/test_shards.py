import json
import os
import tarfile

import pytest

from training import make_shards
from training.data import read_manifest
from training.shards import (ShardPlan, count_samples, epoch_loader, expand_braces, shard_paths, shard_sizes,
                             split_name)
from training.synthetic import corpus, generate
from training.tokenizer import BertTokenizer, build_vocab, save_vocab
from training.train import parse_args, train


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    generate(str(d / "syn"), per_class=4, seed=5)  # 24 samples
    save_vocab(build_vocab(corpus()), str(d / "vocab.txt"))
    return d


def shards(data, per_shard):
    out = data / f"per{per_shard}"
    if not out.exists():
        assert make_shards.main(["--manifest", str(data / "syn" / "labels.csv"), "--out", str(out),
                                 "--per-shard", str(per_shard)]) == 0
    return out


def test_expand_braces_and_globs(tmp_path):
    assert expand_braces("s-{008..011}.tar") == ["s-008.tar", "s-009.tar", "s-010.tar", "s-011.tar"]
    assert expand_braces("{a,b}/x-{1..2}") == ["a/x-1", "a/x-2", "b/x-1", "b/x-2"]
    assert expand_braces("plain.tar") == ["plain.tar"]
    with pytest.raises(ValueError):
        expand_braces("s-{3..1}.tar")
    for name in ("a-0.tar", "a-1.tar", "b-0.tar"):
        (tmp_path / name).write_bytes(b"")
    assert shard_paths(f"{tmp_path}/a-*.tar::{tmp_path}/b-{{0..0}}.tar") == [
        str(tmp_path / n) for n in ("a-0.tar", "a-1.tar", "b-0.tar")]
    with pytest.raises(FileNotFoundError):
        shard_paths(f"{tmp_path}/a-{{0..2}}.tar")
    with pytest.raises(FileNotFoundError):
        shard_paths(f"{tmp_path}/c-*.tar")


def test_make_shards_writes_webdataset_layout(data, capsys):
    out = shards(data, 5)
    rows = read_manifest(str(data / "syn" / "labels.csv"))
    paths = shard_paths(str(out / "shard-{00000..00004}.tar"))
    assert len(paths) == 5 and not os.path.exists(out / "shard-00005.tar")
    with tarfile.open(paths[1]) as tf:
        names = tf.getnames()
        assert names[:3] == ["000000005.png", "000000005.txt", "000000005.json"]
        assert tf.extractfile("000000005.txt").read().decode() == rows[5]["caption"]
        assert json.loads(tf.extractfile("000000005.json").read()) == {"modality": rows[5]["modality"],
                                                                      "finding": rows[5]["finding"]}
        with open(rows[5]["image"], "rb") as f:
            assert tf.extractfile("000000005.png").read() == f.read()
    assert split_name("dir/000000005.seg.png") == ("dir/000000005", "seg.png")
    index = json.loads((out / "shards.json").read_text())
    assert [e["nsamples"] for e in index["shardlist"]] == [5, 5, 5, 5, 4]
    assert [count_samples(p) for p in paths] == [5, 5, 5, 5, 4] == shard_sizes(paths)
    # reproducible bytes; the index is trusted while the file size matches, else the shard is counted
    again = data / "again"
    capsys.readouterr()
    make_shards.main(["--manifest", str(data / "syn" / "labels.csv"), "--out", str(again), "--per-shard", "5"])
    assert capsys.readouterr().out.strip() == f"{again}/shard-{{00000..00004}}.tar"
    assert all((again / os.path.basename(p)).read_bytes() == open(p, "rb").read() for p in paths)
    index["shardlist"][0]["filesize"] += 1
    index["shardlist"][0]["nsamples"] = 99
    index["shardlist"][1]["nsamples"] = 6
    (again / "shards.json").write_text(json.dumps(index))
    assert shard_sizes(shard_paths(str(again / "shard-0000[0-1].tar"))) == [5, 6]


def rank_batches(out, global_batch, world, workers, epoch, tok, start=0, ranks=None):
    """-> per rank, the key lists of its batches in the order its data loader yields them."""
    paths = shard_paths(str(out / "shard-*.tar"))
    result = []
    for rank in range(world) if ranks is None else ranks:
        plan = ShardPlan(paths, shard_sizes(paths), global_batch, rank, world, workers, seed=3, buffer=4)
        batches = []
        for images, ids, mask, keys in epoch_loader(plan, epoch, start, 32, tok, workers):
            assert images.shape == (global_batch // world, 3, 32, 32) and ids.shape == mask.shape
            batches.append(keys)
        result.append(batches)
    return result


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_epoch_covers_every_sample_once_across_ranks_and_workers(data):
    tok = BertTokenizer(str(data / "vocab.txt"))
    everything = {f"{i:09d}" for i in range(24)}
    # 5 shards of 5,5,5,5,4 over 2 ranks x 2 workers: 24 // 8 = 3 steps per rank and epoch, all 24 samples
    out = shards(data, 5)
    e0, e1 = (rank_batches(out, 8, 2, 2, epoch, tok) for epoch in (0, 1))
    for epoch in (e0, e1):
        assert [len(b) for b in epoch] == [3, 3]
        keys = [k for rank in epoch for batch in rank for k in batch]
        assert len(keys) == 24 and set(keys) == everything
    assert e0 != e1  # reshuffled each epoch
    # 4 shards (7,7,7,3) over 2 ranks x 3 workers (fewer shards than readers), a global batch of 10 that does not
    # divide 24: 2 steps per rank and epoch, 20 distinct samples; the 4 left over sit this epoch out
    out = shards(data, 7)
    epoch = rank_batches(out, 10, 2, 3, 0, tok)
    assert [len(b) for b in epoch] == [2, 2]
    keys = [k for rank in epoch for batch in rank for k in batch]
    assert len(keys) == len(set(keys)) == 20 and set(keys) <= everything


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("workers", [0, 2, 3])
def test_a_stream_started_mid_epoch_continues_the_same_batches(data, workers):
    tok = BertTokenizer(str(data / "vocab.txt"))
    out = shards(data, 5)
    [full] = rank_batches(out, 4, 2, workers, 1, tok, ranks=[1])  # rank 1 of 2: 6 batches per epoch
    assert len(full) == 6
    for start in (1, 4):
        assert rank_batches(out, 4, 2, workers, 1, tok, start=start, ranks=[1]) == [full[start:]]


def test_shards_and_manifest_give_the_same_losses(data, tmp_path):
    common = ["--vocab", str(data / "vocab.txt"), "--arch", "tiny", "--batch-size", "8", "--lr", "1e-3",
              "--warmup", "2", "--seed", "7", "--steps", "4", "--log-every", "1", "--save-every", "0", "--no-shuffle"]
    losses = []
    for name, source in (("csv", ["--train-manifest", str(data / "syn" / "labels.csv")]),
                         ("shards", ["--train-shards", str(shards(data, 5) / "shard-{00000..00004}.tar"),
                                     "--workers", "0"])):
        train(parse_args(source + common + ["--out", str(tmp_path / name)]))
        with open(tmp_path / name / "metrics.jsonl") as f:
            losses.append([json.loads(line)["loss"] for line in f])
    assert len(losses[0]) == 4  # 3 steps per epoch: the 4th starts epoch 1
    assert losses[0] == losses[1]
