"""Static int8 quantization (QDQ format) of the exported encoders, calibrated on data the evaluation never sees.

    python3 -m training.quantize --from-dir FP32_DIR --out INT8_DIR --method static
        [--calibration-seed 4242 --calibration-per-class 8 --calibration-method percentile --percentile 99.99]

(`python3 -m training.export ... --quantize int8-static` does the same straight from a checkpoint.)

The MatMuls the dynamic path quantizes (constant 2-D float weights, training.quantize.weight_of) get

    A --QuantizeLinear(a_scale, a_zero: uint8, per tensor)--> A_u8 --DequantizeLinear--> A'
    W_s8 (int8 initializer) --DequantizeLinear(w_scale[N], zero 0, axis 1)--> W'
    MatMul(A', W') -> Y (float)

so that onnxruntime's CPU provider folds each DequantizeLinear pair and its MatMul into one MatMulIntegerToFloat
(u8 x s8, the VNNI kernels) fed by the QuantizeLinear; unlike the dynamic path no min/max pass over the
activation runs at inference. One QuantizeLinear per activation tensor (shared by the MatMuls that read it), one
DequantizeLinear per MatMul input (onnxruntime fuses a DequantizeLinear only into its single consumer).

Activation ranges come from running the fp32 graph with training.quantize's torch reference evaluator on the
calibration set: `training.synthetic` images of CALIBRATION_SEED (and their captions for the text encoder), a seed
the held-out evaluation (seed 777) and the demo's training (seed 1) do not use; `compare` asserts that no
calibration image is an evaluation image. Method `percentile` (default) takes the lower and upper `percentile`
of each tensor's values (a strided sample of at most 2^20 values per tensor), `minmax` the extremes; the range
always includes 0 (so that 0 is exact), as onnxruntime's own calibrator does.
"""

import hashlib
import math
import os
import tempfile

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from .quantize import QUANT_MIN_ELEMENTS, golden_cosines, quantize_weight, replace_nodes, run_graph, tolerances_from, weight_of

CALIBRATION_SEED = 4242
CALIBRATION_PER_CLASS = 8  # 48 images and 48 captions
HELD_OUT_SEEDS = (777,)  # training.make_demo EVAL_SEED: never a calibration seed
PERCENTILE = 99.99
SAMPLE_CAP = 1 << 20
IMAGE_BATCH = 8


class CalibrationOverlapError(ValueError):
    """Calibration data that is (or may be) evaluation data."""


# ----------------------------------------------------------------------------------------------- calibration data
def calibration_set(size, seed=CALIBRATION_SEED, per_class=CALIBRATION_PER_CLASS, work=None):
    """training.synthetic images of `seed`, preprocessed, with their captions.
    -> (pixels [N, 3, S, S], captions, sha256 of each PNG)."""
    from .image import load_rgb, preprocess
    from .synthetic import generate

    if seed in HELD_OUT_SEEDS:
        raise CalibrationOverlapError(f"seed {seed} is the held-out evaluation set's; calibrate on another seed")
    with tempfile.TemporaryDirectory(prefix="unimed-calib-") as tmp:
        work = work or tmp
        rows = generate(work, per_class, seed)
        hashes, pixels = [], []
        for r in rows:
            path = os.path.join(work, r["path"])
            with open(path, "rb") as f:
                hashes.append(hashlib.sha256(f.read()).hexdigest())
            pixels.append(preprocess(load_rgb(path), size))
    return torch.stack(pixels), [r["caption"] for r in rows], hashes


def image_hashes(directory, rows):
    out = []
    for r in rows:
        with open(os.path.join(directory, r["path"]), "rb") as f:
            out.append(hashlib.sha256(f.read()).hexdigest())
    return out


def assert_disjoint(calibration_hashes, evaluation_hashes):
    shared = set(calibration_hashes) & set(evaluation_hashes)
    if shared:
        raise CalibrationOverlapError(f"{len(shared)} calibration images are evaluation images")


