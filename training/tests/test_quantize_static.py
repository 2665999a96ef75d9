import hashlib
import json
import os

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from training import export, quantize, quantize_static
from training.data import load_images, read_manifest
from training.random_checkpoint import random_state_dict, synthetic_vocab
from training.synthetic import generate
from training.tokenizer import BertTokenizer, save_vocab

SIZE = 32  # the tiny architecture's image size


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random checkpoint exported as fp32 and with --quantize int8-static (small calibration set)."""
    d = tmp_path_factory.mktemp("qdq")
    sd, cfg = random_state_dict("tiny", seed=5)
    assert cfg.vision.image_size == SIZE
    ckpt = d / "ckpt.pt"
    torch.save({"state_dict": sd}, ckpt)
    vocab = d / "vocab.txt"
    save_vocab(synthetic_vocab(cfg.text.vocab_size), str(vocab))
    fp32, static = d / "fp32", d / "static"
    assert export.main(["--checkpoint", str(ckpt), "--vocab", str(vocab), "--out", str(fp32), "--id", "t"]) == 0
    assert export.main(["--checkpoint", str(ckpt), "--vocab", str(vocab), "--out", str(static), "--id", "ts",
                        "--quantize", "int8-static", "--calibration-per-class", "4"]) == 0
    return fp32, static


def _weight_matmuls(model):
    inits = {i.name: i for i in model.graph.initializer}
    return [n for n in model.graph.node if quantize.weight_of(n, inits)]


def test_quantize_and_dequantize_linear_match_the_onnx_spec_examples():
    q = quantize._quantize_linear(torch.tensor([0, 2, 3, 1000, -254, -1000.0]), torch.tensor(2.0),
                                  torch.tensor(128, dtype=torch.uint8), 1)
    assert q.dtype == torch.uint8 and q.tolist() == [128, 129, 130, 255, 1, 0]  # 3 / 2 = 1.5 rounds to even
    q = quantize._quantize_linear(torch.tensor([0, 2, 3, 1000, -254, -1000.0]), torch.tensor(2.0),
                                  torch.tensor(-10, dtype=torch.int8), 1)
    assert q.dtype == torch.int8 and q.tolist() == [-10, -9, -8, 127, -128, -128]
    x = quantize._dequantize_linear(torch.tensor([0, 3, 128, 255], dtype=torch.uint8), torch.tensor(2.0),
                                    torch.tensor(128, dtype=torch.uint8), 1)
    assert x.tolist() == [-256, -250, 0, 254]
    # per axis: one scale per column of a [K, N] weight
    w = quantize._dequantize_linear(torch.tensor([[1, -2], [3, 4]], dtype=torch.int8), torch.tensor([0.5, 2.0]),
                                    torch.zeros(2, dtype=torch.int8), 1)
    assert w.tolist() == [[0.5, -4.0], [1.5, 8.0]]


def test_ranges_percentile_ignores_a_lone_outlier_and_always_include_zero():
    obs = quantize_static.RangeObserver(batches=2)
    x = torch.linspace(1, 2, 100_000)
    obs(x)
    obs(torch.cat([x[:-1], torch.tensor([500.0])]))
    assert obs.range("minmax") == (0.0, 500.0)
    lo, hi = obs.range("percentile", 99.99)
    assert lo == 0.0 and 1.99 < hi <= 2.0
    scale, zero = quantize_static.activation_qparams(-1.0, 3.0)
    assert zero == 64 and abs(scale - 4 / 255) < 1e-7  # 0 maps exactly to the zero point
    with pytest.raises(ValueError, match="unknown calibration method"):
        obs.range("entropy")


def _calibrated(fp32, name, per_class=2):
    """The fp32 graph `name` of the tiny export and its calibrated ranges (images or captions of the calibration
    seed)."""
    model = onnx.load(str(fp32 / name))
    pixels, captions, _ = quantize_static.calibration_set(SIZE, per_class=per_class)
    feeds = ([{"pixel_values": pixels.numpy()}] if name == "image_encoder.onnx"
             else quantize_static._text_feeds(str(fp32), captions))
    return model, quantize_static.calibrate(model, feeds)


def test_static_graphs_pass_the_checker_and_run_every_weight_matmul_as_one_fused_int8_op(tiny):
    fp32, static = tiny
    for name in ("image_encoder.onnx", "text_encoder.onnx"):
        before, after = onnx.load(str(fp32 / name)), onnx.load(str(static / name))
        onnx.checker.check_model(after)
        assert {o.domain: o.version for o in after.opset_import}["com.microsoft"] == 1
        weights = _weight_matmuls(before)
        inits = {i.name: i for i in after.graph.initializer}
        producer = {o: n for n in after.graph.node for o in n.output}
        ops = [n.op_type for n in after.graph.node]
        fused = [n for n in after.graph.node if n.op_type in ("MatMulIntegerToFloat", "QAttention")]
        assert len(weights) > 0 and len(fused) == len(weights)
        assert "DequantizeLinear" not in ops
        assert ops.count("QuantizeLinear") == len({n.input[0] for n in weights})  # one per activation tensor
        for n in fused:
            assert n.domain == "com.microsoft"
            if n.op_type == "QAttention":  # input, weight, bias, input scale, weight scale, mask, zero points
                a, w, bias, a_scale, w_scale, mask, a_zero, w_zero = n.input
                assert mask == "" and {x.name: x.i for x in n.attribute}["num_heads"] == 1  # width 64
            else:  # A, B, a scale, b scale, a zero point, b zero point[, bias]
                a, w, a_scale, w_scale, a_zero, w_zero = n.input[:6]
                bias = n.input[6] if len(n.input) > 6 else w_scale
            assert producer[a].op_type == "QuantizeLinear" and producer[a].input[1:] == [a_scale, a_zero]
            assert inits[a_zero].data_type == onnx.TensorProto.UINT8 and len(inits[a_scale].dims) == 0
            assert inits[w].data_type == onnx.TensorProto.INT8 and len(inits[w].dims) == 2
            assert list(inits[w_scale].dims) == list(inits[bias].dims) == [inits[w].dims[1]]
            assert inits[w_zero].data_type == onnx.TensorProto.INT8
            assert not onnx.numpy_helper.to_array(inits[w_zero]).any()
        # every bias Add after a quantized MatMul is inside its fused op
        b_inits = {i.name: i for i in before.graph.initializer}
        readers = {}
        for n in before.graph.node:
            for i in n.input:
                readers.setdefault(i, []).append(n)
        aliases = quantize_static.identity_aliases(before.graph, b_inits)
        with_bias = [n for n in weights if quantize_static.bias_add_of(n, readers, b_inits, set(), aliases)]
        assert len(weights) - 2 <= len(with_bias) == sum(len(n.input) > 6 or n.op_type == "QAttention" for n in fused)
        assert not [n for n in after.graph.node if n.op_type == "Add" and any(i in inits for i in n.input)
                    and any(producer.get(i) in fused for i in n.input)]
        if name == "image_encoder.onnx":  # every self-attention block is one QAttention: no float attention left
            assert ops.count("QAttention") == 2 and "Softmax" not in ops and "MatMul" not in ops
        else:  # BERT's separate Q, K, V projections with a padding mask keep their float attention
            assert "QAttention" not in ops and ops.count("Softmax") == 2
        assert not any(n.input[1] in inits for n in weights)  # no float copy of a quantized weight is left
        assert [i.name for i in after.graph.input] == [i.name for i in before.graph.input]
        assert [o.name for o in after.graph.output] == [o.name for o in before.graph.output]


def test_plain_qdq_form_has_qdq_around_every_weight_matmul_and_matches_the_fused_graph(tiny, tmp_path):
    fp32, _ = tiny
    generate(str(tmp_path), 1, 777)
    feeds = {"pixel_values": load_images(read_manifest(str(tmp_path / "labels.csv")), SIZE).numpy()}
    for name in ("image_encoder.onnx", "text_encoder.onnx"):
        before, ranges = _calibrated(fp32, name)
        weights = _weight_matmuls(before)
        plain, n = quantize_static.qdq_model(onnx.load(str(fp32 / name)), ranges, fused=False)
        fused, m = quantize_static.qdq_model(onnx.load(str(fp32 / name)), ranges)
        onnx.checker.check_model(plain)
        assert n == m == len(weights) and all(o.domain in ("", "ai.onnx") for o in plain.opset_import)
        inits = {i.name: i for i in plain.graph.initializer}
        producer = {o: n for n in plain.graph.node for o in n.output}
        ops = [n.op_type for n in plain.graph.node]
        assert ops.count("DequantizeLinear") == 2 * len(weights)
        assert ops.count("MatMul") == sum(n.op_type == "MatMul" for n in before.graph.node)
        assert ops.count("QuantizeLinear") == len({n.input[0] for n in weights})
        quantized = [n for n in plain.graph.node if n.op_type == "MatMul" and n.input[0] in producer
                     and producer[n.input[0]].op_type == "DequantizeLinear"]
        assert sorted(n.output[0] for n in quantized) == sorted(n.output[0] for n in weights)
        for n in quantized:
            dq_a, dq_w = producer[n.input[0]], producer[n.input[1]]
            q_a = producer[dq_a.input[0]]
            assert q_a.op_type == "QuantizeLinear" and q_a.input[1:] == dq_a.input[1:]
            assert inits[dq_w.input[0]].data_type == onnx.TensorProto.INT8
            assert {a.name: a.i for a in dq_w.attribute} == {"axis": 1}
        if name == "text_encoder.onnx":
            tok = BertTokenizer(json.loads((fp32 / "tokenizer.json").read_text())["model"]["vocab"])
            ids, mask = tok.batch_tensors(["an mri of the brain", "chest x-ray, normal study"])
            feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
        out = plain.graph.output[0].name
        a, b = quantize.run_graph(plain, feeds)[out], quantize.run_graph(fused, feeds)[out]
        # the same integers and scales: only float rounding (and a rare activation code it flips) differs
        assert F.cosine_similarity(a.double(), b.double(), dim=-1).min() > 0.9999


def test_attention_blocks_are_fused_only_when_they_compute_attention_of_the_projection_thirds(tiny):
    fp32, _ = tiny
    model = onnx.load(str(fp32 / "image_encoder.onnx"))
    inits = {i.name: i for i in model.graph.initializer}
    aliases = quantize_static.identity_aliases(model.graph, inits)
    found = quantize_static.attention_blocks(model.graph, inits, aliases)
    assert len(found) == 2 and all(heads == 1 for _, _, _, heads in found.values())
    demo = onnx.load(os.path.join(os.path.dirname(__file__), "..", "..", "models", "demo", "image_encoder.onnx"))
    demo_inits = {i.name: i for i in demo.graph.initializer}
    demo_found = quantize_static.attention_blocks(demo.graph, demo_inits,
                                                  quantize_static.identity_aliases(demo.graph, demo_inits))
    assert len(demo_found) == 4 and all(heads == 2 for _, _, _, heads in demo_found.values())  # width 128
    # a different scale of Q.K^T is no longer attention as QAttention computes it: nothing is fused
    producer = {o: n for n in model.graph.node for o in n.output}
    for soft in (n for n in model.graph.node if n.op_type == "Softmax"):
        scale = producer[soft.input[0]]
        assert scale.op_type in ("Mul", "Div")
        const = next(i for i in scale.input if i in producer and producer[i].op_type == "Constant" or i in inits)
        if const in inits:
            arr = onnx.numpy_helper.to_array(inits[const]) * 2
            inits[const].CopyFrom(onnx.numpy_helper.from_array(arr.astype(np.float32), const))
        else:
            attr = producer[const].attribute[0]
            arr = onnx.numpy_helper.to_array(attr.t) * 2
            attr.t.CopyFrom(onnx.numpy_helper.from_array(arr.astype(np.float32), attr.t.name))
    assert quantize_static.attention_blocks(model.graph, inits, aliases) == {}


def test_static_outputs_stay_close_to_fp32_on_inputs_not_used_for_calibration(tiny, tmp_path):
    fp32, static = tiny
    generate(str(tmp_path), 3, 777)  # the held-out seed: never a calibration seed
    rows = read_manifest(str(tmp_path / "labels.csv"))
    pixels = load_images(rows, SIZE)
    m = json.loads((static / "model.json").read_text())
    quantize_static.check_calibration_disjoint(m["quantization"], quantize_static.image_hashes(str(tmp_path), rows),
                                               SIZE)
    feeds = {"pixel_values": pixels.numpy()}
    a = quantize.run_graph(onnx.load(str(fp32 / "image_encoder.onnx")), feeds)["image_embeds"]
    b = quantize.run_graph(onnx.load(str(static / "image_encoder.onnx")), feeds)["image_embeds"]
    cos = F.cosine_similarity(a.double(), b.double(), dim=-1)
    assert cos.min() > 0.99 and cos.min() < 0.999999  # close, and really quantized
    vocab = json.loads((fp32 / "tokenizer.json").read_text())["model"]["vocab"]
    tok = BertTokenizer(vocab)
    ids, mask = tok.batch_tensors(["an mri of the brain with a small lesion", "chest x-ray, normal study", ""])
    feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    a = quantize.run_graph(onnx.load(str(fp32 / "text_encoder.onnx")), feeds)["text_embeds"]
    b = quantize.run_graph(onnx.load(str(static / "text_encoder.onnx")), feeds)["text_embeds"]
    assert F.cosine_similarity(a.double(), b.double(), dim=-1).min() > 0.99


def test_calibration_and_evaluation_sets_are_disjoint(tmp_path):
    _, captions, cal = quantize_static.calibration_set(SIZE, quantize_static.CALIBRATION_SEED, 4)
    rows = generate(str(tmp_path), 4, 777)
    held_out = quantize_static.image_hashes(str(tmp_path), rows)
    assert len(cal) == len(set(cal)) == 24 and len(captions) == 24
    assert not set(cal) & set(held_out)
    quantize_static.assert_disjoint(cal, held_out)
    with pytest.raises(quantize_static.CalibrationOverlapError):
        quantize_static.assert_disjoint(cal, held_out + cal[:1])
    with pytest.raises(quantize_static.CalibrationOverlapError, match="held-out"):
        quantize_static.calibration_set(SIZE, 777, 1)
    record = {"calibration": {"seed": quantize_static.CALIBRATION_SEED, "per_class": 4,
                              "images_sha256": quantize_static.digest(cal)}}
    assert quantize_static.check_calibration_disjoint(record, held_out, SIZE) == cal
    with pytest.raises(quantize_static.CalibrationOverlapError, match="evaluation images"):
        quantize_static.check_calibration_disjoint(record, cal[3:5], SIZE)


def test_static_manifest_records_calibration_and_measured_tolerances(tiny):
    _, static = tiny
    m = json.loads((static / "model.json").read_text())
    for n, digest in m["files"].items():
        assert hashlib.sha256((static / n).read_bytes()).hexdigest() == digest
    q, g = m["quantization"], m["golden"]
    cal = q["calibration"]
    assert cal["seed"] == quantize_static.CALIBRATION_SEED and cal["seed"] not in cal["disjoint_from"]["held_out_seeds"]
    assert cal["images"] == cal["texts"] == 24 and cal["range"] == "percentile 99.99"
    assert q["method"].startswith("static int8 (QDQ, fused)")
    measured = q["golden_cosine_to_fp32"]
    assert 0.9 < g["text_min_cosine"] <= measured["text_min"] < 0.999999
    assert 0.9 < g["image_exact_min_cosine"] <= measured["image_exact"]
    assert 0.9 < g["image_resized_min_cosine"] <= measured["image_resized"]
    again = quantize.golden_cosines(str(static), SIZE)
    assert again["text_min"] == pytest.approx(measured["text_min"], abs=1e-6)


def test_compare_reports_dynamic_and_static_side_by_side_on_the_demo(tmp_path):
    demo = os.path.join(os.path.dirname(__file__), "..", "..", "models", "demo")
    dyn, static = str(tmp_path / "dyn"), str(tmp_path / "static")
    quantize.quantize_exported(demo, dyn)
    m = quantize.quantize_exported(demo, static, method="static", calibration={"per_class": 2})
    assert m["id"] == "unimed-demo-int8-static" and m["quantization"]["calibration"]["images"] == 12
    r = quantize.compare(demo, [dyn, static], per_class=2, seed=777, work=str(tmp_path / "eval"))
    assert r["images"] == 12 and r["int8_static_calibration_disjoint"] is True
    for tag in ("int8", "int8_static"):
        assert 0 <= r[f"{tag}_modality_accuracy"] <= 1 and r[f"image_cosine_{tag}_vs_fp32"]["min"] > 0.99
    with pytest.raises(quantize.AlreadyQuantizedError):
        quantize.quantize_exported(static, str(tmp_path / "twice"), method="static")
    assert np.isfinite(r["fp32_modality_accuracy"])
