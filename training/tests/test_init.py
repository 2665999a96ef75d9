import argparse

import torch

from training.model import UniMedCLIP, make_config
from training.train import build_model, lr_lambda, param_groups


def test_init_from_openclip_visual_and_hf_bert(tmp_path):
    torch.manual_seed(0)
    src = UniMedCLIP(make_config("tiny")).state_dict()
    openclip = {k: v for k, v in src.items() if k.startswith("visual.")}
    openclip.update({"token_embedding.weight": torch.zeros(10, 4), "text_projection": torch.zeros(4, 4),
                     "logit_scale": torch.tensor(4.6)})  # the CLIP text tower is ignored
    bert = {"bert." + k[len("text_encoder.transformer."):]: v for k, v in src.items()
            if k.startswith("text_encoder.transformer.")}
    bert.update({"bert.pooler.dense.weight": torch.zeros(64, 64), "cls.predictions.bias": torch.zeros(300),
                 "bert.embeddings.position_ids": torch.arange(256)[None]})
    torch.save({"state_dict": {"module." + k: v for k, v in openclip.items()}}, tmp_path / "oc.pt")
    torch.save(bert, tmp_path / "bert.bin")
    args = argparse.Namespace(init_checkpoint=None, init_visual=str(tmp_path / "oc.pt"),
                              init_text=str(tmp_path / "bert.bin"), arch="tiny")
    model, how = build_model(args, 300)
    assert how == "openclip-visual+hf-bert" and model.cfg == make_config("tiny")
    for k, v in model.state_dict().items():
        if k.startswith(("visual.", "text_encoder.transformer.")):
            assert torch.equal(v, src[k]), k


def test_no_weight_decay_on_gains_biases_embeddings():
    model = UniMedCLIP(make_config("tiny"))
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    nd = {names[id(p)] for p in param_groups(model, 0.1)[1]["params"]}
    d = {names[id(p)] for p in param_groups(model, 0.1)[0]["params"]}
    assert "logit_scale" in nd and "visual.class_embedding" in nd and "visual.positional_embedding" in nd
    assert "text_encoder.transformer.embeddings.word_embeddings.weight" in nd
    assert "visual.ln_pre.weight" in nd and "text_encoder.transformer.encoder.layer.0.output.dense.bias" in nd
    assert "visual.proj" in d and "visual.conv1.weight" in d and "text_encoder.proj.0.weight" in d
    assert decay["weight_decay"] == 0.1


def test_cosine_schedule_with_warmup():
    f = lr_lambda(10, 100)
    assert f(0) == 0.1 and f(9) == 1.0 and abs(f(55) - 0.5) < 1e-9 and f(100) == 0.0
