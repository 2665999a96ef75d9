"""UniMed-CLIP model, written to be read (nanoGPT style).

The state-dict keys match the released checkpoints exactly:

* image tower ``visual.*`` in open_clip ``VisualTransformer`` layout (QuickGELU, pre-LayerNorm blocks whose
  attention has ``nn.MultiheadAttention`` keys ``attn.in_proj_weight``/``in_proj_bias``/``out_proj``);
* text tower ``text_encoder.transformer.*`` in Hugging Face ``BertModel`` layout (post-LayerNorm, exact GELU,
  no pooler), CLS pooling, then ``text_encoder.proj`` = Linear -> GELU -> Linear (no biases);
* ``logit_scale`` (a scalar; the multiplier applied to cosines is ``exp(logit_scale)``).

Attention is written with explicit matmuls so the ONNX export is plain and the batch/sequence axes stay dynamic.
"""

import math
import re
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

HEAD_DIM = 64  # both towers: heads = width / 64 (ViT-B 12, ViT-L 16, BERT-base 12, BERT-large 16)


@dataclass
class VisionConfig:
    image_size: int = 224
    patch_size: int = 16
    width: int = 768
    layers: int = 12
    mlp_width: int = 3072

    @property
    def heads(self):
        return max(1, self.width // HEAD_DIM)

    @property
    def grid(self):
        return self.image_size // self.patch_size


@dataclass
class TextConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    layers: int = 12
    intermediate_size: int = 3072
    max_positions: int = 512
    type_vocab_size: int = 2
    pad_id: int = 0

    @property
    def heads(self):
        return max(1, self.hidden_size // HEAD_DIM)


@dataclass
class CLIPConfig:
    embed_dim: int = 512
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(embed_dim=d["embed_dim"], vision=VisionConfig(**d["vision"]), text=TextConfig(**d["text"]))


VISION_CONFIGS = {
    "vit-b16": VisionConfig(image_size=224, patch_size=16, width=768, layers=12, mlp_width=3072),
    "vit-l14": VisionConfig(image_size=336, patch_size=14, width=1024, layers=24, mlp_width=4096),
    "vit-tiny": VisionConfig(image_size=32, patch_size=16, width=64, layers=2, mlp_width=256),
    "vit-demo": VisionConfig(image_size=112, patch_size=16, width=128, layers=4, mlp_width=512),
}
TEXT_CONFIGS = {
    "biomedbert-base": TextConfig(vocab_size=30522, hidden_size=768, layers=12, intermediate_size=3072),
    "biomedbert-large": TextConfig(vocab_size=30522, hidden_size=1024, layers=24, intermediate_size=4096),
    "bert-tiny": TextConfig(vocab_size=300, hidden_size=64, layers=2, intermediate_size=256, max_positions=256),
    "bert-demo": TextConfig(vocab_size=2000, hidden_size=128, layers=3, intermediate_size=512, max_positions=256),
}
# named model configs: (vision, text, embed_dim)
MODEL_CONFIGS = {
    "vit-b16": ("vit-b16", "biomedbert-base", 512),
    "vit-l14": ("vit-l14", "biomedbert-base", 768),
    "vit-l14-large-text": ("vit-l14", "biomedbert-large", 768),
    "tiny": ("vit-tiny", "bert-tiny", 32),
    "demo": ("vit-demo", "bert-demo", 64),
}


def make_config(name, vocab_size=None):
    v, t, d = MODEL_CONFIGS[name]
    text = TextConfig(**asdict(TEXT_CONFIGS[t]))
    if vocab_size is not None:
        text.vocab_size = vocab_size
    return CLIPConfig(embed_dim=d, vision=VisionConfig(**asdict(VISION_CONFIGS[v])), text=text)


def checkpointed(fn, *args):
    """Activation recomputation: keep only ``args`` and rerun ``fn`` in the backward pass.

    ``use_reentrant=False`` on every torch from 1.13 (where it exists) to 2.x (where omitting it warns): it needs
    no input that requires grad, and it works under DDP."""
    return torch.utils.checkpoint.checkpoint(fn, *args, use_reentrant=False)


# ----------------------------------------------------------------------------------------------- attention
def attention(q, k, v, heads, head_dim, bias=None):
    """q, k, v: [B, L, heads*head_dim] -> same. bias: additive, broadcastable to [B, heads, L, L]."""
    b, dh, w = q.shape[0], head_dim, heads * head_dim
    q = q.reshape(b, -1, heads, dh).transpose(1, 2)  # [B, H, L, dh]
    k = k.reshape(b, -1, heads, dh).transpose(1, 2)
    v = v.reshape(b, -1, heads, dh).transpose(1, 2)
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(dh))
    if bias is not None:
        scores = scores + bias.to(scores.dtype)
    probs = torch.softmax(scores, dim=-1)
    out = torch.matmul(probs, v)  # [B, H, L, dh]
    return out.transpose(1, 2).reshape(b, -1, w)


# ----------------------------------------------------------------------------------------------- image tower
class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class MultiheadSelfAttention(nn.Module):
    """Same parameters (and state-dict keys) as ``nn.MultiheadAttention(width, heads)``."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x):
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        return self.out_proj(attention(q, k, v, self.heads, self.head_dim))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, mlp_width):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, eps=1e-5)
        self.attn = MultiheadSelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width, eps=1e-5)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, mlp_width))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(mlp_width, width))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class VisionTransformerStack(nn.Module):
    def __init__(self, width, layers, heads, mlp_width):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads, mlp_width) for _ in range(layers)])
        self.grad_checkpointing = False

    def forward(self, x):
        for block in self.resblocks:
            x = checkpointed(block, x) if self.grad_checkpointing and torch.is_grad_enabled() else block(x)
        return x


class VisualTransformer(nn.Module):
    def __init__(self, cfg: VisionConfig, embed_dim: int):
        super().__init__()
        w = cfg.width
        scale = w ** -0.5
        self.cfg = cfg
        self.conv1 = nn.Conv2d(3, w, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(w))
        self.positional_embedding = nn.Parameter(scale * torch.randn(cfg.grid ** 2 + 1, w))
        self.ln_pre = nn.LayerNorm(w, eps=1e-5)
        self.transformer = VisionTransformerStack(w, cfg.layers, cfg.heads, cfg.mlp_width)
        self.ln_post = nn.LayerNorm(w, eps=1e-5)
        self.proj = nn.Parameter(scale * torch.randn(w, embed_dim))

    def forward(self, pixel_values):
        x = self.conv1(pixel_values)  # [B, W, g, g]
        x = x.flatten(2).transpose(1, 2)  # [B, g*g, W]
        cls = self.class_embedding.to(x.dtype).reshape(1, 1, -1).expand(x.shape[0], 1, x.shape[-1])
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = self.transformer(x)
        x = self.ln_post(x[:, 0, :])
        return x @ self.proj


# ----------------------------------------------------------------------------------------------- text tower
class BertEmbeddings(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_id)
        self.position_embeddings = nn.Embedding(cfg.max_positions, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=1e-12)

    def forward(self, input_ids):
        seq = input_ids.shape[1]
        x = self.word_embeddings(input_ids)
        x = x + self.position_embeddings.weight[:seq].unsqueeze(0)  # absolute positions 0..L-1
        x = x + self.token_type_embeddings.weight[0]  # token type ids are all zero
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        h = cfg.hidden_size
        self.heads, self.head_dim = cfg.heads, h // cfg.heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)

    def forward(self, x, bias):
        return attention(self.query(x), self.key(x), self.value(x), self.heads, self.head_dim, bias)


class BertDenseLayerNorm(nn.Module):
    """``attention.output`` and ``output``: dense -> (dropout) -> LayerNorm(x + residual)."""

    def __init__(self, d_in, d_out):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)
        self.LayerNorm = nn.LayerNorm(d_out, eps=1e-12)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertDenseLayerNorm(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x, bias):
        return self.output(self.self(x, bias), x)


class BertIntermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x):
        return F.gelu(self.dense(x))  # exact (erf) GELU


class BertLayer(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertDenseLayerNorm(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x, bias):
        x = self.attention(x, bias)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg) for _ in range(cfg.layers)])
        self.grad_checkpointing = False

    def forward(self, x, bias):
        for layer in self.layer:
            x = checkpointed(layer, x, bias) if self.grad_checkpointing and torch.is_grad_enabled() else layer(x, bias)
        return x


class BertModel(nn.Module):
    """Hugging Face ``BertModel`` without the pooler; returns the last hidden state."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)

    def forward(self, input_ids, attention_mask):
        x = self.embeddings(input_ids)
        # additive bias: 0 where attended, a large negative number on padding keys -> exp() underflows to 0
        keep = attention_mask.to(x.dtype)[:, None, None, :]  # [B, 1, 1, L]
        bias = (1.0 - keep) * torch.finfo(x.dtype).min
        return self.encoder(x, bias)


class TextEncoder(nn.Module):
    def __init__(self, cfg: TextConfig, embed_dim: int):
        super().__init__()
        d = cfg.hidden_size
        self.transformer = BertModel(cfg)
        mid = (d + embed_dim) // 2
        self.proj = nn.Sequential(nn.Linear(d, mid, bias=False), nn.GELU(), nn.Linear(mid, embed_dim, bias=False))

    def forward(self, input_ids, attention_mask):
        hidden = self.transformer(input_ids, attention_mask)
        return self.proj(hidden[:, 0, :])  # CLS pooling


# ----------------------------------------------------------------------------------------------- CLIP
class UniMedCLIP(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.cfg = cfg
        self.visual = VisualTransformer(cfg.vision, cfg.embed_dim)
        self.text_encoder = TextEncoder(cfg.text, cfg.embed_dim)
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))
        self._init_text()

    def _init_text(self):
        for m in self.text_encoder.modules():  # BERT's initializer_range 0.02
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        w = self.text_encoder.transformer.embeddings.word_embeddings.weight
        with torch.no_grad():
            w[self.cfg.text.pad_id].zero_()
        # open_clip's ViT init for the blocks
        width, layers = self.cfg.vision.width, self.cfg.vision.layers
        proj_std = (width ** -0.5) * ((2 * layers) ** -0.5)
        attn_std, fc_std = width ** -0.5, (2 * width) ** -0.5
        for block in self.visual.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)

    def set_grad_checkpointing(self, enable=True):
        """Recompute each transformer block of both towers in the backward pass instead of keeping its
        activations: memory per sample drops to about one [L, width] tensor per block, for about 1/3 more compute."""
        self.visual.transformer.grad_checkpointing = enable
        self.text_encoder.transformer.encoder.grad_checkpointing = enable

    def encode_image(self, pixel_values):
        return self.visual(pixel_values)

    def encode_text(self, input_ids, attention_mask=None):
        if attention_mask is None:
            attention_mask = (input_ids != self.cfg.text.pad_id).long()
        return self.text_encoder(input_ids, attention_mask)

    def forward(self, pixel_values, input_ids, attention_mask=None):
        img = F.normalize(self.encode_image(pixel_values), dim=-1)
        txt = F.normalize(self.encode_text(input_ids, attention_mask), dim=-1)
        return img, txt, self.logit_scale.exp()


