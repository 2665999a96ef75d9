import hashlib
import json
import os

import numpy as np
import onnx
import pytest
import torch

from training import export, quantize
from training.random_checkpoint import random_state_dict, synthetic_vocab
from training.tokenizer import save_vocab

DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "models", "demo")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random checkpoint exported twice: fp32 and --quantize int8."""
    d = tmp_path_factory.mktemp("quant")
    sd, cfg = random_state_dict("tiny", seed=5)
    ckpt = d / "ckpt.pt"
    torch.save({"state_dict": sd}, ckpt)
    vocab = d / "vocab.txt"
    save_vocab(synthetic_vocab(cfg.text.vocab_size), str(vocab))
    fp32, int8 = d / "fp32", d / "int8"
    assert export.main(["--checkpoint", str(ckpt), "--vocab", str(vocab), "--out", str(fp32), "--id", "t"]) == 0
    assert export.main(["--checkpoint", str(ckpt), "--vocab", str(vocab), "--out", str(int8), "--id", "t8",
                        "--quantize", "int8"]) == 0
    return fp32, int8


def test_dynamic_quantize_linear_matches_the_onnx_spec_example():
    q, scale, zero = quantize._dql(torch.tensor([0, 2, -3, -2.5, 1.34, 0.5]))
    assert abs(float(scale) - 5 / 255) < 1e-7 and int(zero) == 153
    assert q.tolist() == [153, 255, 0, 26, 221, 179]  # 0.5 / scale = 25.5 rounds to even


def test_weights_are_symmetric_per_column_with_bounded_error():
    rng = np.random.RandomState(0)
    w = rng.randn(64, 8).astype(np.float32) * np.arange(1, 9, dtype=np.float32)  # columns of different ranges
    w[:, 3] = 0
    q, scale = quantize.quantize_weight(w)
    assert q.dtype == np.int8 and scale.shape == (8,) and np.abs(q).max() == 127
    assert np.all(np.abs(q.astype(np.float32) * scale - w) <= scale / 2 + 1e-7)
    assert np.all(q[:, 3] == 0)
    q7, _ = quantize.quantize_weight(w, reduce_range=True)
    assert np.abs(q7).max() == 63


def test_reference_evaluator_reproduces_the_fp32_golden_outputs(tiny):
    fp32, _ = tiny
    measured = quantize.golden_cosines(str(fp32), 32)
    assert measured["text_min"] > 0.99999 and measured["image_exact"] > 0.99999
    assert measured["image_resized"] > 0.99999


def test_int8_graphs_use_integer_matmuls_for_every_weight(tiny):
    fp32, int8 = tiny
    for name in ("image_encoder.onnx", "text_encoder.onnx"):
        before = onnx.load(str(fp32 / name))
        after = onnx.load(str(int8 / name))
        onnx.checker.check_model(after)
        inits = {i.name: i for i in before.graph.initializer}
        weights = [n for n in before.graph.node if n.op_type == "MatMul" and n.input[1] in inits
                   and len(inits[n.input[1]].dims) == 2 and int(np.prod(inits[n.input[1]].dims)) >= 1024]
        ops = [n.op_type for n in after.graph.node]
        assert len(weights) > 0 and ops.count("MatMulInteger") == len(weights)
        assert ops.count("DynamicQuantizeLinear") == len(weights)
        assert ops.count("MatMul") == sum(n.op_type == "MatMul" for n in before.graph.node) - len(weights)
        # the float weights are gone, not stored twice
        names = {i.name for i in after.graph.initializer}
        assert not any(n.input[1] in names for n in weights)
        assert [i.name for i in after.graph.input] == [i.name for i in before.graph.input]
        assert [o.name for o in after.graph.output] == [o.name for o in before.graph.output]


def test_int8_manifest_carries_measured_tolerances_and_correct_hashes(tiny):
    _, int8 = tiny
    m = json.loads((int8 / "model.json").read_text())
    for n, digest in m["files"].items():
        assert hashlib.sha256((int8 / n).read_bytes()).hexdigest() == digest
    g, q = m["golden"], m["quantization"]
    measured = q["golden_cosine_to_fp32"]
    assert q["weights_bits"] == 8 and q["files"]["image_encoder.onnx"]["matmuls_quantized"] > 0
    assert g["text_min_cosine"] < export.TOLERANCES["text_min_cosine"]
    assert 0.9 < g["text_min_cosine"] <= measured["text_min"]
    assert 0.9 < g["image_exact_min_cosine"] <= measured["image_exact"]
    assert 0.9 < g["image_resized_min_cosine"] <= measured["image_resized"]
    # the int8 graphs really differ from fp32 (else the test proves nothing) but stay close
    again = quantize.golden_cosines(str(int8), 32)
    assert 0.99 < again["text_min"] < 0.999999
    assert again["text_min"] == pytest.approx(measured["text_min"], abs=1e-6)


def test_quantize_exported_directory_and_compare_on_the_demo(tmp_path):
    out = tmp_path / "demo-int8"
    m = quantize.quantize_exported(DEMO, str(out))
    assert m["id"] == "unimed-demo-int8" and m["quantization"]["source_model"] == "demo"
    with open(os.path.join(DEMO, "model.json"), encoding="utf-8") as f:
        src = json.load(f)
    assert m["evaluation"] == src["evaluation"] and m["files"]["golden.json"] == src["files"]["golden.json"]
    assert m["files"]["image_encoder.onnx"] != src["files"]["image_encoder.onnx"]
    r = quantize.compare(DEMO, str(out), per_class=2, seed=777, work=str(tmp_path / "eval"))
    assert r["images"] == 12 and r["image_cosine_int8_vs_fp32"]["min"] > 0.99
    assert 0 <= r["int8_modality_accuracy"] <= 1 and 0 <= r["fp32_modality_accuracy"] <= 1
    with pytest.raises(quantize.AlreadyQuantizedError, match="already quantized"):
        quantize.quantize_exported(str(out), str(tmp_path / "twice"))
    assert quantize.main(["--from-dir", str(out), "--out", str(tmp_path / "twice")]) == 1
