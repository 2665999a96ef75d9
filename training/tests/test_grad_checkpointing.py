import collections
import json
import os
import subprocess
import sys

import torch

from training.distributed import clip_loss
from training.model import UniMedCLIP, make_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def gradients(model, batch, checkpointing):
    model.zero_grad(set_to_none=True)
    model.set_grad_checkpointing(checkpointing)
    clip_loss(*model(*batch)).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def test_same_gradients_with_both_towers_recomputed():
    torch.manual_seed(0)
    model = UniMedCLIP(make_config("tiny")).train()
    mask = torch.ones(4, 12, dtype=torch.long)
    mask[1, 7:] = 0
    batch = (torch.randn(4, 3, 32, 32), torch.randint(1, 300, (4, 12)), mask)
    calls = collections.Counter()
    model.visual.transformer.resblocks[1].register_forward_hook(lambda *_: calls.update(["image"]))
    model.text_encoder.transformer.encoder.layer[1].register_forward_hook(lambda *_: calls.update(["text"]))
    plain = gradients(model, batch, False)
    assert calls == {"image": 1, "text": 1}
    calls.clear()
    recomputed = gradients(model, batch, True)
    assert calls == {"image": 2, "text": 2}  # each block ran again in the backward pass
    for name, g in plain.items():
        torch.testing.assert_close(recomputed[name], g, rtol=1e-5, atol=1e-8, msg=name)
    calls.clear()
    with torch.no_grad():  # nothing to recompute without autograd
        model(*batch)
    assert calls == {"image": 1, "text": 1}


def test_peak_memory_saved_on_cpu(capsys):
    peak = {}
    for flag in ([], ["--grad-checkpointing"]):
        r = subprocess.run([sys.executable, "-m", "training.memprobe", "--arch", "demo", "--batch-size", "32",
                            "--context-length", "32", "--device", "cpu", *flag], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        peak[bool(flag)] = json.loads(r.stdout)["step_peak_bytes"]
    full, ckpt = peak[False] / 2 ** 20, peak[True] / 2 ** 20
    with capsys.disabled():
        print(f"\n[grad checkpointing] demo config, batch 32, one CPU step: peak memory above the model {full:.0f} MiB "
              f"-> {ckpt:.0f} MiB with --grad-checkpointing ({full - ckpt:.0f} MiB, {1 - ckpt / full:.0%} saved)")
    assert ckpt < 0.75 * full