class ImageEncoderExport(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.visual = model.visual

    def forward(self, pixel_values):
        return self.visual(pixel_values)


class TextEncoderExport(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.text_encoder = model.text_encoder

    def forward(self, input_ids, attention_mask):
        return self.text_encoder(input_ids, attention_mask)


# ----------------------------------------------------------------------------------------------- shapes -> config
def _count(sd, pattern):
    rx = re.compile(pattern)
    idx = {int(m.group(1)) for k in sd for m in [rx.match(k)] if m}
    return max(idx) + 1 if idx else 0


def config_from_state_dict(sd):
    """Infer the architecture from tensor shapes of a (prefix-stripped) released-layout state dict."""
    try:
        conv = sd["visual.conv1.weight"]
        pos = sd["visual.positional_embedding"]
        width, patch = conv.shape[0], conv.shape[-1]
        grid = int(round(math.sqrt(pos.shape[0] - 1)))
        vision = VisionConfig(
            image_size=grid * patch,
            patch_size=patch,
            width=width,
            layers=_count(sd, r"visual\.transformer\.resblocks\.(\d+)\."),
            mlp_width=sd["visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
        )
        p = "text_encoder.transformer."
        we = sd[p + "embeddings.word_embeddings.weight"]
        text = TextConfig(
            vocab_size=we.shape[0],
            hidden_size=we.shape[1],
            layers=_count(sd, r"text_encoder\.transformer\.encoder\.layer\.(\d+)\."),
            intermediate_size=sd[p + "encoder.layer.0.intermediate.dense.weight"].shape[0],
            max_positions=sd[p + "embeddings.position_embeddings.weight"].shape[0],
            type_vocab_size=sd[p + "embeddings.token_type_embeddings.weight"].shape[0],
        )
        embed_dim = sd["visual.proj"].shape[1]
    except KeyError as e:
        raise ValueError(f"not a UniMed-CLIP state dict: missing key {e.args[0]!r}") from None
    return CLIPConfig(embed_dim=embed_dim, vision=vision, text=text)
