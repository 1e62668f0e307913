"""Write models/nn-distance.onnx: nearest-neighbour distance of every patch feature to a memory bank.

Why: the few-shot feature reference (src/pipeline/featureBank.ts) scores each patch of a tile by
the Euclidean distance of its feature to the nearest feature of the camera's good parts. That is
one matrix product against the bank, which ONNX Runtime's MatMul does many times faster than
plain JavaScript, in the inference worker that already hosts the model. The graph is fixed (no
weights): the bank is an input, its size M a dynamic axis, so one graph serves every bank.

  inputs   features [B, C, H, W]   the model's "features" output
           bank_m2t [C, M]         -2 x the bank, transposed
           bank_sq  [M]            squared norm of each bank feature
  output   distance [B, H, W]      sqrt(max(0, min_m(|x|^2 - 2 x.b_m + |b_m|^2)))

  /usr/bin/python3 training/make_nn_graph.py --out models/nn-distance.onnx
"""
import argparse

import onnx
from onnx import TensorProto, helper


def graph():
    f = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", "channels", "height", "width"])
    b = helper.make_tensor_value_info("bank_m2t", TensorProto.FLOAT, ["channels", "bank"])
    s = helper.make_tensor_value_info("bank_sq", TensorProto.FLOAT, ["bank"])
    out = helper.make_tensor_value_info("distance", TensorProto.FLOAT, ["batch", "height", "width"])
    nodes = [
        helper.make_node("Transpose", ["features"], ["x"], perm=[0, 2, 3, 1]),          # [B,H,W,C]
        helper.make_node("MatMul", ["x", "bank_m2t"], ["xb"]),                           # [B,H,W,M]
        helper.make_node("Add", ["xb", "bank_sq"], ["partial"]),
        helper.make_node("ReduceMin", ["partial"], ["nearest"], axes=[3], keepdims=0),   # [B,H,W]
        helper.make_node("ReduceSumSquare", ["x"], ["xsq"], axes=[3], keepdims=0),
        helper.make_node("Add", ["nearest", "xsq"], ["sq"]),
        helper.make_node("Relu", ["sq"], ["sq_pos"]),  # rounding can leave tiny negatives
        helper.make_node("Sqrt", ["sq_pos"], ["distance"]),
    ]
    g = helper.make_graph(nodes, "nn_distance", [f, b, s], [out])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="linewatch training/make_nn_graph.py")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="models/nn-distance.onnx")
    a = p.parse_args()
    onnx.save(graph(), a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
