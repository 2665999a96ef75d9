"""Train or fine-tune UniMed-CLIP with the CLIP contrastive loss.

    python3 -m training.train --train-manifest DATA.csv --vocab VOCAB.txt --out RUN_DIR \
        (--arch demo | --init-checkpoint UNIMED.pt | --init-visual OPENCLIP.pt --init-text BERT.bin) \
        [--steps 1000 --batch-size 256 --lr 5e-4 --warmup 100 ...] [--resume RUN_DIR/latest.pt]

Multi-process: ``torchrun --nproc_per_node=N -m training.train ...`` (gloo on CPU, nccl on GPU).
``--batch-size`` is the global batch of one micro-step (split over the ranks), so the result does not depend on N.
Writes RUN_DIR/metrics.jsonl, RUN_DIR/latest.pt (every --save-every steps) and RUN_DIR/final.pt; checkpoints are
``{"state_dict": <released layout>, ...}`` and can be given to training.export directly.
"""

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from .checkpoint import check_keys, extract_state_dict, model_from_state_dict, torch_load
from .data import BatchOrder, ImageTextDataset, collate, load_images, read_manifest
from .model import MODEL_CONFIGS, CLIPConfig, UniMedCLIP, config_from_state_dict, make_config
from .tokenizer import BertTokenizer
from .zeroshot import evaluate

MAX_LOGIT_SCALE = math.log(100.0)


# ----------------------------------------------------------------------------------------------- distributed
def dist_setup():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums the gradient of every rank's (identical) loss and keeps the local slice.

    With DDP averaging the parameter gradients, the result equals the single-process gradient on the global
    batch. Only all_reduce is needed, which gloo supports."""

    @staticmethod
    def forward(ctx, x):
        ctx.rank, ctx.world, ctx.n = dist.get_rank(), dist.get_world_size(), x.shape[0]
        out = [torch.zeros_like(x) for _ in range(ctx.world)]
        dist.all_gather(out, x.contiguous())
        return torch.cat(out, 0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.n: (ctx.rank + 1) * ctx.n]


def gather(x):
    if dist.is_initialized() and dist.get_world_size() > 1:
        return GatherWithGrad.apply(x)
    return x


def clip_loss(img, txt, scale):
    """Symmetric cross-entropy over the (global) batch; img and txt are L2-normalized."""
    img, txt = gather(img), gather(txt)
    logits = scale * img @ txt.t()
    labels = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


# ----------------------------------------------------------------------------------------------- init
def load_openclip_visual(path):
    sd = extract_state_dict(torch_load(path))
    vis = {k: v for k, v in sd.items() if k.startswith("visual.")}
    if not vis:
        raise ValueError(f"{path}: no 'visual.*' keys")
    return vis


def load_hf_bert(path):
    """HF BERT weights (``bert.*`` of BertForMaskedLM/PreTraining, or bare BertModel keys) -> our text keys."""
    sd = extract_state_dict(torch_load(path))
    out = {}
    for k, v in sd.items():
        if k.startswith("bert."):
            k = k[len("bert."):]
        if k.startswith(("cls.", "pooler.")) or k.endswith("embeddings.position_ids") or k.endswith(
                "embeddings.token_type_ids"):
            continue
        out["text_encoder.transformer." + k.replace(".gamma", ".weight").replace(".beta", ".bias")] = v
    return out


def build_model(args, vocab_size):
    """-> model, description of the initialisation."""
    if args.init_checkpoint:
        return model_from_state_dict(extract_state_dict(torch_load(args.init_checkpoint))), "unimed-checkpoint"
    if args.init_visual or args.init_text:
        if not (args.init_visual and args.init_text):
            raise SystemExit("--init-visual and --init-text go together")
        vis, txt = load_openclip_visual(args.init_visual), load_hf_bert(args.init_text)
        cfg = config_from_state_dict({**vis, **txt})
        model = UniMedCLIP(cfg)
        sd = model.state_dict()
        proj = {k: v for k, v in sd.items() if k.startswith("text_encoder.proj.") or k == "logit_scale"}
        merged = {**vis, **txt, **proj}
        check_keys(model, merged)
        model.load_state_dict(merged, strict=True)
        return model, "openclip-visual+hf-bert"
    return UniMedCLIP(make_config(args.arch, vocab_size)), f"scratch:{args.arch}"


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
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-manifest", required=True, help="CSV/TSV with an image path and a caption column")
    p.add_argument("--image-column", default=None)
    p.add_argument("--caption-column", default=None)
    p.add_argument("--vocab", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--arch", default="demo", choices=sorted(MODEL_CONFIGS), help="from scratch (default)")
    p.add_argument("--init-checkpoint", default=None, help="start from a UniMed-CLIP checkpoint")
    p.add_argument("--init-visual", default=None, help="open_clip state dict for the image tower (visual.*)")
    p.add_argument("--init-text", default=None, help="Hugging Face BERT weights for the text tower")
    p.add_argument("--resume", default=None, help="a checkpoint written by this script")
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--context-length", type=int, default=256)
    p.add_argument("--cache-images", action="store_true", help="keep preprocessed images in memory")
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
    return p.parse_args(argv)


def save_checkpoint(path, model, opt, sched, scaler, step, args, init, rank):
    if rank != 0:
        return
    ck = {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
          "config": model.cfg.to_dict(), "step": step, "optimizer": opt.state_dict(),
          "scheduler": sched.state_dict(), "scaler": scaler.state_dict() if scaler else None,
          "hparams": vars(args), "seed": args.seed, "init": init, "rng": rng_state()}
    tmp = path + ".tmp"
    torch.save(ck, tmp)
    os.replace(tmp, path)


def train(args):
    rank, world = dist_setup()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() else "cpu")
    use_amp = args.precision == "amp" and device.type == "cuda"
    seed_all(args.seed)
    os.makedirs(args.out, exist_ok=True)
    tok = BertTokenizer(args.vocab, context_length=args.context_length)
    vocab_size = max(tok.vocab.values()) + 1

    resume = torch_load(args.resume) if args.resume else None
    if resume is not None:
        model = UniMedCLIP(CLIPConfig.from_dict(resume["config"]))
        model.load_state_dict(resume["state_dict"], strict=True)
        init = resume.get("init", "resume")
    else:
        model, init = build_model(args, vocab_size)
    if vocab_size > model.cfg.text.vocab_size:
        raise SystemExit(f"vocab ({vocab_size}) larger than the model's embedding ({model.cfg.text.vocab_size})")
    model.to(device).train()
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                                    else None) if world > 1 else model

    opt = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(args.beta1, args.beta2),
                            eps=args.eps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(args.warmup, args.steps, args.min_lr_ratio))
    scaler = torch.cuda.amp.GradScaler() if use_amp else None
    step = 0
    if resume is not None:
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        if scaler and resume.get("scaler"):
            scaler.load_state_dict(resume["scaler"])
        step = resume["step"]
        set_rng_state(resume["rng"])

    rows = read_manifest(args.train_manifest, args.image_column, args.caption_column)
    ds = ImageTextDataset(rows, model.cfg.vision.image_size, tok, cache=args.cache_images)
    order = BatchOrder(len(ds), args.batch_size, args.seed, rank, world)

    ev = None
    if args.eval_manifest and rank == 0:
        erows = read_manifest(args.eval_manifest, args.image_column, args.caption_column)
        with open(args.eval_prompt_sets, encoding="utf-8") as f:
            ps = json.load(f)["prompt_sets"][args.eval_prompt_set]
        ev = (load_images(erows, model.cfg.vision.image_size), [r[args.eval_label_column] for r in erows], ps)

    def run_eval():
        if ev is None:
            return None
        return evaluate(model, tok, ev[0], ev[1], ps_labels(ev[2]), ev[2]["templates"], device=device)

    log = open(os.path.join(args.out, "metrics.jsonl"), "a", encoding="utf-8") if rank == 0 else None
    t0, seen = time.time(), 0
    while step < args.steps:
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for micro in range(args.accum):
            epoch, idx = order.indices(step * args.accum + micro)
            images, ids, mask = collate([ds[i] for i in idx], tok.pad_id)
            images, ids, mask = images.to(device), ids.to(device), mask.to(device)
            sync = micro == args.accum - 1 or world == 1
            ctx = ddp.no_sync() if (world > 1 and not sync) else _null()
            with ctx:
                with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
                    img, txt, scale = ddp(images, ids, mask)
                    loss = clip_loss(img.float(), txt.float(), scale.float()) / args.accum
                (scaler.scale(loss) if scaler else loss).backward()
            total += loss.item()
            seen += len(idx) * world
        if scaler:
            scaler.unscale_(opt)
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        step += 1

        if log and (step % args.log_every == 0 or step == args.steps):
            dt = time.time() - t0
            rec = {"step": step, "epoch": epoch, "loss": total, "lr": sched.get_last_lr()[0],
                   "temperature": float(model.logit_scale.exp()), "samples_per_s": seen / max(dt, 1e-9)}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            t0, seen = time.time(), 0
        if log and args.eval_every and step % args.eval_every == 0 and step < args.steps:
            log.write(json.dumps({"step": step, "zero_shot_accuracy": run_eval()}) + "\n")
            log.flush()
        if args.save_every and step % args.save_every == 0:
            save_checkpoint(os.path.join(args.out, "latest.pt"), model, opt, sched, scaler, step, args, init, rank)
        if args.stop_after and step >= args.stop_after and step < args.steps:
            save_checkpoint(os.path.join(args.out, "latest.pt"), model, opt, sched, scaler, step, args, init, rank)
            if log:
                log.close()
            if world > 1:
                dist.barrier()
                dist.destroy_process_group()
            return model, None

    acc = run_eval() if rank == 0 else None
    if log:
        if acc is not None:
            log.write(json.dumps({"step": step, "zero_shot_accuracy": acc}) + "\n")
        log.close()
    save_checkpoint(os.path.join(args.out, "final.pt"), model, opt, sched, scaler, step, args, init, rank)
    save_checkpoint(os.path.join(args.out, "latest.pt"), model, opt, sched, scaler, step, args, init, rank)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return model, acc


def ps_labels(ps):
    return ps["labels"]


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def main(argv=None):
    args = parse_args(argv)
    _, acc = train(args)
    if acc is not None:
        print(f"zero-shot accuracy: {acc:.4f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
