"""ONNX writers: Paddle program -> ONNX fp32 (paddle2onnx 1.3.1, folded by an ONNX Runtime
basic-optimization session), int8 (dynamic QInt8 per-channel, embedding Gathers included;
or static QDQ with calibration batches) and fp16 (onnxruntime.transformers.float16).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from edgetext.errors import ConversionError

OPSET = 14


class _QuietQuantizer:
    """ORT's quantizer logs "consider pre-processing" warnings on the root logger: mute them, then restore."""

    def __enter__(self):
        import logging

        self.root = logging.getLogger()
        self.level = self.root.level
        self.root.setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc):
        self.root.setLevel(self.level)


def paddle_to_onnx(model_file: str | os.PathLike, params_file: str | os.PathLike, out: str | os.PathLike) -> Path:
    """paddle2onnx, then constant folding (paddle2onnx 1.3.1 keeps every weight as a Constant node
    and leaves the pad-mask arithmetic unfolded: FACTS.md)."""
    import zlib  # noqa: F401

    import paddle2onnx

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgetext-p2o-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        try:
            paddle2onnx.export(str(model_file), str(params_file), save_file=str(raw), opset_version=OPSET,
                               auto_upgrade_opset=True, verbose=False, enable_onnx_checker=True,
                               enable_optimize=True)
        except Exception as e:  # noqa: BLE001
            raise ConversionError(f"paddle2onnx failed on {model_file}: {str(e).splitlines()[0][:300]}") from None
        if not raw.is_file() or raw.stat().st_size == 0:
            raise ConversionError(f"paddle2onnx wrote nothing for {model_file} (unsupported operator?)")
        fold(raw, out)
    rename_io(out)
    return out


def fold(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(dst)
    so.log_severity_level = 3
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    try:
        ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001
        raise ConversionError(f"ONNX Runtime cannot load the paddle2onnx output: {str(e).splitlines()[0][:300]}") \
            from None


def rename_io(path: str | os.PathLike) -> None:
    """One output named ``logits``; make the graph's initializers plain (no ORT-only attributes)."""
    import onnx

    m = onnx.load(str(path))
    changed = False
    if len(m.graph.output) != 1:
        raise ConversionError(f"{path}: {len(m.graph.output)} outputs, expected 1 (logits)")
    old = m.graph.output[0].name
    if old != "logits":
        for node in m.graph.node:
            for i, name in enumerate(node.output):
                if name == old:
                    node.output[i] = "logits"
            for i, name in enumerate(node.input):
                if name == old:
                    node.input[i] = "logits"
        m.graph.output[0].name = "logits"
        changed = True
    if changed:
        onnx.save(m, str(path))


def quantize_embeddings_rowwise(src: str | os.PathLike, dst: str | os.PathLike, min_rows: int = 128) -> int:
    """Embedding tables to int8 with one fp32 scale per row (symmetric, 127 levels).

    ``Gather(W, ids)`` becomes ``Cast(Gather(W_int8, ids)) * Gather(scale, ids)``. ORT's own
    Gather quantization is per-tensor: on all-MiniLM-L6-v2 its max |logit diff| was 12x larger
    (the table has outlier rows). Returns the number of tables quantized."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(src))
    inits = {i.name: i for i in m.graph.initializer}
    users: dict[str, int] = {}
    for node in m.graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    nodes, n = [], 0
    for node in m.graph.node:
        table = node.input[0] if node.op_type == "Gather" and node.input else None
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (table in inits and users.get(table) == 1 and attrs.get("axis", 0) == 0
                and inits[table].data_type == TensorProto.FLOAT and len(inits[table].dims) == 2
                and inits[table].dims[0] >= min_rows):
            w = numpy_helper.to_array(inits[table])
            scale = np.abs(w).max(axis=1, keepdims=True) / 127.0
            scale[scale == 0] = 1.0
            q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
            m.graph.initializer.remove(inits[table])
            m.graph.initializer.extend([numpy_helper.from_array(q, table + "_int8"),
                                        numpy_helper.from_array(scale.astype(np.float32), table + "_scale")])
            out, ids, nm = node.output[0], node.input[1], node.name or f"gather_{n}"
            nodes += [helper.make_node("Gather", [table + "_int8", ids], [out + "_int8"], axis=0, name=nm + "_int8"),
                      helper.make_node("Cast", [out + "_int8"], [out + "_deq"], to=TensorProto.FLOAT,
                                       name=nm + "_cast"),
                      helper.make_node("Gather", [table + "_scale", ids], [out + "_scale"], axis=0,
                                       name=nm + "_scale"),
                      helper.make_node("Mul", [out + "_deq", out + "_scale"], [out], name=nm + "_dequant")]
            n += 1
            continue
        nodes.append(node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    onnx.save(m, str(dst))
    return n


def quantize_dynamic_int8(src: str | os.PathLike, dst: str | os.PathLike, reduce_range: bool,
                          per_channel: bool = True) -> dict:
    """Dynamic QInt8: MatMul weights per-channel (activations quantized at run time) and the
    embedding tables row-wise int8 (:func:`quantize_embeddings_rowwise`)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="edgetext-q-") as tmp:
        emb = Path(tmp) / "emb.onnx"
        n = quantize_embeddings_rowwise(src, emb)
        with _QuietQuantizer():
            quantize_dynamic(str(emb), str(dst), op_types_to_quantize=["MatMul"], per_channel=per_channel,
                             reduce_range=reduce_range, weight_type=QuantType.QInt8,
                             extra_options={"MatMulConstBOnly": True})
    return {"method": "dynamic", "weight_type": "QInt8", "per_channel": per_channel, "reduce_range": reduce_range,
            "ops": ["MatMul"], "embeddings": f"{n} table(s) int8 row-wise"}


