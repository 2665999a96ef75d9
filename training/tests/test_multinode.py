"""The multi-node path on one machine: training/launch/local-nodes.sh starts each simulated node on its own."""

import json
import os
import subprocess
import sys

import pytest
import torch

from training import make_shards
from training.checkpoint import torch_load
from training.synthetic import corpus, generate
from training.tokenizer import build_vocab, save_vocab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCAL_NODES = os.path.join(ROOT, "training", "launch", "local-nodes.sh")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("nodes")
    generate(str(d / "syn"), per_class=4, seed=5)  # 24 samples
    save_vocab(build_vocab(corpus()), str(d / "vocab.txt"))
    assert make_shards.main(["--manifest", str(d / "syn" / "labels.csv"), "--out", str(d / "shards"),
                             "--per-shard", "5"]) == 0
    return d


def local_nodes(nodes, procs, data, out, *args):
    train_args = ["--vocab", str(data / "vocab.txt"), "--out", str(out), "--arch", "tiny", "--batch-size", "8",
                  "--lr", "1e-3", "--warmup", "2", "--seed", "7", "--log-every", "1", "--threads", "1", *args]
    return subprocess.run(["bash", LOCAL_NODES, str(nodes), str(procs), "--", *train_args], cwd=ROOT,
                          env=dict(os.environ, PYTHON=sys.executable), capture_output=True, text=True,
                          timeout=300)


def test_two_nodes_first_step_equals_one_process(data, tmp_path):
    manifest = ["--train-manifest", str(data / "syn" / "labels.csv"), "--steps", "1"]
    dumps = {}
    for nodes in (1, 2):
        dumps[nodes] = str(tmp_path / f"grads{nodes}.pt")
        r = local_nodes(nodes, 1, data, tmp_path / f"n{nodes}", *manifest, "--dump-grads", dumps[nodes])
        assert r.returncode == 0, r.stderr[-3000:]
        with open(tmp_path / f"n{nodes}" / "metrics.jsonl") as f:
            assert len(f.readlines()) == 1  # rank 0 alone logs
    one, two = (torch_load(dumps[n]) for n in (1, 2))
    assert one["loss"] == pytest.approx(two["loss"], rel=1e-4)
    assert set(one["grads"]) == set(two["grads"]) and len(one["grads"]) > 40
    top = max(g.abs().max().item() for g in one["grads"].values())
    for name, g in one["grads"].items():
        # rtol 1e-4; the atol covers float32 sums taken in another order (1e-5 of the tensor's largest entry) and
        # the attention key biases, whose gradient is 0 up to rounding (softmax ignores a shift of all scores)
        atol = 1e-5 * g.abs().max().item() + 1e-9 * top
        torch.testing.assert_close(two["grads"][name], g, rtol=1e-4, atol=atol, msg=name)


def test_node_lost_mid_run_resumes_to_the_same_weights(data, tmp_path):
    # shards read by 2 workers per rank, activation checkpointing on; 3 steps per epoch, a checkpoint at step 4
    args = ["--train-shards", str(data / "shards" / "shard-{00000..00004}.tar"), "--workers", "2",
            "--grad-checkpointing", "--steps", "6", "--save-every", "4"]
    full = local_nodes(2, 1, data, tmp_path / "full", *args)
    assert full.returncode == 0, full.stderr[-3000:]
    # node 1 (rank 1) is lost after step 5: the job stops, latest.pt is step 4's
    lost = local_nodes(2, 1, data, tmp_path / "part", *args, "--fail-at", "1:5")
    assert lost.returncode == 17, lost.stderr[-3000:]
    assert torch_load(tmp_path / "part" / "latest.pt")["step"] == 4
    assert not (tmp_path / "part" / "final.pt").exists()
    # every node relaunched with the same command, as a requeued job: --resume auto picks up latest.pt
    again = local_nodes(2, 1, data, tmp_path / "part", *args, "--resume", "auto")
    assert again.returncode == 0, again.stderr[-3000:]
    a, b = (torch_load(tmp_path / run / "final.pt") for run in ("full", "part"))
    assert a["step"] == b["step"] == 6
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    for k, s in a["optimizer"]["state"].items():
        assert torch.equal(s["exp_avg_sq"], b["optimizer"]["state"][k]["exp_avg_sq"])
    with open(tmp_path / "part" / "metrics.jsonl") as f:
        steps = [json.loads(line)["step"] for line in f]
    assert steps[-2:] == [5, 6] and steps[:4] == [1, 2, 3, 4]


def test_local_nodes_rejects_bad_usage():
    r = subprocess.run(["bash", LOCAL_NODES, "2", "x", "--", "--steps", "1"], cwd=ROOT, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr
