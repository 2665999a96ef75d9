"""Process group set-up from the launcher's environment, and the gathered contrastive loss.

Every launcher sets the same variables (torchrun, ``launch/local-nodes.sh``, ``launch/slurm.sbatch`` from SLURM's
``SLURM_PROCID``/``SLURM_LOCALID``/``SLURM_NTASKS``, the Kubeflow training operator for a PyTorchJob):
``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` and, where one node runs several processes,
``LOCAL_RANK`` (the GPU of this process on its node). nccl on GPU, gloo on CPU (``DIST_BACKEND`` overrides).
"""

import os

import torch
import torch.distributed as dist
import torch.nn.functional as F


def local_rank():
    return int(os.environ.get("LOCAL_RANK", "0"))


def dist_setup():
    """-> (rank, world size); initialises the default process group when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = os.environ.get("DIST_BACKEND") or ("nccl" if torch.cuda.is_available() else "gloo")
        if backend == "nccl":
            torch.cuda.set_device(local_rank())
        dist.init_process_group(backend)
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def dist_teardown():
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def check_same_everywhere(value, what, device):
    """Raise unless every rank holds the same integer (e.g. the step of the checkpoint it resumed from)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return
    lo = torch.tensor([value], dtype=torch.long, device=device)
    hi = lo.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    if lo.item() != hi.item():
        raise RuntimeError(f"ranks disagree on {what}: between {lo.item()} and {hi.item()} (this rank: {value}); "
                           "every rank must see the same checkpoint (a shared --out directory)")


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