def digest(hashes):
    return hashlib.sha256("".join(sorted(hashes)).encode("ascii")).hexdigest()


# ----------------------------------------------------------------------------------------------- ranges
class RangeObserver:
    """Extremes of every value seen, and a strided sample of them for percentiles."""

    def __init__(self, batches):
        self.lo, self.hi, self.samples, self.batches = math.inf, -math.inf, [], batches

    def __call__(self, x):
        x = x.detach().float().reshape(-1)
        self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))
        stride = max(1, math.ceil(x.numel() * self.batches / SAMPLE_CAP))
        self.samples.append(x[::stride].clone())

    def range(self, method, percentile=PERCENTILE):
        if method == "minmax":
            lo, hi = self.lo, self.hi
        elif method == "percentile":
            v = torch.cat(self.samples)
            k = max(1, int(round(v.numel() * (1 - percentile / 100.0))))
            hi = float(torch.topk(v, k).values[-1])
            lo = float(torch.topk(v, k, largest=False).values[-1])
        else:
            raise ValueError(f"unknown calibration method {method!r} (known: percentile, minmax)")
        return min(0.0, lo), max(0.0, hi)


def quantized_inputs(model, min_elements=QUANT_MIN_ELEMENTS):
    """The activation (first input) of every MatMul the static path quantizes, in graph order, once each."""
    inits = {i.name: i for i in model.graph.initializer}
    names = []
    for node in model.graph.node:
        if weight_of(node, inits, min_elements) and node.input[0] not in names:
            names.append(node.input[0])
    return names


def calibrate(model, feeds, method="percentile", percentile=PERCENTILE, min_elements=QUANT_MIN_ELEMENTS):
    """Runs the fp32 graph on each feed dict. -> {activation name: (lo, hi)}."""
    observers = {n: RangeObserver(len(feeds)) for n in quantized_inputs(model, min_elements)}
    for f in feeds:
        run_graph(model, f, observe=observers)
    return {n: o.range(method, percentile) for n, o in observers.items()}


