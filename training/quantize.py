"""int8 quantization of the exported encoders, with onnx's Python API only (no onnxruntime): dynamic (here) or
static with calibrated activation ranges (`--method static`, training/quantize_static.py: QuantizeLinear feeding
onnxruntime's fused MatMulIntegerToFloat / QAttention kernels).

    python3 -m training.quantize --from-dir FP32_DIR --out INT8_DIR [--method static] [--reduce-range]
    python3 -m training.quantize --compare FP32_DIR INT8_DIR [INT8_DIR ...] [--per-class 50 --seed 777] [--json OUT]

(`python3 -m training.export ... --quantize int8` (or `int8-static`) does the same straight from a checkpoint.)

`quantize_file` rewrites every MatMul whose second input is a 2-D float initializer (the Linear layers and the
projections; attention's activation x activation products stay float) as ORT's dynamic quantizer does:

    A --DynamicQuantizeLinear--> (A_u8, a_scale, a_zero) --MatMulInteger(W_s8)--> int32 --Cast--> float
      --Mul(a_scale * w_scale[N])--> Y

Weights are symmetric int8 per output column (zero point 0, so MatMulInteger needs no b_zero_point), scale
max|W[:, n]| / 127 (63 with `reduce_range`, which avoids the int16 saturation of u8 x s8 kernels on x86 CPUs
without VNNI). Activations are quantized per tensor at run time (uint8, asymmetric).

Python cannot run the result through onnxruntime here, so `run_graph` is a small reference evaluator of the
ops the exporter emits (plus the two quantization ops), written with torch. It is what measures the golden
cosines that become the int8 model's tolerances; the service then checks the same tolerances through
onnxruntime at load.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

from .zeroshot import cosine

QUANT_MIN_ELEMENTS = 1024  # tiny matrices gain nothing and lose precision
MARGIN = 0.0005  # added slack on top of twice the measured error (onnxruntime's rounding may differ slightly)


class AlreadyQuantizedError(ValueError):
    """quantize_exported was given a directory that is already quantized."""


# ----------------------------------------------------------------------------------------------- rewriting
def _weight_scale(w, reduce_range):
    qmax = 63.0 if reduce_range else 127.0
    scale = np.abs(w).max(axis=0) / qmax
    scale[scale == 0] = 1.0
    return scale.astype(np.float32), qmax


def quantize_weight(w, reduce_range=False):
    """[K, N] float -> (int8 [K, N], float32 scale [N]) symmetric per column."""
    scale, qmax = _weight_scale(w, reduce_range)
    q = np.clip(np.rint(w / scale), -qmax, qmax).astype(np.int8)
    return q, scale


def weight_of(node, inits, min_elements=QUANT_MIN_ELEMENTS):
    """The name of a MatMul's constant 2-D float weight worth quantizing (its second input), else None."""
    w_name = node.input[1] if node.op_type == "MatMul" and len(node.input) == 2 else None
    init = inits.get(w_name) if w_name else None
    if init is None or init.data_type != TensorProto.FLOAT or len(init.dims) != 2 or \
            int(np.prod(init.dims)) < min_elements:
        return None
    return w_name


def replace_nodes(graph, nodes):
    """The graph's nodes become `nodes`; initializers no node reads any more (the float weights) are dropped.
    value_info of the replaced outputs stays valid (same name, same type); nothing else refers to the old nodes."""
    used = {i for n in nodes for i in n.input}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(keep)


