"""Outlier-channel decomposition of an fp32 ONNX graph, so that dynamic int8 keeps its accuracy.

ONNX Runtime's dynamic int8 quantizes a MatMul's input with one scale for the whole tensor. BERT-family
activations have a few channels tens of times larger than the rest (all-MiniLM-L6-v2 fine-tuned on tweets:
one GELU output channel of layer 0 reaches 24.8 where the median channel peaks at 1.7), so that scale leaves
the ordinary channels a handful of levels. Dettmers et al.'s LLM.int8() answer, applied here without new
kernels: for each quantizable MatMul ``y = x @ W`` the ``k`` input channels with the largest calibrated
``max |x|`` are split off,

    y = (x * mask) @ W  +  Gather(x, outliers) @ W[outliers]

where ``mask`` zeroes the outlier channels. The first product is the one int8 quantizes (its scale now set by
ordinary channels); the second is a thin fp32 MatMul (``k`` rows). Both are exact in fp32: the graph computes
the same function before quantization. Consumers of one input tensor (a layer's query, key and value
MatMuls) share its channel set, its mask and its Gather, so ORT's quantizer also shares one
DynamicQuantizeLinear among them.

Where the input is an FFN's activation ``x = act(u @ W1 + b1)`` with an elementwise ``act`` (GELU, ReLU)
and ``x`` feeds only this MatMul, the outliers are removed at their source instead, without a mask pass over
the FFN's widest tensor (the mask's Mul cost ~5-7% of an FFN MatMul): the outlier *neurons* are zeroed in a
copy of ``W1`` / ``b1`` (``act(0) = 0``) and recomputed in a thin fp32 FFN,

    y = act(u @ W1') @ W  +  act(u @ W1[:, k] + b1[k]) @ W[k]

The copy carries new tensor names (``<name>.outlier.zeroed``), so ``quantize.mix_models`` brings it along
with the FFN output MatMul as one unit and drops the original FFN input MatMul it no longer needs.

Measured (bench/quantization.py): on that MiniLM model the held-out top-1 agreement of dynamic int8 went from
0.979 to 0.99+ with the mean squared logit error ~6x lower. MiniLM fine-tuned on all training tweets, every
MatMul split, 2,000 test tweets vs the fp32 graph, one thread, interleaved rounds on a loaded VM: full int8
0.9875; mask form only 0.9945 at 1.75x full int8's batch-32 time; with the FFN neuron split 0.996 at 1.38x
(so the search splits only the sensitive nodes it needs).

May import: numpy, onnx, onnxruntime, .io_names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import numpy as np

from .io_names import feed_role

if TYPE_CHECKING:
    import onnx

SUFFIX = ".outlier"  # every node and tensor this module adds is named <input tensor or node>.outlier.*
MIN_CHANNELS = 16  # narrower inputs are left as they are (4 channels split off 8 would leave no int8 worth it)
#: Elementwise ops an FFN activation is written with (exact and tanh GELU, ReLU); each maps 0 to 0 in the
#: patterns that matter, and :func:`decompose` checks the rewritten graph against the original anyway.
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Erf", "Tanh", "Pow", "Relu", "Gelu", "FastGelu", "Sigmoid"}
EXACT_TOLERANCE = 1e-3  # max |diff| / (1 + max |reference|) of the rewritten fp32 graph on a calibration batch


def channels_for(dim: int) -> int:
    """How many channels are split off an input of ``dim`` channels: 1/64 of them, at least 4."""
    return max(4, dim // 64)


@dataclass
class Decomposition:
    """What :func:`decompose` did: the rewritten graph, the fp32 MatMuls int8 must not touch, and a record."""

    model: "onnx.ModelProto"
    fp32_nodes: list[str] = field(default_factory=list)
    record: dict = field(default_factory=dict)


def split_nodes(model: "onnx.ModelProto") -> list[str]:
    """The MatMuls :func:`decompose` split in ``model`` (also after quantization: the names survive)."""
    tail = SUFFIX + ".add"
    return [n.name[:-len(tail)] for n in model.graph.node if n.op_type == "Add" and n.name.endswith(tail)]


def neuron_pairs(fp32: "onnx.ModelProto", variant: "onnx.ModelProto") -> dict[str, str]:
    """FFN output MatMul -> its FFN input MatMul, for each pair ``variant`` split by neurons: in a mix the two
    are one unit (taking the first from ``variant`` brings that graph's copy of the second along)."""
    thin = SUFFIX + ".neurons_mm"
    split = {n.name[:-len(thin)] for n in variant.graph.node if n.name.endswith(thin)}
    out = {}
    for n in fp32.graph.node:
        if n.name in split and (a := _activation(fp32, n.input[0])) is not None:
            out[n.name] = a.matmul.name
    return out


def quantizable_matmuls(model: "onnx.ModelProto") -> list["onnx.NodeProto"]:
    """Named MatMuls with a constant 2-D fp32 weight and an activation input wide enough to split."""
    from onnx import TensorProto

    inits = {i.name: i for i in model.graph.initializer}
    out = []
    for n in model.graph.node:
        if n.op_type != "MatMul" or not n.name or len(n.input) != 2:
            continue
        w = inits.get(n.input[1])
        if (w is None or n.input[0] in inits or len(w.dims) != 2 or w.data_type != TensorProto.FLOAT
                or w.dims[0] < MIN_CHANNELS):
            continue
        out.append(n)
    return out


@dataclass
class _Activation:
    """``x = act(u @ W1 + b1)``: the region between the FFN input MatMul and the tensor ``x``."""

    matmul: "onnx.NodeProto"  # u @ W1
    bias_add: "onnx.NodeProto"  # + b1
    bias_pos: int  # which input of bias_add is b1
    chain: list  # the elementwise nodes from h = mm + b1 to x, in graph order


def _activation(model: "onnx.ModelProto", x: str) -> "_Activation | None":
    """The FFN activation producing ``x`` if its whole region is private to ``x``'s one consumer, else None."""
    from onnx import TensorProto

    inits = {i.name: i for i in model.graph.initializer}
    prod = {o: n for n in model.graph.node for o in n.output}
    users: dict[str, int] = {}
    for n in model.graph.node:
        for t in n.input:
            users[t] = users.get(t, 0) + 1
    outputs = {o.name for o in model.graph.output}

    def scalar(t: str) -> bool:
        return t in inits and int(np.prod(inits[t].dims)) == 1

    chain: list = []
    region: set[str] = set()
    frontier = [x]
    h = None
    while frontier:
        t = frontier.pop()
        n = prod.get(t)
        if n is None or t in outputs:
            return None
        if n.op_type == "Add" and any(i in inits and len(inits[i].dims) == 1 and not scalar(i) for i in n.input):
            if h not in (None, t):
                return None
            h = t
            continue
        if n.op_type not in ELEMENTWISE:
            return None
        if all(o is not n for o in chain):
            chain.append(n)
        region.update(n.output)
        frontier += [i for i in n.input if i and not scalar(i) and i not in region and i != h]
    if h is None or not chain:
        return None
    add = prod[h]
    pos = next(i for i, t in enumerate(add.input) if t in inits)
    mm = prod.get(add.input[1 - pos])
    if mm is None or mm.op_type != "MatMul" or mm.input[1] not in inits or mm.input[0] in inits:
        return None
    w1, b1 = inits[mm.input[1]], inits[add.input[pos]]
    if len(w1.dims) != 2 or w1.data_type != TensorProto.FLOAT or w1.dims[1] != b1.dims[0]:
        return None
    # every tensor of the region is used inside it only (x: by its one consumer)
    inner = {mm.output[0], h} | region
    uses_inside = {t: 0 for t in inner}
    for n in [add, *chain]:
        for t in n.input:
            if t in uses_inside:
                uses_inside[t] += 1
    if users.get(x, 0) != 1 or any(users.get(t, 0) != uses_inside[t] for t in inner - {x}):
        return None
    order = {id(n): i for i, n in enumerate(model.graph.node)}
    return _Activation(mm, add, pos, sorted(chain, key=lambda n: order[id(n)]))


def channel_peaks(model: "onnx.ModelProto", tensors: list[str], batches: Iterable[dict]) -> dict[str, np.ndarray]:
    """``max |x|`` per last-axis channel of each named tensor over the calibration batches (fp32, ORT CPU).

    Padded positions count: their activations are computed too and take part in the run-time scale."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    have = {o.name for o in probe.graph.output}
    for t in tensors:
        if t not in have:
            probe.graph.output.append(helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = 1, 1, 3
    sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    peaks: dict[str, np.ndarray] = {}
    for b in batches:
        outs = sess.run(tensors, {n: np.asarray(b[feed_role(n)]).astype(np.int64) for n in names})
        for t, o in zip(tensors, outs):
            v = np.abs(o.reshape(-1, o.shape[-1])).max(axis=0)
            peaks[t] = v if t not in peaks else np.maximum(peaks[t], v)
    return peaks


def decompose(model: "onnx.ModelProto", batches: list[dict], k_of=channels_for) -> Decomposition:
    """The graph with every :func:`quantizable_matmuls` node split as in the module docstring.

    ``batches``: calibration feeds by role (``input_ids``, ``token_type_ids``, ...), never held-out texts."""

    nodes = quantizable_matmuls(model)
    if not nodes or not batches:
        return Decomposition(model, [], {"inputs": 0, "matmuls": 0})
    inputs = sorted({n.input[0] for n in nodes})
    peaks = channel_peaks(model, inputs, batches)
    inits = {i.name: i for i in model.graph.initializer}
    chosen: dict[str, np.ndarray] = {}
    for x in inputs:
        p = peaks[x]
        k = min(k_of(len(p)), len(p) // 2)
        chosen[x] = np.sort(np.argsort(-p, kind="stable")[:k]).astype(np.int64)

    acts = {x: a for x in inputs if (a := _activation(model, x)) is not None}
    out = _rewrite(model, nodes, chosen, peaks, inits, acts)
    if acts and not _same_function(model, out.model, batches[0]):
        # an activation that does not map 0 to 0 (or a pattern read wrongly): the mask form is exact anyway
        out = _rewrite(model, nodes, chosen, peaks, inits, {})
        acts = {}
    ratio = {x: float(peaks[x][chosen[x]].min() / max(float(np.median(peaks[x])), 1e-12)) for x in inputs}
    out.record.update({"inputs": len(inputs), "matmuls": len(nodes),
                       "channels_split": {x: int(len(chosen[x])) for x in inputs},
                       "rule": "per MatMul input: the max(4, channels/64) channels with the largest calibrated "
                               "max |x|; an FFN activation's outlier neurons recomputed in a thin fp32 FFN",
                       "neuron_split": len(acts),
                       "least_split_peak_over_median": round(min(ratio.values()), 2)})
    return out


def _rewrite(model: "onnx.ModelProto", nodes: list, chosen: dict[str, np.ndarray], peaks: dict[str, np.ndarray],
             inits: dict, acts: dict[str, _Activation]) -> Decomposition:
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    targets = {n.name for n in nodes}
    emitted: set[str] = set()
    fp32_nodes: list[str] = []
    new_inits: list = []

    def mask_split(x: str) -> tuple[str, str]:
        """(inliers, outliers) tensors of ``x``: one mask and one Gather per input tensor, shared by its consumers."""
        base = x + SUFFIX
        if x not in emitted:
            mask = np.ones(len(peaks[x]), dtype=np.float32)
            mask[chosen[x]] = 0.0
            new_inits.extend([numpy_helper.from_array(mask, base + ".mask"),
                              numpy_helper.from_array(chosen[x], base + ".channels")])
            out.graph.node.extend([
                helper.make_node("Mul", [x, base + ".mask"], [base + ".inliers"], name=base + ".mask_mul"),
                helper.make_node("Gather", [x, base + ".channels"], [base + ".outliers"], axis=-1,
                                 name=base + ".gather")])
            emitted.add(x)
        return base + ".inliers", base + ".outliers"

    def split_matmul(n: "onnx.NodeProto", w: np.ndarray, w_name: str) -> None:
        """``n`` (``x @ w``, ``w`` stored as ``w_name``) as the inlier int8 product plus the thin fp32 one."""
        x, y, nb = n.input[0], n.output[0], n.name + SUFFIX
        inl, outl = mask_split(x)
        new_inits.append(numpy_helper.from_array(np.ascontiguousarray(w[chosen[x]]), nb + ".weight"))
        main = onnx.NodeProto()
        main.CopyFrom(n)
        main.input[0], main.input[1], main.output[0] = inl, w_name, nb + ".inlier_product"
        out.graph.node.extend([
            main,
            helper.make_node("MatMul", [outl, nb + ".weight"], [nb + ".outlier_product"], name=nb + ".mm"),
            helper.make_node("Add", [nb + ".inlier_product", nb + ".outlier_product"], [y], name=nb + ".add")])
        fp32_nodes.append(nb + ".mm")

    def copy(n: "onnx.NodeProto", name: str, ins: list[str], outs: list[str]) -> "onnx.NodeProto":
        d = onnx.NodeProto()
        d.CopyFrom(n)
        d.name = name
        del d.input[:], d.output[:]
        d.input.extend(ins)
        d.output.extend(outs)
        return d

    for n in model.graph.node:
        if n.name not in targets:
            out.graph.node.append(n)
            continue
        x = n.input[0]
        if x not in acts:
            split_matmul(n, numpy_helper.to_array(inits[n.input[1]]), n.input[1])
            continue
        a, idx, nb, z = acts[x], chosen[x], n.name + SUFFIX, SUFFIX + ".zeroed"
        b1_name = a.bias_add.input[a.bias_pos]
        w1 = numpy_helper.to_array(inits[a.matmul.input[1]]).copy()
        b1 = numpy_helper.to_array(inits[b1_name]).astype(np.float32)
        thin_w1, thin_b1 = np.ascontiguousarray(w1[:, idx]), b1[idx].copy()
        w1[:, idx] = 0.0
        b1 = b1.copy()
        b1[idx] = 0.0
        new_inits += [numpy_helper.from_array(w1, a.matmul.input[1] + z), numpy_helper.from_array(b1, b1_name + z)]
        # 1. the FFN again under new names, its outlier neurons zeroed (so act(.) = 0 there)
        zeroed = {t: t + z for c in [a.matmul, a.bias_add, *a.chain] for t in c.output}
        mm1 = copy(a.matmul, a.matmul.name + z, [a.matmul.input[0], a.matmul.input[1] + z], [zeroed[a.matmul.output[0]]])
        if a.matmul.name in targets:  # its own input channels are split as well
            split_matmul(mm1, w1, a.matmul.input[1] + z)
        else:
            out.graph.node.append(mm1)
        for c in [a.bias_add, *a.chain]:
            ins = [b1_name + z if (c is a.bias_add and t == b1_name) else zeroed.get(t, t) for t in c.input]
            out.graph.node.append(copy(c, (c.name or c.output[0]) + z, ins, [zeroed[o] for o in c.output]))
        # 2. the thin fp32 FFN of the k outlier neurons: their pre-activation, the same activation
        thin = {a.bias_add.output[0]: nb + ".neurons_pre"}
        thin.update({o: f"{nb}.neurons.{o}" for c in a.chain for o in c.output})
        new_inits += [numpy_helper.from_array(thin_w1, nb + ".neurons_w1"),
                      numpy_helper.from_array(thin_b1, nb + ".neurons_b1"),
                      numpy_helper.from_array(np.ascontiguousarray(numpy_helper.to_array(inits[n.input[1]])[idx]),
                                              nb + ".weight")]
        out.graph.node.extend([
            helper.make_node("MatMul", [a.matmul.input[0], nb + ".neurons_w1"], [nb + ".neurons_mm"],
                             name=nb + ".neurons_mm"),
            helper.make_node("Add", [nb + ".neurons_mm", nb + ".neurons_b1"], [nb + ".neurons_pre"],
                             name=nb + ".neurons_add")])
        for c in a.chain:
            out.graph.node.append(copy(c, f"{nb}.neurons.{c.name or c.output[0]}", [thin.get(t, t) for t in c.input],
                                       [thin[o] for o in c.output]))
        # 3. this MatMul on the zeroed activation (int8) plus the thin FFN's share (fp32)
        main = copy(n, n.name, [zeroed[x], n.input[1]], [nb + ".inlier_product"])
        out.graph.node.extend([
            main,
            helper.make_node("MatMul", [thin[x], nb + ".weight"], [nb + ".outlier_product"], name=nb + ".mm"),
            helper.make_node("Add", [nb + ".inlier_product", nb + ".outlier_product"], [n.output[0]],
                             name=nb + ".add")])
        fp32_nodes += [nb + ".neurons_mm", nb + ".mm"]
    out.graph.initializer.extend(new_inits)
    _topological(out)
    # The original FFN input MatMuls stay, unused here: quantize.mix_models transplants them when it takes
    # a node from this graph without its FFN output MatMul, and drops them (drop_dead_nodes) otherwise.
    return Decomposition(out, fp32_nodes, {})


def _topological(m: "onnx.ModelProto") -> None:
    """Reorder ``m``'s nodes so every tensor is produced before it is used (the FFN copies are appended late)."""
    have = {i.name for i in m.graph.input} | {i.name for i in m.graph.initializer} | {""}
    pending, ordered = list(m.graph.node), []
    while pending:
        rest = []
        for n in pending:
            if all(t in have for t in n.input):
                ordered.append(n)
                have.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise ValueError(f"graph has a cycle or a missing tensor at {rest[0].name!r}")
        pending = rest
    del m.graph.node[:]
    m.graph.node.extend(ordered)


def drop_dead_nodes(m: "onnx.ModelProto") -> None:
    """Remove nodes (and then initializers) nothing reachable from the graph outputs uses."""
    need = {o.name for o in m.graph.output}
    keep = []
    for n in reversed(m.graph.node):
        if any(o in need for o in n.output):
            keep.append(n)
            need.update(n.input)
    del m.graph.node[:]
    m.graph.node.extend(reversed(keep))
    inits = [i for i in m.graph.initializer if i.name in need]
    del m.graph.initializer[:]
    m.graph.initializer.extend(inits)


def _same_function(a: "onnx.ModelProto", b: "onnx.ModelProto", batch: dict) -> bool:
    """True when ``a`` and ``b`` (fp32) give the same outputs on ``batch`` within EXACT_TOLERANCE."""
    import onnxruntime as ort

    outs = []
    for m in (a, b):
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = 1, 1, 3
        sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        feed = {i.name: np.asarray(batch[feed_role(i.name)]).astype(np.int64) for i in sess.get_inputs()}
        outs.append(sess.run(None, feed))
    return all(float(np.abs(x - y).max()) <= EXACT_TOLERANCE * (1.0 + float(np.abs(x).max()))
               for x, y in zip(*outs))
