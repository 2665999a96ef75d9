"""Peak memory of one training step (forward, contrastive loss, backward), with or without grad checkpointing.

    python3 -m training.memprobe --arch vit-l14-large-text --batch-size 64 [--grad-checkpointing] [--amp]

Prints one JSON line. On CUDA the peak is torch's ``max_memory_allocated``; on CPU it is the process's peak
resident set (``ru_maxrss``) with glibc's mmap threshold pinned at 64 KiB, so that freed tensors go back to the
system and the high-water mark follows the live tensors. ``step_peak_bytes`` is the peak above what was resident
before the step (the model, its inputs): the activations kept for backward and the gradients. Run each setting in
a fresh process (the CPU figure is a process-lifetime maximum).
"""

import argparse
import ctypes
import json
import os
import resource
import sys
import time

import torch

from .distributed import clip_loss
from .model import MODEL_CONFIGS, UniMedCLIP, make_config

M_MMAP_THRESHOLD = -3


def pin_mmap_threshold(size=1 << 16):
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, size))
    except (OSError, AttributeError):  # not glibc
        return False


def rss_bytes():
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def probe(arch, batch_size, context_length, grad_checkpointing, device, amp=False, seed=0):
    torch.manual_seed(seed)
    cfg = make_config(arch)
    model = UniMedCLIP(cfg).to(device).train()
    model.set_grad_checkpointing(grad_checkpointing)
    images = torch.randn(batch_size, 3, cfg.vision.image_size, cfg.vision.image_size, device=device)
    ids = torch.randint(1, cfg.text.vocab_size, (batch_size, context_length), device=device)
    mask = torch.ones_like(ids)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    else:
        before = rss_bytes()
    t0 = time.time()
    with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=amp and cuda):
        img, txt, scale = model(images, ids, mask)
        loss = clip_loss(img.float(), txt.float(), scale.float())
    loss.backward()
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"arch": arch, "batch_size": batch_size, "context_length": context_length,
            "grad_checkpointing": grad_checkpointing, "device": str(device), "amp": bool(amp and cuda),
            "params": sum(p.numel() for p in model.parameters()), "before_bytes": before, "peak_bytes": peak,
            "step_peak_bytes": max(0, peak - before), "step_s": round(time.time() - t0, 3), "torch": torch.__version__}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="demo", choices=sorted(MODEL_CONFIGS))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--context-length", type=int, default=64)
    p.add_argument("--grad-checkpointing", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--amp", action="store_true", help="fp16 autocast (CUDA)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads")
    a = p.parse_args(argv)
    pin_mmap_threshold()
    torch.set_num_threads(a.threads)
    print(json.dumps(probe(a.arch, a.batch_size, a.context_length, a.grad_checkpointing, torch.device(a.device),
                           a.amp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