def quantize_model(model, reduce_range=False, min_elements=QUANT_MIN_ELEMENTS):
    """Returns a new ModelProto with the constant-weight MatMuls quantized, and how many were."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    done = {}  # weight name -> (int8 name, scale name): weights shared by several MatMuls are stored once
    nodes, n_quant = [], 0
    for node in graph.node:
        w_name = weight_of(node, inits, min_elements)
        if w_name is None:
            nodes.append(node)
            continue
        if w_name not in done:
            q, scale = quantize_weight(numpy_helper.to_array(inits[w_name]), reduce_range)
            graph.initializer.append(numpy_helper.from_array(q, w_name + "_int8"))
            graph.initializer.append(numpy_helper.from_array(scale, w_name + "_wscale"))
            done[w_name] = (w_name + "_int8", w_name + "_wscale")
        wq, ws = done[w_name]
        a, y = node.input[0], node.output[0]
        p = (node.name or y) + "_q"
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [a], [p + "_a", p + "_as", p + "_az"], name=p + "_dql"),
            helper.make_node("MatMulInteger", [p + "_a", wq, p + "_az"], [p + "_i32"], name=p + "_mmi"),
            helper.make_node("Cast", [p + "_i32"], [p + "_f"], to=TensorProto.FLOAT, name=p + "_cast"),
            helper.make_node("Mul", [p + "_as", ws], [p + "_s"], name=p + "_scales"),
            helper.make_node("Mul", [p + "_f", p + "_s"], [y], name=p + "_out"),
        ]
        n_quant += 1
    replace_nodes(graph, nodes)
    return model, n_quant


def quantize_file(src, dst, reduce_range=False):
    model = onnx.load(src)
    model, n = quantize_model(model, reduce_range)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return n


# ----------------------------------------------------------------------------------------------- evaluation
_NP_DTYPES = {TensorProto.FLOAT: torch.float32, TensorProto.INT64: torch.int64, TensorProto.INT32: torch.int32,
              TensorProto.BOOL: torch.bool, TensorProto.DOUBLE: torch.float64, TensorProto.INT8: torch.int8,
              TensorProto.UINT8: torch.uint8}


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _tensor(t):
    return torch.from_numpy(np.array(numpy_helper.to_array(t)))


def _dql(x):
    """DynamicQuantizeLinear exactly as the ONNX spec: uint8, range always includes 0, round half to even."""
    x = x.float()
    lo, hi = min(0.0, float(x.min())), max(0.0, float(x.max()))
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    zero = float(np.clip(np.rint(-lo / scale), 0, 255))
    q = torch.clamp(torch.round(x / scale) + zero, 0, 255)
    return q.to(torch.uint8), torch.tensor(scale, dtype=torch.float32), torch.tensor(zero).to(torch.uint8)


def _per_axis(v, x, axis):
    """A scale or zero point shaped to broadcast along `axis` of x (a scalar stays a scalar)."""
    if v.dim() == 0 or v.numel() == 1:
        return v.reshape(())
    shape = [1] * x.dim()
    shape[axis % x.dim()] = v.numel()
    return v.reshape(shape)


def _quantize_linear(x, scale, zero, axis):
    """QuantizeLinear as the ONNX spec: round half to even, saturate to the zero point's type (uint8 default)."""
    dtype = zero.dtype if zero is not None else torch.uint8
    lo, hi = (0, 255) if dtype == torch.uint8 else (-128, 127)
    z = _per_axis(zero.float(), x, axis) if zero is not None else 0.0
    q = torch.clamp(torch.round(x.float() / _per_axis(scale.float(), x, axis)) + z, lo, hi)
    return q.to(dtype)


def _dequantize_linear(q, scale, zero, axis):
    z = _per_axis(zero.float(), q, axis) if zero is not None else 0.0
    return ((q.float() - z) * _per_axis(scale.float(), q, axis)).float()


