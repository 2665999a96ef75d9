"""Writes the two encoders of a near-free model: the real input and output names and shapes, almost no compute.

Used by the benchmark's `frontend` phase (bench/near-free-model.ts completes the directory: tokenizer, golden
images, golden.json computed from these graphs, model.json with sha256s). Never committed: bench/.cache/.

    /usr/bin/python3 -m training.near_free_model --out DIR [--size 224] [--dim 512]

image: pixel_values [N,3,S,S] float -> ReduceMean over H,W -> [N,3] -> MatMul [3,dim] + bias -> L2 -> image_embeds
text:  input_ids, attention_mask [N,L] int64 -> (sum of mask, sum of ids * mask) [N,2] -> MatMul [2,dim] + bias -> L2
"""

import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def l2_normalize(nodes, x, out):
    nodes += [
        helper.make_node('Mul', [x, x], [x + '_sq']),
        helper.make_node('ReduceSum', [x + '_sq', 'axis_last'], [x + '_ss'], keepdims=1),
        helper.make_node('Sqrt', [x + '_ss'], [x + '_norm']),
        helper.make_node('Div', [x, x + '_norm'], [out]),
    ]


def image_graph(size, dim, rng):
    w = numpy_helper.from_array(rng.standard_normal((3, dim)).astype(np.float32), 'w')
    b = numpy_helper.from_array(rng.standard_normal((dim,)).astype(np.float32), 'b')
    axis = numpy_helper.from_array(np.array([-1], dtype=np.int64), 'axis_last')
    nodes = [
        helper.make_node('ReduceMean', ['pixel_values'], ['mean'], axes=[2, 3], keepdims=0),
        helper.make_node('MatMul', ['mean', 'w'], ['proj']),
        helper.make_node('Add', ['proj', 'b'], ['emb']),
    ]
    l2_normalize(nodes, 'emb', 'image_embeds')
    graph = helper.make_graph(
        nodes,
        'near_free_image',
        [helper.make_tensor_value_info('pixel_values', TensorProto.FLOAT, ['batch', 3, size, size])],
        [helper.make_tensor_value_info('image_embeds', TensorProto.FLOAT, ['batch', dim])],
        [w, b, axis],
    )
    return graph


def text_graph(dim, rng):
    w = numpy_helper.from_array((rng.standard_normal((2, dim)) * 0.01).astype(np.float32), 'w')
    b = numpy_helper.from_array(rng.standard_normal((dim,)).astype(np.float32), 'b')
    axis = numpy_helper.from_array(np.array([-1], dtype=np.int64), 'axis_last')
    one = numpy_helper.from_array(np.array([1], dtype=np.int64), 'axis_seq')
    nodes = [
        helper.make_node('Cast', ['input_ids'], ['ids_f'], to=TensorProto.FLOAT),
        helper.make_node('Cast', ['attention_mask'], ['mask_f'], to=TensorProto.FLOAT),
        helper.make_node('Mul', ['ids_f', 'mask_f'], ['ids_masked']),
        helper.make_node('ReduceSum', ['mask_f', 'axis_seq'], ['count'], keepdims=1),
        helper.make_node('ReduceSum', ['ids_masked', 'axis_seq'], ['id_sum'], keepdims=1),
        helper.make_node('Concat', ['count', 'id_sum'], ['features'], axis=1),
        helper.make_node('MatMul', ['features', 'w'], ['proj']),
        helper.make_node('Add', ['proj', 'b'], ['emb']),
    ]
    l2_normalize(nodes, 'emb', 'text_embeds')
    return helper.make_graph(
        nodes,
        'near_free_text',
        [
            helper.make_tensor_value_info('input_ids', TensorProto.INT64, ['batch', 'seq']),
            helper.make_tensor_value_info('attention_mask', TensorProto.INT64, ['batch', 'seq']),
        ],
        [helper.make_tensor_value_info('text_embeds', TensorProto.FLOAT, ['batch', dim])],
        [w, b, axis, one],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for name, graph in (('image_encoder.onnx', image_graph(args.size, args.dim, rng)), ('text_encoder.onnx', text_graph(args.dim, rng))):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)], producer_name='training.near_free_model')
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(args.out, name))


if __name__ == '__main__':
    main()
