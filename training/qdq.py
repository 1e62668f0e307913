"""ONNX graph rewrites for quantize.py, with the onnx package alone (Python has no onnxruntime here).

- plan_int8 / to_qdq: static QDQ quantization in the layout ONNX Runtime's CPU provider fuses into
  integer kernels (QLinearConv): DequantizeLinear on a Conv's input, its per-channel int8 weights
  and its int32 bias (scale = input scale x weight scale), QuantizeLinear -> DequantizeLinear on its
  output. A Relu that is the only consumer of a Conv is folded into the output's uint8 range (its
  zero point clamps negatives to 0, as ONNX Runtime's own quantizer does). Resize, Add and Concat
  between quantized tensors get Q/DQ too, so they run on uint8. Convs with one output channel (the
  map head, the in-graph blur) stay float: they set the map's precision and cost little.
- to_fp16: float16 initializers, constants and activations up to the last Conv of each path, a
  Cast at the float32 graph input and a Cast back before each float32 graph output, so the
  daemon's feeding code does not change.
"""
import copy
from collections import defaultdict

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference


def _consumers(graph):
    c = defaultdict(list)
    for k, n in enumerate(graph.node):
        for t in n.input:
            c[t].append(k)
    return c


def plan_int8(model, float_first=False):
    """Which Convs to quantize, which Relus fold into them, and the activations to calibrate.

    float_first keeps the Convs that read the graph input in float (the image's full range on 3
    channels: the layer with the fewest weights per output, where rounding hurts most)."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    outputs = {o.name for o in g.output}
    graph_inputs = {i.name for i in g.input}
    consumers = _consumers(g)
    convs, relu, tensors = [], {}, []
    for k, n in enumerate(g.node):
        if n.op_type != "Conv" or n.input[1] not in inits or inits[n.input[1]].dims[0] == 1:
            continue
        if float_first and n.input[0] in graph_inputs:
            continue
        if len(n.input) > 2 and n.input[2] and n.input[2] not in inits:
            continue
        convs.append(k)
        y = n.output[0]
        users = consumers[y]
        if len(users) == 1 and g.node[users[0]].op_type == "Relu" and y not in outputs and g.node[users[0]].output[0] not in outputs:
            relu[k] = users[0]
            y = g.node[users[0]].output[0]
        for t in (n.input[0], y):
            if t not in tensors:
                tensors.append(t)
    # Between the Convs: Resize keeps its input's uint8 parameters (ONNX Runtime drops its Q/DQ and
    # resizes uint8); Add and Concat of quantized tensors get their own range (QLinearAdd,
    # QLinearConcat). Nodes are in topological order, so one pass sees inputs before outputs.
    shared = {}
    for n in g.node:
        quantized = [t in tensors or t in shared for t in n.input if t]
        if n.op_type == "Resize" and quantized[0] and n.output[0] not in outputs:
            shared[n.output[0]] = shared.get(n.input[0], n.input[0])
        elif n.op_type in ("Add", "Concat") and all(quantized) and n.output[0] not in tensors:
            tensors.append(n.output[0])
    return {"convs": convs, "relu": relu, "tensors": tensors, "shared": shared}


def with_outputs(model, names):
    """A copy of `model` that also outputs the named (float) tensors, for calibration."""
    m = copy.deepcopy(model)
    have = {o.name for o in m.graph.output}
    m.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in names if t not in have)
    return m


def uint8_params(lo, hi):
    """Asymmetric uint8 scale and zero point for a float range (widened to hold 0)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    return np.float32(scale), int(np.clip(round(-lo / scale), 0, 255))