def quantize_static_int8(src: str | os.PathLike, dst: str | os.PathLike, reduce_range: bool,
                         calib_batches: Iterable[dict[str, np.ndarray]], per_channel: bool = True) -> dict:
    """Static QDQ (activations QUInt8, weights QInt8 per-channel) calibrated on real texts."""
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    names = [i.name for i in ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).get_inputs()]
    from .paddle_graph import feed_role

    feeds = [{n: b[feed_role(n)].astype(np.int64) for n in names} for b in calib_batches]
    if not feeds:
        raise ConversionError("static quantization needs calibration texts (--calib)")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory(prefix="edgetext-q-") as tmp, _QuietQuantizer():
        emb = Path(tmp) / "emb.onnx"
        n = quantize_embeddings_rowwise(src, emb)
        quantize_static(str(emb), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=["MatMul"], per_channel=per_channel,
                        reduce_range=reduce_range, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"MatMulConstBOnly": True, "CalibTensorRangeSymmetric": False})
    return {"method": "static-qdq", "activation_type": "QUInt8", "weight_type": "QInt8", "per_channel": per_channel,
            "reduce_range": reduce_range, "calibration": "minmax", "calibration_batches": len(feeds),
            "ops": ["MatMul"], "embeddings": f"{n} table(s) int8 row-wise"}


def to_fp16(src: str | os.PathLike, dst: str | os.PathLike) -> dict:
    """fp16 weights and compute, int64 inputs and fp32 logits kept (keep_io_types)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    m = onnx.load(str(src))
    m16 = convert_float_to_float16(m, keep_io_types=True, disable_shape_infer=False)
    onnx.save(m16, str(dst))
    return {"method": "cast-fp16", "keep_io_types": True}


def io_spec(path: str | os.PathLike) -> tuple[list[dict], list[dict]]:
    """Manifest inputs/outputs of an ONNX file."""
    import onnx

    from .paddle_graph import feed_role

    m = onnx.load(str(path), load_external_data=False)
    init = {i.name for i in m.graph.initializer}
    type_names = {onnx.TensorProto.INT64: "int64", onnx.TensorProto.INT32: "int32",
                  onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16"}
    inputs = []
    for i in m.graph.input:
        if i.name in init:
            continue
        dt = type_names.get(i.type.tensor_type.elem_type)
        if dt not in ("int64", "int32"):
            raise ConversionError(f"{path}: input {i.name} has type {dt}, expected int64/int32")
        inputs.append({"name": i.name, "role": feed_role(i.name), "dtype": dt, "shape": [-1, -1]})
    outputs = []
    for o in m.graph.output:
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in o.type.tensor_type.shape.dim]
        outputs.append({"name": o.name, "dtype": type_names.get(o.type.tensor_type.elem_type, "float32"),
                        "shape": [-1, dims[-1] if dims else -1]})
    return inputs, outputs