def _slice(x, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else [int(a) % x.dim() for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    idx = [slice(None)] * x.dim()
    for s, e, a, st in zip(starts, ends, axes, steps):
        n = x.shape[a]
        s, e = int(s), int(e)
        s = max(0, min(n, s + n if s < 0 else s))
        e = max(0, min(n, e + n if e < 0 else e))
        idx[a] = slice(s, e, int(st))
    return x[tuple(idx)]


def _reshape(x, shape):
    shape = [int(s) for s in shape]
    shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _op(node, ins, a):
    t = node.op_type
    if t == "Constant":
        return [_tensor(a["value"])]
    if t in ("Add", "Sub", "Mul", "Div"):
        x, y = ins
        if t == "Div" and not x.is_floating_point():
            return [torch.div(x, y, rounding_mode="trunc")]
        return [{"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[t](x, y)]
    if t == "MatMul":
        return [torch.matmul(ins[0], ins[1])]
    if t == "Gemm":
        x, w = ins[0], ins[1]
        x = x.t() if a.get("transA") else x
        w = w.t() if a.get("transB") else w
        y = a.get("alpha", 1.0) * (x @ w)
        return [y + a.get("beta", 1.0) * ins[2] if len(ins) > 2 else y]
    if t == "Shape":
        return [torch.tensor(list(ins[0].shape), dtype=torch.int64)]
    if t == "Gather":
        idx = ins[1].long()
        axis = a.get("axis", 0) % ins[0].dim()
        idx = torch.where(idx < 0, idx + ins[0].shape[axis], idx)
        out = torch.index_select(ins[0], axis, idx.reshape(-1))
        return [out.reshape(ins[0].shape[:axis] + idx.shape + ins[0].shape[axis + 1:])]
    if t == "Unsqueeze":
        x = ins[0]
        axes = sorted(int(v) % (x.dim() + len(ins[1])) for v in ins[1])
        for ax in axes:
            x = x.unsqueeze(ax)
        return [x]
    if t == "Squeeze":
        x = ins[0]
        for ax in sorted((int(v) % x.dim() for v in ins[1]), reverse=True):
            x = x.squeeze(ax)
        return [x]
    if t == "Concat":
        return [torch.cat([i.reshape(1) if i.dim() == 0 else i for i in ins], dim=a["axis"])]
    if t == "Slice":
        return [_slice(ins[0], ins[1].tolist(), ins[2].tolist(), ins[3].tolist() if len(ins) > 3 else None,
                       ins[4].tolist() if len(ins) > 4 else None)]
    if t == "Reshape":
        return [_reshape(ins[0], ins[1].tolist())]
    if t == "Transpose":
        return [ins[0].permute(*a["perm"])]
    if t == "Flatten":
        ax = a.get("axis", 1)
        return [ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)]
    if t == "ConstantOfShape":
        v = _tensor(a["value"]) if "value" in a else torch.zeros(1)
        return [torch.full([int(s) for s in ins[0].tolist()], v.reshape(-1)[0].item(), dtype=v.dtype)]
    if t == "Equal":
        return [torch.eq(ins[0], ins[1])]
    if t == "Where":
        return [torch.where(ins[0].bool(), ins[1], ins[2])]
    if t == "Expand":
        shape = [int(s) for s in ins[1].tolist()]
        target = torch.broadcast_shapes(ins[0].shape, torch.Size(shape))
        return [ins[0].expand(target)]
    if t == "Cast":
        return [ins[0].to(_NP_DTYPES[a["to"]])]
    if t == "LayerNormalization":
        x = ins[0]
        axis = a.get("axis", -1) % x.dim()
        shape = x.shape[axis:]
        return [F.layer_norm(x, shape, ins[1], ins[2] if len(ins) > 2 else None, a.get("epsilon", 1e-5))]
    if t == "Softmax":
        return [torch.softmax(ins[0], dim=a.get("axis", -1))]
    if t == "Identity":
        return [ins[0]]
    if t == "Sigmoid":
        return [torch.sigmoid(ins[0])]
    if t == "Erf":
        return [torch.erf(ins[0])]
    if t == "Tanh":
        return [torch.tanh(ins[0])]
    if t == "Sqrt":
        return [torch.sqrt(ins[0])]
    if t == "Pow":
        return [torch.pow(ins[0], ins[1])]
    if t == "ReduceMean":
        return [ins[0].mean(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1)))]
    if t == "Neg":
        return [-ins[0]]
    if t == "Conv":
        x, w = ins[0], ins[1]
        b = ins[2] if len(ins) > 2 else None
        pads = a.get("pads", [0, 0, 0, 0])
        if pads[:2] != pads[2:]:
            raise NotImplementedError("asymmetric Conv padding")
        return [F.conv2d(x, w, b, stride=tuple(a.get("strides", [1, 1])), padding=tuple(pads[:2]),
                         dilation=tuple(a.get("dilations", [1, 1])), groups=a.get("group", 1))]
    if t == "DynamicQuantizeLinear":
        return list(_dql(ins[0]))
    if t == "QuantizeLinear":
        return [_quantize_linear(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a.get("axis", 1))]
    if t == "DequantizeLinear":
        return [_dequantize_linear(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a.get("axis", 1))]
    if t == "MatMulInteger":
        x = ins[0].to(torch.int64) - (ins[2].to(torch.int64) if len(ins) > 2 and ins[2] is not None else 0)
        w = ins[1].to(torch.int64) - (ins[3].to(torch.int64) if len(ins) > 3 and ins[3] is not None else 0)
        # exact integer products, accumulated in float64 (exact below 2^53) because torch has no int64 matmul
        return [torch.matmul(x.double(), w.double()).to(torch.int32)]
    if t == "MatMulIntegerToFloat":  # com.microsoft: (A - a_zero) @ (B - b_zero) * a_scale * b_scale + bias
        x = ins[0].to(torch.int64) - (ins[4].to(torch.int64) if len(ins) > 4 and ins[4] is not None else 0)
        w = ins[1].to(torch.int64) - (ins[5].to(torch.int64) if len(ins) > 5 and ins[5] is not None else 0)
        y = torch.matmul(x.double(), w.double()).float() * (ins[2].float() * ins[3].float())
        return [y + ins[6] if len(ins) > 6 and ins[6] is not None else y]
    if t == "QAttention":  # com.microsoft, no mask or past: multi-head self-attention of a u8 x s8 projection
        if len(ins) > 5 and ins[5] is not None:
            raise NotImplementedError("reference evaluator: QAttention with a mask")
        x = ins[0].to(torch.int64) - (ins[6].to(torch.int64) if len(ins) > 6 and ins[6] is not None else 0)
        w = ins[1].to(torch.int64) - (ins[7].to(torch.int64) if len(ins) > 7 and ins[7] is not None else 0)
        qkv = torch.matmul(x.double(), w.double()).float() * (ins[3].float() * ins[4].float()) + ins[2]
        b, s, heads = qkv.shape[0], qkv.shape[1], a["num_heads"]
        q, k, v = (u.reshape(b, s, heads, -1).transpose(1, 2) for u in qkv.chunk(3, dim=-1))
        probs = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1]), dim=-1)
        return [torch.matmul(probs, v).transpose(1, 2).reshape(b, s, -1)]
    raise NotImplementedError(f"reference evaluator: op {t}")