def to_qdq(model, plan, ranges, weight_max=127):
    """The QDQ model; `ranges` maps each of plan["tensors"] to (min, max) over calibration tiles.

    weight_max 127 gives full int8 weights; 63 gives 7-bit weights, which keep the u8 x s8 pair
    sums of AVX2 CPUs without VNNI (vpmaddubsw) from saturating int16.
    """
    m = copy.deepcopy(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    new_inits = []
    producer = {t: k for k, n in enumerate(g.node) for t in n.output}
    renamed_out = {k: g.node[r].output[0] for k, r in plan["relu"].items()}
    for k, t in renamed_out.items():
        producer[t] = k
    after = defaultdict(list)  # node index (-1: graph start) -> Q/DQ nodes that follow it
    quant = {}  # float tensor -> (scale, its DequantizeLinear output)
    shared = plan.get("shared", {})
    for t in plan["tensors"] + list(shared):
        p = shared.get(t, t)  # whose scale and zero point
        if p == t:
            s, zp = uint8_params(*ranges[t])
            new_inits += [numpy_helper.from_array(np.array(s, np.float32), f"{t}_scale"), numpy_helper.from_array(np.array(zp, np.uint8), f"{t}_zp")]
        after[producer.get(t, -1)] += [
            helper.make_node("QuantizeLinear", [t, f"{p}_scale", f"{p}_zp"], [f"{t}_q"], name=f"{t}_Q"),
            helper.make_node("DequantizeLinear", [f"{t}_q", f"{p}_scale", f"{p}_zp"], [f"{t}_dq"], name=f"{t}_DQ"),
        ]
        quant[t] = (float(uint8_params(*ranges[p])[0]), f"{t}_dq")
    nodes = list(after[-1])
    removed = set(plan["relu"].values())
    for k, n in enumerate(g.node):
        if k in removed:
            continue
        n2 = copy.deepcopy(n)
        del n2.input[:]
        # Shape reads the uint8 tensor: a DequantizeLinear kept only for its shape costs a full pass.
        n2.input.extend((f"{t}_q" if n.op_type == "Shape" else quant[t][1]) if t in quant else t for t in n.input)
        if k in plan["convs"]:
            nodes += _quantize_conv_params(n, n2, k, inits, quant[n.input[0]][0], weight_max, new_inits)
            if k in renamed_out:
                n2.output[0] = renamed_out[k]
        nodes.append(n2)
        nodes += after[k]
    del g.node[:]
    g.node.extend(nodes)
    used = {t for n in g.node for t in n.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(kept + [i for i in new_inits if i.name in used])
    del g.value_info[:]
    return m


def _quantize_conv_params(n, n2, k, inits, x_scale, weight_max, new_inits):
    """Per-channel int8 weights and int32 bias for Conv `n`; rewires `n2`; returns their DQ nodes."""
    w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
    amax = np.abs(w.reshape(w.shape[0], -1)).max(1)
    sw = (np.where(amax > 0, amax, 1.0) / weight_max).astype(np.float32)
    wq = np.clip(np.round(w / sw.reshape(-1, *[1] * (w.ndim - 1))), -weight_max, weight_max).astype(np.int8)
    p = f"conv{k}"
    new_inits += [numpy_helper.from_array(wq, f"{p}_w_q"), numpy_helper.from_array(sw, f"{p}_w_scale"),
                  numpy_helper.from_array(np.zeros(len(sw), np.int8), f"{p}_w_zp")]
    dq = [helper.make_node("DequantizeLinear", [f"{p}_w_q", f"{p}_w_scale", f"{p}_w_zp"], [f"{p}_w_dq"], name=f"{p}_w_DQ", axis=0)]
    n2.input[1] = f"{p}_w_dq"
    if len(n.input) > 2 and n.input[2]:
        b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float64)
        sb = (x_scale * sw.astype(np.float64)).astype(np.float32)
        bq = np.round(b / sb).astype(np.int32)
        new_inits += [numpy_helper.from_array(bq, f"{p}_b_q"), numpy_helper.from_array(sb, f"{p}_b_scale"),
                      numpy_helper.from_array(np.zeros(len(sb), np.int32), f"{p}_b_zp")]
        dq.append(helper.make_node("DequantizeLinear", [f"{p}_b_q", f"{p}_b_scale", f"{p}_b_zp"], [f"{p}_b_dq"], name=f"{p}_b_DQ", axis=0))
        n2.input[2] = f"{p}_b_dq"
    return dq


def _fp16_tensor(t):
    return numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name)


