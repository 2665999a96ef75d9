"""The committed demo model (models/demo): manifest, evaluation record, tokenizer, and the generator behind it."""

import hashlib
import json
import os

import pytest

from training.make_demo import EVAL_PER_CLASS, EVAL_SEED, TRAIN_SEED
from training.synthetic import MODALITIES, generate
from training.tokenizer import BertTokenizer

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "models", "demo")


@pytest.fixture(scope="module")
def manifest():
    with open(os.path.join(DEMO, "model.json"), encoding="utf-8") as f:
        return json.load(f)


def test_files_present_and_hashed(manifest):
    names = set(os.listdir(DEMO)) - {"model.json", "calibration.json", "calibration.json.sha256"}  # calibration: not part of the identity
    assert set(manifest["files"]) == names
    for n, sha in manifest["files"].items():
        with open(os.path.join(DEMO, n), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == sha, n
    total = sum(os.path.getsize(os.path.join(DEMO, n)) for n in os.listdir(DEMO))
    assert total < 10 * 1024 * 1024


def test_recorded_zero_shot_accuracy(manifest):
    ev = manifest["evaluation"]
    assert ev["modality_accuracy"] >= 0.90
    assert ev["held_out_images"] == 300 == 6 * EVAL_PER_CLASS
    assert ev["held_out_seed"] == EVAL_SEED != TRAIN_SEED == ev["train_seed"]
    card = open(os.path.join(DEMO, "MODEL_CARD.md"), encoding="utf-8").read()
    assert f"{ev['modality_accuracy']:.1%}" in card and str(EVAL_SEED) in card
    for text in (manifest["intended_use"], card, ev["trained_on"]):
        assert "synthetic" in text and "not a medical model" in text
    assert "python3 -m training.make_demo" in card


def test_prompt_sets():
    with open(os.path.join(DEMO, "prompt_sets.json"), encoding="utf-8") as f:
        ps = json.load(f)["prompt_sets"]
    assert ps["modality"]["labels"] == MODALITIES and len(ps["modality"]["templates"]) >= 3
    assert all("{}" in t for t in ps["modality"]["templates"])
    assert len(ps["finding"]["labels"]) >= 2


def test_golden_ids_reproduced_from_tokenizer_json():
    with open(os.path.join(DEMO, "tokenizer.json"), encoding="utf-8") as f:
        tok = BertTokenizer(json.load(f)["model"]["vocab"])
    with open(os.path.join(DEMO, "golden.json"), encoding="utf-8") as f:
        golden = json.load(f)
    assert len(golden["texts"]) >= 10
    for t in golden["texts"]:
        assert tok.encode(t["text"]) == t["input_ids"]


def test_synthetic_generator_is_deterministic(tmp_path):
    a = generate(str(tmp_path / "a"), per_class=2, seed=EVAL_SEED)
    b = generate(str(tmp_path / "b"), per_class=2, seed=EVAL_SEED)
    assert a == b and [r["modality"] for r in a[:6]] == MODALITIES
    for r in a:
        assert (tmp_path / "a" / r["path"]).read_bytes() == (tmp_path / "b" / r["path"]).read_bytes()
    c = generate(str(tmp_path / "c"), per_class=2, seed=TRAIN_SEED)
    assert (tmp_path / "a" / a[0]["path"]).read_bytes() != (tmp_path / "c" / c[0]["path"]).read_bytes()
