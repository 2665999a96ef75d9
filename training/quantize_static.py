"""Static int8 quantization (fused QDQ) of the exported encoders, calibrated on data the evaluation never sees.

    python3 -m training.quantize --from-dir FP32_DIR --out INT8_DIR --method static
        [--calibration-seed 4242 --calibration-per-class 8 --calibration-method percentile --percentile 99.99]

(`python3 -m training.export ... --quantize int8-static` does the same straight from a checkpoint.)

The MatMuls the dynamic path quantizes (constant 2-D float weights, training.quantize.weight_of) get one
QuantizeLinear of their activation (uint8 per tensor, calibrated scale and zero point; one per activation tensor,
shared by the MatMuls that read it) and then, by default (`fused`), onnxruntime's own contrib kernels:

    A --QuantizeLinear--> A_u8 --com.microsoft MatMulIntegerToFloat(A_u8, W_s8, a_scale, w_scale[N], a_zero,
                                  w_zero[N] = 0, bias[N])--> Y (float)

the u8 x s8 VNNI kernel onnxruntime would fuse a QDQ MatMul into, but with the bias Add that follows the MatMul
folded in (onnxruntime's QDQ fusion leaves it a separate pass). A self-attention block written as
`attention(*Linear(x).chunk(3))` (training.model: the image tower's in_proj; checked numerically, see
attention_blocks) becomes one com.microsoft QAttention: the int8 Q/K/V projection straight into the heads' layout,
Q.K^T, Softmax and .V in one kernel, no Slice/Reshape/Transpose passes (figures: docs/performance.md). `fused=False`
writes the plain ONNX QDQ form instead (QuantizeLinear -> DequantizeLinear pair -> MatMul, bias Add unchanged) for
runtimes without the com.microsoft ops; both forms compute the same integers. Unlike the dynamic path no min/max
pass over the activation runs at inference.

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
MS_DOMAIN = "com.microsoft"


def identity_aliases(graph, inits):
    """{Identity output: the initializer it copies} (the exporter shares equal initializers that way)."""
    return {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity" and n.input[0] in inits}


def bias_add_of(node, consumers, inits, outputs, aliases):
    """The Add that adds a constant 1-D float bias of N values to a MatMul's [.., N] output, when it is that
    output's only reader (so that one MatMulIntegerToFloat can compute both): -> (Add node, bias name) or None.
    `aliases`: identity_aliases."""
    out = node.output[0]
    readers = consumers.get(out, [])
    if out in outputs or len(readers) != 1 or readers[0].op_type != "Add":
        return None
    add = readers[0]
    bias = aliases.get(*[add.input[1] if add.input[0] == out else add.input[0]] * 2)
    init = inits.get(bias)
    w = inits[node.input[1]]
    if init is None or init.data_type != onnx.TensorProto.FLOAT or list(init.dims) != [w.dims[1]]:
        return None
    return add, bias


def _evaluator(graph, inits, given):
    """Value of a tensor computed from `given` ({name: torch tensor}), Constant nodes and the initializers alone,
    else None. Only nodes downstream of `given` or of constants alone are run: nothing upstream is evaluated."""
    from .quantize import _attrs, _op, _tensor

    producer = {o: n for n in graph.node for o in n.output}
    reached, allowed = set(given), set()
    for n in graph.node:  # graph order is topological
        if any(i in reached for i in n.input) or all(i in inits or i in reached or not i for i in n.input):
            allowed.add(id(n))
            reached.update(n.output)
    env = dict(given)

    def value(name):
        if name not in env:
            if name in inits:
                env[name] = _tensor(inits[name])
            elif name in producer and id(producer[name]) in allowed:
                node = producer[name]
                ins = [value(i) if i else None for i in node.input]
                if any(i is None for i, n in zip(ins, node.input) if n):
                    return None
                env.update(zip(node.output, _op(node, ins, _attrs(node))))
            else:
                return None
        return env[name]

    return value


def _single(consumers, name, op):
    readers = consumers.get(name, [])
    return readers[0] if len(readers) == 1 and readers[0].op_type == op else None


def _reference_attention(qkv, heads):
    b, s, d3 = qkv.shape
    q, k, v = (t.reshape(b, s, heads, -1).transpose(1, 2) for t in qkv.chunk(3, dim=-1))
    probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return (probs @ v).transpose(1, 2).reshape(b, s, d3 // 3)


def attention_blocks(graph, inits, aliases, min_elements=QUANT_MIN_ELEMENTS):
    """Self-attention written as `attention(*Linear(x).chunk(3))` (training.model): a constant-weight MatMul
    [D_in, 3D] plus bias whose output only goes through Slices, reshapes, transposes, Q.K^T (scaled), Softmax and
    .V to one [B, S, D] tensor. -> {id(MatMul): (bias Add, bias name, the Reshape that makes the attention output,
    heads)}. Each candidate is checked numerically: the subgraph from the MatMul's output to the attention output,
    run by the reference evaluator on random [2, 5, 3D] values, must equal multi-head attention of Q, K, V = the
    three thirds with scale 1/sqrt(head size) (what QAttention computes) for some head count, which is then the
    one used; anything else is left as it is."""
    consumers, producer = {}, {o: n for n in graph.node for o in n.output}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    found = {}
    for soft in (n for n in graph.node if n.op_type == "Softmax"):
        pv = _single(consumers, soft.output[0], "MatMul")
        to = pv and _single(consumers, pv.output[0], "Transpose")
        ro = to and _single(consumers, to.output[0], "Reshape")
        qk = producer.get(soft.input[0])
        qk = producer.get(qk.input[0]) if qk is not None and qk.op_type in ("Mul", "Div") else qk
        if ro is None or qk is None or qk.op_type != "MatMul":
            continue
        chain = [producer.get(qk.input[0]), producer.get(qk.input[1]), producer.get(pv.input[1])]
        for _ in range(2):  # Transpose <- Reshape <- Slice
            chain = [producer.get(c.input[0]) if c is not None else None for c in chain]
        if any(c is None or c.op_type != "Slice" for c in chain) or len({c.input[0] for c in chain}) != 1:
            continue
        qkv = chain[0].input[0]
        add = producer.get(qkv)
        mm = add and next((producer[i] for i in add.input if i in producer and producer[i].op_type == "MatMul"),
                          None)
        if mm is None or add.op_type != "Add" or weight_of(mm, inits, min_elements) is None:
            continue
        bias = bias_add_of(mm, consumers, inits, set(), aliases)
        d3 = inits[mm.input[1]].dims[1]
        if bias is None or bias[0] is not add or d3 % 3:
            continue
        x = torch.randn(2, 5, d3, generator=torch.Generator().manual_seed(0))
        y = _evaluator(graph, inits, {qkv: x})(ro.output[0])
        heads = None
        if y is not None and tuple(y.shape) == (2, 5, d3 // 3):
            heads = next((h for h in range(1, d3 // 3 + 1) if (d3 // 3) % h == 0 and
                          torch.allclose(y, _reference_attention(x, h), atol=1e-5, rtol=1e-4)), None)
        if heads is not None:
            found[id(mm)] = (add, bias[1], ro, heads)
    return found


def prune(graph, nodes):
    """The nodes that the graph's outputs need, in order."""
    needed, keep = {o.name for o in graph.output}, []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    return keep[::-1]


