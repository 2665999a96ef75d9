import pytest
import torch

from training.checkpoint import CheckpointError, load_model
from training.model import UniMedCLIP, make_config


@pytest.fixture(scope="module")
def state_dict():
    torch.manual_seed(0)
    return UniMedCLIP(make_config("tiny")).state_dict()


def test_accepts_module_prefix_and_position_ids(tmp_path, state_dict):
    sd = {"module." + k: v for k, v in state_dict.items()}
    sd["module.text_encoder.transformer.embeddings.position_ids"] = torch.arange(256)[None]
    path = tmp_path / "ddp.pt"
    torch.save({"state_dict": sd, "epoch": 3}, path)
    model = load_model(str(path))
    for k, v in model.state_dict().items():
        assert torch.equal(v, state_dict[k]), k


def test_accepts_raw_state_dict(tmp_path, state_dict):
    path = tmp_path / "raw.pt"
    torch.save(state_dict, path)
    assert load_model(str(path)).cfg == make_config("tiny")


def test_rejects_renamed_key_and_names_it(tmp_path, state_dict):
    sd = dict(state_dict)
    sd["visual.ln_post.gamma"] = sd.pop("visual.ln_post.weight")
    path = tmp_path / "renamed.pt"
    torch.save({"state_dict": sd}, path)
    with pytest.raises(CheckpointError) as e:
        load_model(str(path))
    assert "visual.ln_post.weight" in str(e.value) and "visual.ln_post.gamma" in str(e.value)


def test_rejects_unknown_extra_key(tmp_path, state_dict):
    sd = dict(state_dict)
    sd["text_encoder.transformer.pooler.dense.weight"] = torch.zeros(64, 64)
    path = tmp_path / "extra.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match="text_encoder.transformer.pooler.dense.weight"):
        load_model(str(path))