def activation_qparams(lo, hi):
    """uint8 asymmetric per tensor: (scale, zero point) with 0 exactly representable."""
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    zero = int(np.clip(np.rint(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zero)


# ----------------------------------------------------------------------------------------------- rewriting
def qdq_model(model, ranges, reduce_range=False, min_elements=QUANT_MIN_ELEMENTS):
    """-> (ModelProto with QuantizeLinear/DequantizeLinear around the constant-weight MatMuls, how many)."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    weights, activations, nodes, n_quant = {}, {}, [], 0
    for node in graph.node:
        w_name = weight_of(node, inits, min_elements)
        if w_name is None:
            nodes.append(node)
            continue
        if w_name not in weights:
            q, scale = quantize_weight(numpy_helper.to_array(inits[w_name]), reduce_range)
            graph.initializer.extend([numpy_helper.from_array(q, w_name + "_int8"),
                                      numpy_helper.from_array(scale, w_name + "_wscale"),
                                      numpy_helper.from_array(np.zeros(scale.shape, np.int8), w_name + "_wzero")])
            weights[w_name] = (w_name + "_int8", w_name + "_wscale", w_name + "_wzero")
        a = node.input[0]
        if a not in activations:
            scale, zero = activation_qparams(*ranges[a])
            graph.initializer.extend([numpy_helper.from_array(np.array(scale), a + "_ascale"),
                                      numpy_helper.from_array(np.array(zero), a + "_azero")])
            nodes.append(helper.make_node("QuantizeLinear", [a, a + "_ascale", a + "_azero"], [a + "_u8"],
                                          name=a + "_quantize"))
            activations[a] = (a + "_u8", a + "_ascale", a + "_azero")
        p = (node.name or node.output[0]) + "_qdq"
        nodes += [
            helper.make_node("DequantizeLinear", list(activations[a]), [p + "_a"], name=p + "_dq_a"),
            helper.make_node("DequantizeLinear", list(weights[w_name]), [p + "_w"], name=p + "_dq_w", axis=1),
            helper.make_node("MatMul", [p + "_a", p + "_w"], list(node.output), name=node.name or p),
        ]
        n_quant += 1
    replace_nodes(graph, nodes)
    return model, n_quant


# ----------------------------------------------------------------------------------------------- a directory
def _text_feeds(model_dir, captions):
    import json

    from .tokenizer import BertTokenizer

    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        tok = BertTokenizer(json.load(f)["model"]["vocab"])
    feeds = []
    for c in captions:  # one at a time: padded positions would widen the ranges with values nobody reads
        ids = np.array([tok.encode(c)], dtype=np.int64)
        feeds.append({"input_ids": ids, "attention_mask": np.ones_like(ids)})
    return feeds


def static_quantize_dir(out_dir, fp32_tolerances, image_size, reduce_range=False, seed=CALIBRATION_SEED,
                        per_class=CALIBRATION_PER_CLASS, method="percentile", percentile=PERCENTILE):
    """Quantizes both encoders of an exported directory in place (QDQ); -> (tolerances, report)."""
    pixels, captions, hashes = calibration_set(image_size, seed, per_class)
    feeds = {"image_encoder.onnx": [{"pixel_values": pixels[i:i + IMAGE_BATCH].numpy()}
                                    for i in range(0, len(pixels), IMAGE_BATCH)],
             "text_encoder.onnx": _text_feeds(out_dir, captions)}
    counts = {}
    for name in ("image_encoder.onnx", "text_encoder.onnx"):
        path = os.path.join(out_dir, name)
        fp32_bytes = os.path.getsize(path)
        model = onnx.load(path)
        ranges = calibrate(model, feeds[name], method, percentile)
        model, n = qdq_model(model, ranges, reduce_range)
        onnx.checker.check_model(model)
        onnx.save(model, path)
        counts[name] = {"matmuls_quantized": n, "activation_tensors": len(ranges), "fp32_bytes": fp32_bytes,
                        "int8_bytes": os.path.getsize(path)}
    measured = golden_cosines(out_dir, image_size)
    report = {"method": "static int8 (QDQ): QuantizeLinear/DequantizeLinear (uint8 activations per tensor, "
                        "calibrated ranges) and DequantizeLinear (int8 weights, symmetric per column) around "
                        "constant-weight MatMuls",
              "weights_bits": 7 if reduce_range else 8, "files": counts,
              "calibration": {"generator": "training.synthetic", "seed": seed, "per_class": per_class,
                              "images": len(hashes), "texts": len(captions),
                              "texts_source": "the calibration images' synthetic captions, one text per run",
                              "images_sha256": digest(hashes),
                              "range": f"percentile {percentile}" if method == "percentile" else "minmax",
                              "disjoint_from": {"held_out_seeds": list(HELD_OUT_SEEDS),
                                                "golden": "golden.json inputs are not calibration inputs"}},
              "golden_cosine_to_fp32": {k: round(v, 6) for k, v in measured.items()},
              "measured_with": "training.quantize reference evaluator (torch)"}
    return tolerances_from(measured, fp32_tolerances), report


def check_calibration_disjoint(quantization, evaluation_hashes, size):
    """Regenerates a static model's calibration images from model.json's record; raises if any is an evaluation
    image or if they are not the ones the model was calibrated on."""
    cal = quantization.get("calibration")
    if cal is None:
        return None
    if cal["seed"] in HELD_OUT_SEEDS:
        raise CalibrationOverlapError(f"calibration seed {cal['seed']} is a held-out seed")
    _, _, hashes = calibration_set(size, cal["seed"], cal["per_class"])
    if digest(hashes) != cal["images_sha256"]:
        raise CalibrationOverlapError("the calibration images cannot be regenerated from model.json's record")
    assert_disjoint(hashes, evaluation_hashes)
    return hashes