def qdq_model(model, ranges, reduce_range=False, min_elements=QUANT_MIN_ELEMENTS, fused=True, attention=True):
    """-> (ModelProto with the constant-weight MatMuls quantized, how many).

    fused (default): QuantizeLinear of the activation, then one com.microsoft MatMulIntegerToFloat (u8 x s8 with
    the scales, zero points and the bias that the following Add added, which it replaces): the kernel onnxruntime
    would fuse a QDQ MatMul into, with the bias inside. fused=False: the plain ONNX QDQ form (QuantizeLinear ->
    DequantizeLinear pairs -> MatMul, bias Add left as it is), for runtimes without com.microsoft ops."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers, outputs = {}, {o.name for o in graph.output}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    aliases = identity_aliases(graph, inits)
    attn = attention_blocks(graph, inits, aliases, min_elements) if fused and attention else {}
    weights, activations, nodes, n_quant, folded = {}, {}, [], 0, set()
    for node in graph.node:
        if id(node) in folded:
            continue
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
        n_quant += 1
        (a_q, a_s, a_z), (w_q, w_s, w_z) = activations[a], weights[w_name]
        if id(node) in attn:
            add, bias, last, heads = attn[id(node)]
            folded.update((id(add), id(last)))
            out = last.output[0]
            nodes.append(helper.make_node("QAttention", [a_q, w_q, bias, a_s, w_s, "", a_z, w_z], [out],
                                          name=node.name or out, domain=MS_DOMAIN, num_heads=heads))
            continue
        if fused:
            bias = bias_add_of(node, consumers, inits, outputs, aliases)
            out = list(node.output)
            if bias is not None:
                folded.add(id(bias[0]))
                out = list(bias[0].output)
            nodes.append(helper.make_node("MatMulIntegerToFloat", [a_q, w_q, a_s, w_s, a_z, w_z] +
                                          ([bias[1]] if bias else []), out, name=node.name or out[0],
                                          domain=MS_DOMAIN))
            continue
        p = (node.name or node.output[0]) + "_qdq"
        nodes += [
            helper.make_node("DequantizeLinear", list(activations[a]), [p + "_a"], name=p + "_dq_a"),
            helper.make_node("DequantizeLinear", list(weights[w_name]), [p + "_w"], name=p + "_dq_w", axis=1),
            helper.make_node("MatMul", [p + "_a", p + "_w"], list(node.output), name=node.name or p),
        ]
    replace_nodes(graph, prune(graph, nodes))
    if fused and n_quant and not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
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
    """Quantizes both encoders of an exported directory in place (qdq_model, fused); -> (tolerances, report)."""
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
    report = {"method": "static int8 (QDQ, fused): QuantizeLinear (uint8 activations per tensor, calibrated "
                        "ranges) feeding com.microsoft MatMulIntegerToFloat (int8 weights, symmetric per column, "
                        "bias inside) for constant-weight MatMuls, and QAttention for self-attention blocks",
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
