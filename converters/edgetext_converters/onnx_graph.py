"""An ONNX graph of an ERNIE / BERT sequence classifier written directly from its weights (no paddle2onnx),
built for inference rather than traced from training code. Standard ONNX ops only (opset 17), so every ONNX
engine reads it (ONNX Runtime on x86 / ARM / CUDA, OpenVINO) and each applies its own fusions.

What differs from the traced graph (each exact in real arithmetic; float rounding differs by ~1e-6):

- **Only the [CLS] row goes through the last layer's query path.** The classifier reads position 0 of the last
  layer alone, so that layer computes keys and values for every token but the query, attention output,
  residual, LayerNorm and feed-forward block for one row. For an L-layer encoder this removes ~10/12 of
  one layer's matrix work (ERNIE 3.0 Nano, 4 layers: ~21% of the encoder's MACs; MiniLM-L6: ~14%).
- The 1/sqrt(head_dim) attention scale is folded into the query weights and bias (one Mul per layer less).
- ERNIE's constant task-type embedding row (``use_task_id``) is folded into the position table, and with no
  ``token_type_ids`` input the type row 0 is too (one Gather and Add less).
- The pad mask is ``input_ids == pad_token_id`` (as the Paddle graph), an additive -1e4 bias on the scores.

``why_not(desc)`` says when a description cannot be written this way (the writer then falls back to
paddle2onnx): graph-form sources without a state-dict name map (Paddle inference models), activations other
than gelu / relu, embedding models.

May import: numpy, onnx, ..description (types only).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

    from .description import ModelDescription

OPSET = 17  # LayerNormalization
ACTIVATIONS = ("gelu", "relu")
NOTE = ("ONNX graph written from the weights (edgetext_converters.onnx_graph): the last layer computes the "
        "[CLS] row only, attention scale folded into the query weights")


def why_not(desc: "ModelDescription") -> str | None:
    """None when :func:`build` can write ``desc``, else the reason."""
    if getattr(desc, "is_embedding", False):
        return "an embedding model (its output needs every token)"
    if desc.config is None or desc.graph is None or not desc.graph.state_names:
        return "no weights-form source (a Paddle inference model is exported with paddle2onnx)"
    act = str(desc.config.hidden_act).lower()
    if act not in ACTIVATIONS:
        return f"activation {act!r} (written directly: {', '.join(ACTIVATIONS)})"
    roles = set(_roles(desc))
    if "input_ids" not in roles or not roles <= {"input_ids", "token_type_ids"}:
        return f"inputs {desc.graph.feed_names} (written directly: input_ids [+ token_type_ids])"
    missing = [k for k in desc.graph.state_names.values() if k not in desc.graph.params]
    if missing:
        return f"the lowered graph lacks parameters {missing[:3]}"
    return None


def _roles(desc: "ModelDescription") -> dict[str, str]:
    from .io_names import feed_role

    assert desc.graph is not None
    return {feed_role(n): n for n in desc.graph.feed_names}


def cls_path_nodes(model: "onnx.ModelProto") -> list[str]:
    """The MatMuls of a graph written here that see one row per text (the last layer's query, output and
    feed-forward MatMuls, pooler, classifier): int8 there saves no time and costs accuracy, so the quantizers
    try keeping them in higher precision first. Empty for other graphs (names are this module's)."""
    import re

    names = [n.name for n in model.graph.node if n.op_type == "MatMul"]
    layers = sorted({int(m.group(1)) for n in names if (m := re.match(r"l(\d+)\.", n))})
    if not layers or "pooler.mm" not in names:
        return []
    last = layers[-1]
    return [n for n in names if n in ("pooler.mm", "logits.mm") or re.fullmatch(rf"l{last}\.(q|o|ffn1|ffn2)\.mm", n)]


def weights_of(desc: "ModelDescription") -> dict[str, np.ndarray]:
    """PaddleNLP name -> the graph's current array (after vocabulary / position trimming)."""
    assert desc.graph is not None
    return {k: desc.graph.params[v] for k, v in desc.graph.state_names.items()}


class _Graph:
    """Nodes and initializers being written; names are unique by construction (prefix per layer)."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._names: set[str] = set()

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        assert name not in self._names, name
        self._names.add(name)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype, order="C"), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attrs: Any) -> str:
        from onnx import helper

        assert output not in self._names, output
        self._names.add(output)
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output


def build(desc: "ModelDescription", cls_only: bool = True, fold_scale: bool = True) -> "onnx.ModelProto":
    """The classifier graph of ``desc`` (see the module docstring); call :func:`why_not` first.
    ``cls_only`` / ``fold_scale`` switch those two changes off (measurements, tests)."""
    import onnx
    from onnx import TensorProto, helper

    cfg, graph = desc.config, desc.graph
    assert graph is not None, "onnx_graph.build needs the lowered graph (why_not first)"
    w = weights_of(desc)
    p, head_dim = cfg.model_type, cfg.head_dim
    eps = float(cfg.layer_norm_eps)
    roles = _roles(desc)
    dtypes = {n: (graph.feed_dtypes.get(n) or "int64") for n in graph.feed_names}
    id_type = TensorProto.INT32 if dtypes[roles["input_ids"]] == "int32" else TensorProto.INT64
    id_np = np.int32 if id_type == TensorProto.INT32 else np.int64
    g = _Graph()
    ids = roles["input_ids"]

    # embeddings: word + position (+ folded constant rows) + token type, LayerNorm
    E = f"{p}.embeddings."
    pos = np.asarray(w[E + "position_embeddings.weight"], np.float32)
    types = w.get(E + "token_type_embeddings.weight") if cfg.type_vocab_size > 0 else None
    if cfg.use_task_id:
        pos = pos + np.asarray(w[E + "task_type_embeddings.weight"], np.float32)[cfg.task_id][None, :]
    if types is not None and "token_type_ids" not in roles:
        pos = pos + np.asarray(types, np.float32)[0][None, :]
        types = None
    x = g.op("Gather", [g.const("word_embeddings", w[E + "word_embeddings.weight"]), ids], "word")
    shape = g.op("Shape", [ids], "ids_shape")
    seq = g.op("Slice", [shape, g.const("one", [1], np.int64), g.const("two", [2], np.int64)], "seq_len")
    zero1 = g.const("zero1", [0], np.int64)
    positions = g.op("Slice", [g.const("position_embeddings", pos), zero1, seq, zero1], "positions")
    x = g.op("Add", [x, positions], "word_pos")
    if types is not None:
        tt = g.op("Gather", [g.const("token_type_embeddings", types), roles["token_type_ids"]], "types")
        x = g.op("Add", [x, tt], "word_pos_type")
    x = g.op("LayerNormalization", [x, g.const("emb_ln_w", w[E + "layer_norm.weight"]),
                                    g.const("emb_ln_b", w[E + "layer_norm.bias"])], "emb", axis=-1, epsilon=eps)

    # additive pad mask [B, 1, 1, S]: -1e4 where input_ids == pad_token_id (the Paddle graph's mask)
    is_pad = g.op("Equal", [ids, g.const("pad_id", cfg.pad_token_id, id_np)], "is_pad")
    pad_f = g.op("Cast", [is_pad], "is_pad_f", to=TensorProto.FLOAT)
    bias2 = g.op("Mul", [pad_f, g.const("mask_value", -1e4)], "mask_bias_2d")
    mask = g.op("Unsqueeze", [bias2, g.const("mask_axes", [1, 2], np.int64)], "mask_bias")

    merge = g.const("heads_merged_shape", [0, 0, -1], np.int64)  # pruned layers have fewer heads
    scale = 1.0 / np.sqrt(head_dim)
    if not fold_scale:
        scale_c = g.const("attn_scale", scale)

    def linear(inp: str, name: str, weight: np.ndarray, bias: np.ndarray) -> str:
        mm = g.op("MatMul", [inp, g.const(f"{name}.w", weight)], f"{name}.mm")
        return g.op("Add", [mm, g.const(f"{name}.b", bias)], name)

    def act(inp: str, name: str) -> str:
        if str(cfg.hidden_act).lower() == "relu":
            return g.op("Relu", [inp], name)
        # exact (erf) GELU, written as the pattern ONNX Runtime and OpenVINO fuse into one kernel
        e = g.op("Erf", [g.op("Div", [inp, g.const(f"{name}.sqrt2", np.sqrt(2.0))], f"{name}.div")], f"{name}.erf")
        e = g.op("Add", [e, g.const(f"{name}.one", 1.0)], f"{name}.erf1")
        return g.op("Mul", [g.op("Mul", [inp, e], f"{name}.xe"), g.const(f"{name}.half", 0.5)], name)

    layers = cfg.num_hidden_layers
    for n in range(layers):
        L, A = f"{p}.encoder.layers.{n}.", f"{p}.encoder.layers.{n}.self_attn."
        tag = f"l{n}"
        split = g.const(f"{tag}.heads_shape", [0, 0, cfg.heads_in(n), head_dim], np.int64)
        rows = x
        if cls_only and n == layers - 1:  # only the [CLS] row continues past the keys and values
            rows = g.op("Slice", [x, g.const("cls_start", [0], np.int64), g.const("cls_end", [1], np.int64),
                                  g.const("cls_axis", [1], np.int64)], f"{tag}.cls_rows")
        qs = scale if fold_scale else 1.0
        q = linear(rows, f"{tag}.q", np.asarray(w[A + "q_proj.weight"], np.float32) * qs,
                   np.asarray(w[A + "q_proj.bias"], np.float32) * qs)
        if not fold_scale:
            q = g.op("Mul", [q, scale_c], f"{tag}.q_scaled")
        k = linear(x, f"{tag}.k", w[A + "k_proj.weight"], w[A + "k_proj.bias"])
        v = linear(x, f"{tag}.v", w[A + "v_proj.weight"], w[A + "v_proj.bias"])
        qh = g.op("Transpose", [g.op("Reshape", [q, split], f"{tag}.q4")], f"{tag}.qh", perm=[0, 2, 1, 3])
        kh = g.op("Transpose", [g.op("Reshape", [k, split], f"{tag}.k4")], f"{tag}.kh", perm=[0, 2, 3, 1])
        vh = g.op("Transpose", [g.op("Reshape", [v, split], f"{tag}.v4")], f"{tag}.vh", perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("MatMul", [qh, kh], f"{tag}.qk"), mask], f"{tag}.scores")
        probs = g.op("Softmax", [scores], f"{tag}.probs", axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, vh], f"{tag}.pv")], f"{tag}.ctx4", perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merge], f"{tag}.ctx")
        att = linear(ctx, f"{tag}.o", w[A + "out_proj.weight"], w[A + "out_proj.bias"])
        x1 = g.op("LayerNormalization", [g.op("Add", [att, rows], f"{tag}.res1"),
                                         g.const(f"{tag}.ln1.w", w[L + "norm1.weight"]),
                                         g.const(f"{tag}.ln1.b", w[L + "norm1.bias"])],
                  f"{tag}.x1", axis=-1, epsilon=eps)
        f = act(linear(x1, f"{tag}.ffn1", w[L + "linear1.weight"], w[L + "linear1.bias"]), f"{tag}.act")
        f = linear(f, f"{tag}.ffn2", w[L + "linear2.weight"], w[L + "linear2.bias"])
        x = g.op("LayerNormalization", [g.op("Add", [f, x1], f"{tag}.res2"),
                                        g.const(f"{tag}.ln2.w", w[L + "norm2.weight"]),
                                        g.const(f"{tag}.ln2.b", w[L + "norm2.bias"])],
                 f"{tag}.out", axis=-1, epsilon=eps)

    cls = g.op("Gather", [x, g.const("cls_index", 0, np.int64)], "cls", axis=1)
    pooled = g.op("Tanh", [linear(cls, "pooler", w[f"{p}.pooler.dense.weight"], w[f"{p}.pooler.dense.bias"])],
                  "pooled")
    out_name = graph.fetch_names[0] if graph.fetch_names else "logits"
    linear(pooled, out_name, w["classifier.weight"], w["classifier.bias"])

    inputs = [helper.make_tensor_value_info(name, id_type if name == ids else
                                            (TensorProto.INT32 if dtypes[name] == "int32" else TensorProto.INT64),
                                            ["batch", "sequence"]) for name in graph.feed_names]
    num_labels = int(np.asarray(w["classifier.bias"]).shape[0])
    outputs = [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", num_labels])]
    graph = helper.make_graph(g.nodes, "edgetext_classifier", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="edgetext_converters.onnx_graph")
    model.ir_version = 8  # readable by ONNX Runtime >= 1.10 and OpenVINO
    onnx.checker.check_model(model)
    return model
