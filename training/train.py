"""Train or fine-tune UniMed-CLIP with the CLIP contrastive loss.

    python3 -m training.train (--train-manifest DATA.csv | --train-shards 'DIR/shard-{00000..00099}.tar') \
        --vocab VOCAB.txt --out RUN_DIR \
        (--arch demo | --init-checkpoint UNIMED.pt | --init-visual OPENCLIP.pt --init-text BERT.bin) \
        [--steps 1000 --batch-size 256 --lr 5e-4 --warmup 100 ...] [--resume RUN_DIR/latest.pt | --resume auto]

Multi-process and multi-node: one process per GPU with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (and LOCAL_RANK)
set by the launcher (``training/launch/``: local-nodes.sh, slurm.sbatch, pytorchjob.yaml; torchrun); gloo on CPU,
nccl on GPU. ``--batch-size`` is the global batch of one micro-step (split over the ranks), so the result does not
depend on the number of ranks. Rank 0 alone logs, evaluates and writes checkpoints; every rank resumes from the
same one. Writes RUN_DIR/metrics.jsonl, RUN_DIR/latest.pt (every --save-every steps) and RUN_DIR/final.pt;
checkpoints are ``{"state_dict": <released layout>, ...}`` and can be given to training.export directly.

Fault-injection drills and tests: --fail-at RANK:STEP makes that rank exit (status 17) right after optimizer step
STEP, as a lost node would (drop it from the relaunch command); --dump-grads FILE makes rank 0 save the
(all-reduced, unclipped) gradients and the loss of the run's first step.
"""

import argparse
import contextlib
import json
import math
import os
import random
import sys
import time
import warnings

import numpy as np
import torch

from .checkpoint import torch_load
from .data import ManifestBatches, load_images, read_manifest
from .distributed import check_same_everywhere, clip_loss, dist_setup, dist_teardown, local_rank
from .model import MODEL_CONFIGS, CLIPConfig, UniMedCLIP
from .pretrained import build_model
from .shards import ShardBatches
from .tokenizer import BertTokenizer
from .zeroshot import evaluate

MAX_LOGIT_SCALE = math.log(100.0)
FAIL_EXIT_CODE = 17


def param_groups(model, weight_decay):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        # gains, biases, embeddings (word/position/token type, class and positional) and the temperature
        if p.ndim < 2 or "embedding" in n or n.endswith("logit_scale"):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_lambda(warmup, total, min_ratio=0.0):
    def f(step):  # step = number of optimizer steps already taken
        if step < warmup:
            return (step + 1) / warmup
        p = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p))

    return f


def rng_state():
    s = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s):
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------- main
def rank_step(spec):
    """'RANK:STEP' -> (rank, step)."""
    try:
        rank, step = (int(x) for x in spec.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected RANK:STEP (two integers), got {spec!r}") from None
    return rank, step


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--train-manifest", help="CSV/TSV with an image path and a caption column")
    src.add_argument("--train-shards", help="WebDataset tar shards: brace ranges and globs, several joined by '::'")
    p.add_argument("--image-column", default=None)
    p.add_argument("--caption-column", default=None)
    p.add_argument("--vocab", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--arch", default="demo", choices=sorted(MODEL_CONFIGS), help="from scratch (default)")
    p.add_argument("--init-checkpoint", default=None, help="start from a UniMed-CLIP checkpoint")
    p.add_argument("--init-visual", default=None, help="open_clip state dict for the image tower (visual.*)")
    p.add_argument("--init-text", default=None, help="Hugging Face BERT weights for the text tower")
    p.add_argument("--resume", default=None,
                   help="a checkpoint written by this script, or 'auto': OUT/latest.pt if it exists (requeued jobs)")
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=64, help="global batch of one micro-step")
    p.add_argument("--accum", type=int, default=1, help="gradient accumulation micro-steps per optimizer step")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--min-lr-ratio", type=float, default=0.0)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.2)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.98)
    p.add_argument("--eps", type=float, default=1e-6)
    p.add_argument("--grad-clip", type=float, default=1.0, help="max global grad norm (0: off)")
    p.add_argument("--precision", choices=["amp", "fp32"], default="amp", help="amp applies on CUDA only")
    p.add_argument("--grad-checkpointing", action="store_true",
                   help="recompute the transformer blocks of both towers in the backward pass (less memory)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-shuffle", action="store_true", help="read the data in its listed order")
    p.add_argument("--shuffle-buffer", type=int, default=1000, help="shards: samples in each worker's buffer")
    p.add_argument("--workers", type=int, default=2, help="shards: data-loader worker processes per rank")
    p.add_argument("--context-length", type=int, default=256)
    p.add_argument("--cache-images", action="store_true", help="manifest: keep preprocessed images in memory")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--eval-manifest", default=None, help="held-out labelled images for zero-shot evaluation")
    p.add_argument("--eval-label-column", default="modality")
    p.add_argument("--eval-prompt-sets", default=None, help="prompt_sets.json")
    p.add_argument("--eval-prompt-set", default="modality")
    p.add_argument("--eval-every", type=int, default=0, help="steps between evaluations (0: only at the end)")
    p.add_argument("--stop-after", type=int, default=0,
                   help="stop (saving latest.pt) after this many steps, as if interrupted; resume with --resume")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--fail-at", type=rank_step, default=None, metavar="RANK:STEP",
                   help=f"fault-injection drill: that rank exits with status {FAIL_EXIT_CODE} right after that step, "
                        "without saving, as a lost node would")
    p.add_argument("--dump-grads", default=None, metavar="FILE",
                   help="rank 0 saves the first step's loss and all-reduced, unclipped gradients (tests)")
    return p.parse_args(argv)


def save_checkpoint(path, model, opt, sched, scaler, step, args, init, rank, data_layout):
    if rank != 0:
        return
    ck = {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
          "config": model.cfg.to_dict(), "step": step, "optimizer": opt.state_dict(),
          "scheduler": sched.state_dict(), "scaler": scaler.state_dict() if scaler else None,
          "hparams": vars(args), "seed": args.seed, "init": init, "rng": rng_state(), "data_layout": data_layout}
    tmp = path + ".tmp"
    torch.save(ck, tmp)
    os.replace(tmp, path)


def resume_path(args):
    if args.resume == "auto":
        path = os.path.join(args.out, "latest.pt")
        return path if os.path.exists(path) else None
    return args.resume


def fail_point(fail_at, rank, step):
    """--fail-at RANK:STEP: this rank dies after that step, without saving or saying goodbye."""
    if fail_at == (rank, step):
        sys.stderr.write(f"rank {rank}: --fail-at {rank}:{step}: exiting after step {step}\n")
        sys.stderr.flush()
        os._exit(FAIL_EXIT_CODE)


def make_batches(args, image_size, tok, rank, world):
    if args.train_shards:
        return ShardBatches(args.train_shards, args.batch_size, rank, world, image_size, tok, seed=args.seed,
                            shuffle=not args.no_shuffle, buffer=args.shuffle_buffer, workers=args.workers)
    rows = read_manifest(args.train_manifest, args.image_column, args.caption_column)
    return ManifestBatches(rows, args.batch_size, rank, world, image_size, tok, seed=args.seed,
                           shuffle=not args.no_shuffle, cache=args.cache_images)


def train(args):
    rank, world = dist_setup()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(f"cuda:{local_rank()}" if torch.cuda.is_available() else "cpu")
    use_amp = args.precision == "amp" and device.type == "cuda"
    seed_all(args.seed)
    os.makedirs(args.out, exist_ok=True)
    tok = BertTokenizer(args.vocab, context_length=args.context_length)
    vocab_size = max(tok.vocab.values()) + 1

    resume_from = resume_path(args)
    resume = torch_load(resume_from) if resume_from else None
    if resume is not None:
        model = UniMedCLIP(CLIPConfig.from_dict(resume["config"]))
        model.load_state_dict(resume["state_dict"], strict=True)
        init = resume.get("init", "resume")
    else:
        model, init = build_model(args, vocab_size)
    if vocab_size > model.cfg.text.vocab_size:
        raise ValueError(f"vocab ({vocab_size}) larger than the model's embedding ({model.cfg.text.vocab_size})")
    model.set_grad_checkpointing(args.grad_checkpointing)
    model.to(device).train()
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                                    else None) if world > 1 else model

    opt = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(args.beta1, args.beta2),
                            eps=args.eps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(args.warmup, args.steps, args.min_lr_ratio))
    scaler = torch.cuda.amp.GradScaler() if use_amp else None
    step = 0
    layout = {"source": "shards" if args.train_shards else "manifest", "world": world, "workers": args.workers}
    if resume is not None:
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        if scaler and resume.get("scaler"):
            scaler.load_state_dict(resume["scaler"])
        step = resume["step"]
        set_rng_state(resume["rng"])
        old = resume.get("data_layout") or {}
        moved = bool(old) and (old["world"], old["workers"]) != (world, args.workers)
        if rank == 0 and layout["source"] == "shards" and moved:
            warnings.warn(f"resuming with {world} ranks x {args.workers} workers, saved with {old['world']} x "
                          f"{old['workers']}: the rest of this epoch comes in another order than uninterrupted")
    check_same_everywhere(step, "the step resumed from", device)

    batches = make_batches(args, model.cfg.vision.image_size, tok, rank, world)
    ev = None
    if args.eval_manifest and rank == 0:
        erows = read_manifest(args.eval_manifest, args.image_column, args.caption_column)
        with open(args.eval_prompt_sets, encoding="utf-8") as f:
            ps = json.load(f)["prompt_sets"][args.eval_prompt_set]
        ev = (load_images(erows, model.cfg.vision.image_size), [r[args.eval_label_column] for r in erows], ps)

    def run_eval():
        if ev is None:
            return None
        return evaluate(model, tok, ev[0], ev[1], ev[2]["labels"], ev[2]["templates"], device=device)

    def save(name):
        save_checkpoint(os.path.join(args.out, name), model, opt, sched, scaler, step, args, init, rank, layout)

    log = open(os.path.join(args.out, "metrics.jsonl"), "a", encoding="utf-8") if rank == 0 else None
    dump_grads = args.dump_grads if step == 0 and rank == 0 else None
    t0, seen = time.time(), 0
    while step < args.steps:
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for micro in range(args.accum):
            epoch, images, ids, mask = batches.get(step * args.accum + micro)
            images, ids, mask = images.to(device), ids.to(device), mask.to(device)
            sync = micro == args.accum - 1 or world == 1
            with ddp.no_sync() if (world > 1 and not sync) else contextlib.nullcontext():
                with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
                    img, txt, scale = ddp(images, ids, mask)
                    loss = clip_loss(img.float(), txt.float(), scale.float()) / args.accum
                (scaler.scale(loss) if scaler else loss).backward()
            total += loss.item()
            seen += images.shape[0] * world
        if scaler:
            scaler.unscale_(opt)
        if dump_grads:
            torch.save({"loss": total, "grads": {n: p.grad.detach().cpu().clone() for n, p in
                                                 model.named_parameters()}}, dump_grads)
            dump_grads = None
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip) if args.grad_clip > 0 else None
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        step += 1
        fail_point(args.fail_at, rank, step)

        if log and (step % args.log_every == 0 or step == args.steps):
            dt = time.time() - t0
            rec = {"step": step, "epoch": epoch, "loss": total, "lr": sched.get_last_lr()[0],
                   "temperature": float(model.logit_scale.exp()), "samples_per_s": seen / max(dt, 1e-9)}
            if grad_norm is not None:
                rec["grad_norm"] = float(grad_norm)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            t0, seen = time.time(), 0
        if log and args.eval_every and step % args.eval_every == 0 and step < args.steps:
            log.write(json.dumps({"step": step, "zero_shot_accuracy": run_eval()}) + "\n")
            log.flush()
        if args.save_every and step % args.save_every == 0:
            save("latest.pt")
        if args.stop_after and args.stop_after <= step < args.steps:
            save("latest.pt")
            if log:
                log.close()
            dist_teardown()
            return model, None

    acc = run_eval() if rank == 0 else None
    if log:
        if acc is not None:
            log.write(json.dumps({"step": step, "zero_shot_accuracy": acc}) + "\n")
        log.close()
    save("final.pt")
    save("latest.pt")
    dist_teardown()
    return model, acc


def main(argv=None):
    args = parse_args(argv)
    _, acc = train(args)
    if acc is not None:
        print(f"zero-shot accuracy: {acc:.4f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