def run_graph(model, feeds, observe=None):
    """Evaluates an ONNX ModelProto on numpy/torch inputs with torch ops. -> dict of output name -> tensor.
    `observe`: {tensor name: callable(tensor)}, called as each named tensor is computed (calibration)."""
    env = {i.name: _tensor(i) for i in model.graph.initializer}
    for k, v in feeds.items():
        env[k] = torch.as_tensor(np.asarray(v))
    observe = observe or {}
    with torch.no_grad():
        for name in set(observe) & set(env):
            observe[name](env[name])
        for node in model.graph.node:
            ins = [env[i] if i else None for i in node.input]
            outs = _op(node, ins, _attrs(node))
            for name, val in zip(node.output, outs):
                env[name] = val
                if name in observe:
                    observe[name](val)
    return {o.name: env[o.name] for o in model.graph.output}


# ----------------------------------------------------------------------------------------------- golden
def golden_cosines(model_dir, size, image_model=None, text_model=None):
    """Cosine of each golden.json embedding (PyTorch fp32) to what the ONNX files in `model_dir` compute."""
    from .image import load_rgb, preprocess

    with open(os.path.join(model_dir, "golden.json"), encoding="utf-8") as f:
        golden = json.load(f)
    image_model = image_model or onnx.load(os.path.join(model_dir, "image_encoder.onnx"))
    text_model = text_model or onnx.load(os.path.join(model_dir, "text_encoder.onnx"))
    texts = []
    for t in golden["texts"]:
        ids = np.array([t["input_ids"]], dtype=np.int64)
        out = run_graph(text_model, {"input_ids": ids, "attention_mask": np.ones_like(ids)})["text_embeds"][0]
        texts.append(cosine(out, t["embedding"]))
    images = {}
    for im in golden["images"]:
        x = preprocess(load_rgb(os.path.join(model_dir, im["file"])), size)[None].numpy()
        out = run_graph(image_model, {"pixel_values": x})["image_embeds"][0]
        images[im["kind"]] = cosine(out, im["embedding"])
    return {"text_min": min(texts), "text_mean": sum(texts) / len(texts), "image_exact": images["exact"],
            "image_resized": images["resized"]}


