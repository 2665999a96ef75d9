"""The model a training run starts from: a UniMed-CLIP checkpoint, pretrained towers, or random weights."""

from .checkpoint import check_keys, extract_state_dict, model_from_state_dict, torch_load
from .model import UniMedCLIP, config_from_state_dict, make_config


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
    """-> model, description of the initialisation (args: init_checkpoint, init_visual, init_text, arch)."""
    if args.init_checkpoint:
        return model_from_state_dict(extract_state_dict(torch_load(args.init_checkpoint))), "unimed-checkpoint"
    if args.init_visual or args.init_text:
        if not (args.init_visual and args.init_text):
            raise ValueError("--init-visual and --init-text go together")
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
