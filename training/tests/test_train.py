import os
import socket
import subprocess
import sys

import pytest
import torch

from training.synthetic import corpus, generate
from training.tokenizer import build_vocab, save_vocab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    generate(str(d / "syn"), per_class=4, seed=5)
    save_vocab(build_vocab(corpus()), str(d / "vocab.txt"))
    return d


def run_train(data, out, *extra, nproc=1):
    args = ["--train-manifest", str(data / "syn" / "labels.csv"), "--vocab", str(data / "vocab.txt"), "--out",
            str(out), "--arch", "tiny", "--batch-size", "8", "--lr", "1e-3", "--warmup", "2", "--seed", "7",
            "--log-every", "1", "--threads", "1", *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "training.train", *args]
    if nproc == 1:
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, r.stderr[-3000:]
    else:
        # the environment torchrun gives each worker (Debian's torch 1.13 torchrun itself is broken)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=dict(env, RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(nproc),
                                           MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)))
                 for r in range(nproc)]
        for p in procs:
            _, err = p.communicate(timeout=240)
            assert p.returncode == 0, err[-3000:]
    return torch.load(os.path.join(out, "final.pt"))


def assert_same(a, b, exact):
    for k in a["state_dict"]:
        if exact:
            assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
        else:
            torch.testing.assert_close(a["state_dict"][k], b["state_dict"][k], rtol=1e-4, atol=1e-6)


def test_ddp_two_ranks_equal_one_rank(data, tmp_path):
    one = run_train(data, tmp_path / "one", "--steps", "2")
    two = run_train(data, tmp_path / "two", "--steps", "2", nproc=2)
    assert one["step"] == two["step"] == 2
    assert one["seed"] == 7 and one["hparams"]["batch_size"] == 8
    assert_same(one, two, exact=False)


def test_resume_reproduces_uninterrupted_run(data, tmp_path):
    full = run_train(data, tmp_path / "full", "--steps", "6", "--accum", "2")
    part = tmp_path / "part"
    cmd_args = ("--steps", "6", "--accum", "2")
    with pytest.raises(FileNotFoundError):  # interrupted after step 3: no final.pt
        run_train(data, part, *cmd_args, "--stop-after", "3")
    stopped = torch.load(os.path.join(part, "latest.pt"))
    assert stopped["step"] == 3
    resumed = run_train(data, part, *cmd_args, "--resume", str(part / "latest.pt"))
    assert resumed["step"] == 6
    assert_same(full, resumed, exact=True)
    for k in full["optimizer"]["state"]:
        assert torch.equal(full["optimizer"]["state"][k]["exp_avg"], resumed["optimizer"]["state"][k]["exp_avg"])


def test_fault_injection_flags_parse(tmp_path):
    from training.train import parse_args

    base = ["--train-manifest", "m.csv", "--vocab", "v.txt", "--out", str(tmp_path)]
    a = parse_args(base + ["--fail-at", "1:5", "--dump-grads", "g.pt"])
    assert a.fail_at == (1, 5) and a.dump_grads == "g.pt"
    assert parse_args(base).fail_at is None and parse_args(base).dump_grads is None
    for bad in ("1", "1:2:3", "a:5"):
        with pytest.raises(SystemExit):  # argparse's usage error, before anything runs
            parse_args(base + ["--fail-at", bad])