def tolerances_from(measured, fp32_tolerances):
    """Twice the measured int8 error, plus the fp32 slack (resize differences), plus a small margin; floored."""
    def tol(cos, base):
        t = 1.0 - 2.0 * (1.0 - cos) - (1.0 - base) - MARGIN
        return float(np.floor(max(t, 0.5) * 1e5) / 1e5)

    return {"text_min_cosine": tol(measured["text_min"], fp32_tolerances["text_min_cosine"]),
            "image_exact_min_cosine": tol(measured["image_exact"], fp32_tolerances["image_exact_min_cosine"]),
            "image_resized_min_cosine": tol(measured["image_resized"], fp32_tolerances["image_resized_min_cosine"])}


def quantize_dir(out_dir, fp32_tolerances, image_size, reduce_range=False):
    """Quantizes both encoders of an exported directory in place; returns (tolerances, report)."""
    counts = {}
    for name in ("image_encoder.onnx", "text_encoder.onnx"):
        path = os.path.join(out_dir, name)
        fp32_bytes = os.path.getsize(path)
        counts[name] = {"matmuls_quantized": quantize_file(path, path, reduce_range), "fp32_bytes": fp32_bytes,
                        "int8_bytes": os.path.getsize(path)}
    measured = golden_cosines(out_dir, image_size)
    tolerances = tolerances_from(measured, fp32_tolerances)
    report = {"method": "dynamic int8: DynamicQuantizeLinear (uint8 activations, per tensor) + MatMulInteger "
                        "(int8 weights, symmetric per column) on constant-weight MatMuls",
              "weights_bits": 7 if reduce_range else 8, "files": counts,
              "golden_cosine_to_fp32": {k: round(v, 6) for k, v in measured.items()},
              "measured_with": "training.quantize reference evaluator (torch)"}
    return tolerances, report


def quantize_by(method, out_dir, fp32_tolerances, image_size, reduce_range=False, calibration=None):
    """`dynamic` (quantize_dir) or `static` (training.quantize_static, calibrated activation ranges, fused kernels;
    `calibration`: its keyword arguments). -> (tolerances, report)."""
    if method == "dynamic":
        return quantize_dir(out_dir, fp32_tolerances, image_size, reduce_range)
    if method == "static":
        from .quantize_static import static_quantize_dir

        return static_quantize_dir(out_dir, fp32_tolerances, image_size, reduce_range, **(calibration or {}))
    raise ValueError(f"unknown quantization method {method!r} (known: dynamic, static)")


