import torch
import torch.nn as nn

from training.model import (BertLayer, ResidualAttentionBlock, TextConfig, UniMedCLIP, config_from_state_dict,
                            make_config)


def test_bert_layer_matches_torch_transformer_encoder_layer():
    torch.manual_seed(0)
    cfg = TextConfig(vocab_size=50, hidden_size=128, layers=1, intermediate_size=256, max_positions=32)
    ours = BertLayer(cfg).eval()
    for p in ours.parameters():  # non-trivial LayerNorm gains and biases too
        nn.init.normal_(p, std=0.2)
    ref = nn.TransformerEncoderLayer(128, nhead=cfg.heads, dim_feedforward=256, dropout=0.0, activation="gelu",
                                     layer_norm_eps=1e-12, batch_first=True, norm_first=False).eval()
    a = ours.attention
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(torch.cat([a.self.query.weight, a.self.key.weight, a.self.value.weight]))
        ref.self_attn.in_proj_bias.copy_(torch.cat([a.self.query.bias, a.self.key.bias, a.self.value.bias]))
        ref.self_attn.out_proj.weight.copy_(a.output.dense.weight)
        ref.self_attn.out_proj.bias.copy_(a.output.dense.bias)
        ref.norm1.load_state_dict(a.output.LayerNorm.state_dict())
        ref.linear1.load_state_dict(ours.intermediate.dense.state_dict())
        ref.linear2.load_state_dict(ours.output.dense.state_dict())
        ref.norm2.load_state_dict(ours.output.LayerNorm.state_dict())
    x = torch.randn(3, 9, 128)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    bias = (1.0 - mask.float())[:, None, None, :] * torch.finfo(torch.float32).min
    with torch.no_grad():
        got = ours(x, bias)
        want = ref(x, src_key_padding_mask=mask == 0)
    valid = mask.bool()
    torch.testing.assert_close(got[valid], want[valid], rtol=1e-4, atol=1e-4)


def test_vision_block_matches_nn_multihead_attention():
    torch.manual_seed(0)
    ours = ResidualAttentionBlock(128, 2, 512).eval()
    for p in ours.parameters():
        nn.init.normal_(p, std=0.1)
    mha = nn.MultiheadAttention(128, 2, batch_first=True).eval()
    mha.load_state_dict({k[len("attn."):]: v for k, v in ours.state_dict().items() if k.startswith("attn.")})
    x = torch.randn(2, 10, 128)
    with torch.no_grad():
        h = ours.ln_1(x)
        ref = x + mha(h, h, h, need_weights=False)[0]
        u = ours.mlp.c_fc(ours.ln_2(ref))
        ref = ref + ours.mlp.c_proj(u * torch.sigmoid(1.702 * u))  # QuickGELU
        got = ours(x)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_text_output_independent_of_padding():
    torch.manual_seed(0)
    model = UniMedCLIP(make_config("tiny")).eval()
    ids = torch.tensor([[2, 17, 45, 99, 3], [2, 8, 3, 0, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        base = model.encode_text(ids, mask)
        padded_ids = torch.cat([ids, torch.zeros(2, 11, dtype=torch.long)], 1)
        padded = model.encode_text(padded_ids, (padded_ids != 0).long())
        alone = model.encode_text(ids[1:, :3], mask[1:, :3])
    torch.testing.assert_close(base, padded, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(base[1:], alone, rtol=1e-5, atol=1e-6)


def test_architecture_inferred_from_shapes():
    for name in ("tiny", "demo"):
        cfg = make_config(name)
        assert config_from_state_dict(UniMedCLIP(cfg).state_dict()) == cfg
    cfg = make_config("vit-b16")
    assert (cfg.vision.heads, cfg.text.heads, cfg.vision.image_size, cfg.embed_dim) == (12, 12, 224, 512)
    cfg = make_config("vit-l14-large-text")
    assert (cfg.vision.heads, cfg.text.heads, cfg.vision.image_size, cfg.vision.grid) == (16, 16, 336, 24)


def test_released_key_layout():
    keys = set(UniMedCLIP(make_config("tiny")).state_dict())
    for k in ["logit_scale", "visual.conv1.weight", "visual.class_embedding", "visual.positional_embedding",
              "visual.ln_pre.weight", "visual.ln_post.bias", "visual.proj",
              "visual.transformer.resblocks.1.attn.in_proj_weight", "visual.transformer.resblocks.1.attn.in_proj_bias",
              "visual.transformer.resblocks.1.attn.out_proj.weight", "visual.transformer.resblocks.0.mlp.c_fc.bias",
              "visual.transformer.resblocks.0.mlp.c_proj.weight", "visual.transformer.resblocks.0.ln_2.weight",
              "text_encoder.transformer.embeddings.word_embeddings.weight",
              "text_encoder.transformer.embeddings.position_embeddings.weight",
              "text_encoder.transformer.embeddings.token_type_embeddings.weight",
              "text_encoder.transformer.embeddings.LayerNorm.weight",
              "text_encoder.transformer.encoder.layer.1.attention.self.query.weight",
              "text_encoder.transformer.encoder.layer.1.attention.output.dense.bias",
              "text_encoder.transformer.encoder.layer.1.attention.output.LayerNorm.weight",
              "text_encoder.transformer.encoder.layer.1.intermediate.dense.weight",
              "text_encoder.transformer.encoder.layer.1.output.dense.weight",
              "text_encoder.transformer.encoder.layer.1.output.LayerNorm.bias",
              "text_encoder.proj.0.weight", "text_encoder.proj.2.weight"]:
        assert k in keys, k
    assert "visual.conv1.bias" not in keys and "text_encoder.proj.0.bias" not in keys
    assert not any("pooler" in k for k in keys)