def _conv_ancestors(g):
    """Indices of the nodes that feed some Conv (the Convs included)."""
    producer = {t: k for k, n in enumerate(g.node) for t in n.output}
    todo = [k for k, n in enumerate(g.node) if n.op_type == "Conv"]
    seen = set(todo)
    while todo:
        for t in g.node[todo.pop()].input:
            k = producer.get(t)
            if k is not None and k not in seen:
                seen.add(k)
                todo.append(k)
    return seen


def to_fp16(model):
    """float16 inside, float32 graph inputs and outputs.

    The nodes after the last Conv of a path (e.g. the L2 normalisation of a features output) stay
    float32: they are cheap, and in float16 a sum of squares overflows past 65504 and an epsilon
    of 1e-12 becomes 0.
    """
    m = copy.deepcopy(model)
    g = m.graph
    types = {v.name: v.type.tensor_type.elem_type for v in shape_inference.infer_shapes(model).graph.value_info}
    types.update({v.name: v.type.tensor_type.elem_type for v in list(g.input) + list(g.output)})
    types.update({t.name: t.data_type for t in g.initializer})
    half = _conv_ancestors(g)  # these run in float16
    is_float = lambda t: types.get(t) == TensorProto.FLOAT  # noqa: E731
    inits = {t.name: t for t in g.initializer}
    extra = []
    for k, n in enumerate(g.node):
        if k not in half:
            continue
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(_fp16_tensor(a.t))
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
        for j, t in enumerate(n.input):
            if t in inits and inits[t].data_type == TensorProto.FLOAT:
                n.input[j] = f"{t}_fp16"
                if f"{t}_fp16" not in {e.name for e in extra}:
                    extra.append(_fp16_tensor(inits[t]))
                    extra[-1].name = f"{t}_fp16"
    produced_half = {t for k in half for t in g.node[k].output if is_float(t)} | {x.name for x in g.input if is_float(x.name)}
    head, tail, cast32 = [], [], {}
    for x in g.input:
        if is_float(x.name):
            head.append(helper.make_node("Cast", [x.name], [f"{x.name}_fp16"], name=f"{x.name}_to_fp16", to=TensorProto.FLOAT16))
    inputs = {x.name for x in g.input}
    nodes = []
    for k, n in enumerate(g.node):
        if k in half:
            n.input[:] = [f"{t}_fp16" if t in inputs and is_float(t) else t for t in n.input]
        else:  # float32 node: a Cast back on each float16 input
            for j, t in enumerate(n.input):
                if t in produced_half and t not in inputs:
                    if t not in cast32:
                        cast32[t] = helper.make_node("Cast", [t], [f"{t}_fp32"], name=f"{t}_to_fp32", to=TensorProto.FLOAT)
                        nodes.append(cast32[t])
                    n.input[j] = f"{t}_fp32"
        nodes.append(n)
    for y in g.output:
        if y.name in produced_half:
            for n in nodes:
                n.output[:] = [f"{y.name}_fp16" if t == y.name else t for t in n.output]
                n.input[:] = [f"{y.name}_fp16" if t == y.name else t for t in n.input]
            tail.append(helper.make_node("Cast", [f"{y.name}_fp16"], [y.name], name=f"{y.name}_to_fp32", to=TensorProto.FLOAT))
    del g.node[:]
    g.node.extend(head + nodes + tail)
    used = {t for n in g.node for t in n.input}
    kept = [t for t in list(g.initializer) + extra if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept)
    del g.value_info[:]
    return shape_inference.infer_shapes(m, strict_mode=True)