def quantize_exported(src_dir, out_dir, model_id=None, reduce_range=False, method="dynamic", calibration=None):
    """Copies an exported fp32 model directory and quantizes it: no checkpoint needed, golden.json is reused."""
    import shutil

    from .checkpoint import sha256_file

    with open(os.path.join(src_dir, "model.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    if "quantization" in manifest:
        raise AlreadyQuantizedError(f"{src_dir} is already quantized")
    os.makedirs(out_dir, exist_ok=True)
    for name in manifest["files"]:
        shutil.copyfile(os.path.join(src_dir, name), os.path.join(out_dir, name))
    fp32 = {k: manifest["golden"][k] for k in ("text_min_cosine", "image_exact_min_cosine", "image_resized_min_cosine")}
    tolerances, report = quantize_by(method, out_dir, fp32, manifest["image"]["size"], reduce_range, calibration)
    manifest["id"] = model_id or manifest["id"] + ("-int8" if method == "dynamic" else "-int8-static")
    manifest["golden"].update(tolerances)
    manifest["files"] = {n: sha256_file(os.path.join(out_dir, n)) for n in sorted(manifest["files"])}
    report["source_model"] = os.path.basename(os.path.normpath(src_dir))
    manifest["quantization"] = report
    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return manifest


# ----------------------------------------------------------------------------------------------- comparison
def _encode_images(model, pixels, batch=50):
    outs = [run_graph(model, {"pixel_values": pixels[i:i + batch].numpy()})["image_embeds"]
            for i in range(0, len(pixels), batch)]
    return F.normalize(torch.cat(outs).double(), dim=-1)


def _class_embeddings(model, tok, labels, templates):
    from .zeroshot import label_text

    out = []
    for lab in labels:
        texts = [t.replace("{}", label_text(lab)) for t in templates]
        ids, mask = tok.batch_tensors(texts)
        emb = run_graph(model, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})["text_embeds"]
        out.append(F.normalize(F.normalize(emb.double(), dim=-1).mean(0), dim=-1))
    return torch.stack(out)


def _tag(int8_dir, taken):
    with open(os.path.join(int8_dir, "model.json"), encoding="utf-8") as f:
        q = json.load(f).get("quantization", {})
    tag = "int8_static" if "calibration" in q else "int8"
    n = 2
    while tag in taken:
        tag, n = f"{tag.split('#')[0]}#{n}", n + 1
    return tag, q


def compare(fp32_dir, int8_dirs, per_class=50, seed=777, work=None):
    """Cosine int8 vs fp32 on the synthetic held-out images, and zero-shot modality accuracy of each.
    `int8_dirs`: one directory or several (keys int8_* for dynamic, int8_static_* for static ones). A static
    directory's calibration images are regenerated and checked to be none of the evaluation images."""
    import tempfile

    from .data import load_images, read_manifest
    from .quantize_static import check_calibration_disjoint, image_hashes
    from .synthetic import generate
    from .tokenizer import BertTokenizer
    from .zeroshot import label_name

    int8_dirs = [int8_dirs] if isinstance(int8_dirs, str) else list(int8_dirs)
    with open(os.path.join(fp32_dir, "model.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    with open(os.path.join(fp32_dir, "prompt_sets.json"), encoding="utf-8") as f:
        modality = json.load(f)["prompt_sets"]["modality"]
    size = manifest["image"]["size"]
    work = work or tempfile.mkdtemp(prefix="unimed-int8-")
    generate(work, per_class, seed)
    rows = read_manifest(os.path.join(work, "labels.csv"))
    pixels = load_images(rows, size)
    eval_hashes = image_hashes(work, rows)
    with open(os.path.join(fp32_dir, "tokenizer.json"), encoding="utf-8") as f:
        tok = BertTokenizer(json.load(f)["model"]["vocab"])
    result = {"images": len(rows), "seed": seed}
    dirs = [("fp32", fp32_dir)]
    for d in int8_dirs:
        tag, q = _tag(d, [t for t, _ in dirs])
        if check_calibration_disjoint(q, eval_hashes, size) is not None:
            result[f"{tag}_calibration_disjoint"] = True
        dirs.append((tag, d))
    embs, classes = {}, {}
    for tag, d in dirs:
        img = _encode_images(onnx.load(os.path.join(d, "image_encoder.onnx")), pixels)
        cls = _class_embeddings(onnx.load(os.path.join(d, "text_encoder.onnx")), tok, modality["labels"],
                                modality["templates"])
        names = [label_name(lab) for lab in modality["labels"]]
        pred = (img @ cls.t()).argmax(-1).tolist()
        result[f"{tag}_modality_accuracy"] = round(sum(names[p] == r["modality"] for p, r in zip(pred, rows))
                                                   / len(rows), 4)
        embs[tag], classes[tag] = img, cls
    for tag, _ in dirs[1:]:
        cos = (embs["fp32"] * embs[tag]).sum(-1)
        result[f"image_cosine_{tag}_vs_fp32"] = {"min": round(float(cos.min()), 6),
                                                 "mean": round(float(cos.mean()), 6)}
        cos = (classes["fp32"] * classes[tag]).sum(-1)
        result[f"class_embedding_cosine_{tag}_vs_fp32"] = {"min": round(float(cos.min()), 6)}
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--compare", nargs="+", metavar="DIR", help="FP32_DIR then one or more int8 directories")
    g.add_argument("--from-dir", metavar="FP32_DIR", help="quantize an exported model directory into --out")
    p.add_argument("--out", default=None)
    p.add_argument("--id", default=None,
                   help="model id of the int8 directory (default: source id + '-int8' or '-int8-static')")
    p.add_argument("--method", default="dynamic", choices=["dynamic", "static"],
                   help="dynamic (DynamicQuantizeLinear + MatMulInteger) or static (calibrated, fused int8 kernels)")
    p.add_argument("--reduce-range", action="store_true", help="7-bit weights (x86 without VNNI)")
    add_calibration_arguments(p)
    p.add_argument("--per-class", type=int, default=50, help="--compare: held-out images per class")
    p.add_argument("--seed", type=int, default=777, help="--compare: the held-out set's seed")
    p.add_argument("--json", default=None, help="also write the result to this file")
    a = p.parse_args(argv)
    if a.from_dir:
        if not a.out:
            p.error("--from-dir needs --out")
        try:
            m = quantize_exported(a.from_dir, a.out, a.id, a.reduce_range, a.method, calibration_kwargs(a))
        except AlreadyQuantizedError as e:
            print(f"training.quantize: error: {e}", file=sys.stderr)
            return 1
        print(json.dumps({"id": m["id"], "golden": m["golden"], "quantization": m["quantization"]}, indent=2))
        return 0
    if len(a.compare) < 2:
        p.error("--compare needs FP32_DIR and at least one int8 directory")
    result = compare(a.compare[0], a.compare[1:], a.per_class, a.seed)
    text = json.dumps(result, indent=2)
    print(text)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


def add_calibration_arguments(p):
    """The static method's calibration options (training.quantize and training.export)."""
    from .quantize_static import CALIBRATION_PER_CLASS, CALIBRATION_SEED, PERCENTILE

    p.add_argument("--calibration-seed", type=int, default=CALIBRATION_SEED,
                   help="static: training.synthetic seed of the calibration images (never the held-out 777)")
    p.add_argument("--calibration-per-class", type=int, default=CALIBRATION_PER_CLASS,
                   help="static: calibration images (and captions) per modality")
    p.add_argument("--calibration-method", default="percentile", choices=["percentile", "minmax"],
                   help="static: activation range of each tensor")
    p.add_argument("--percentile", type=float, default=PERCENTILE, help="static, percentile method")


def calibration_kwargs(a):
    return {"seed": a.calibration_seed, "per_class": a.calibration_per_class, "method": a.calibration_method,
            "percentile": a.percentile}


if __name__ == "__main__":
    sys.exit(main())
