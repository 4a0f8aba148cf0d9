"""Quantization recipes for ONNX files: each takes an fp32 model path and writes a quantized one,
returning the record the manifest keeps under ``quantization``.

- :func:`quantize_embeddings_rowwise`: embedding tables int8 with one scale per row (own pass);
- :func:`quantize_dynamic_int8`: row-wise embeddings + ORT dynamic QInt8 per-channel MatMuls;
- :func:`quantize_static_int8`: row-wise embeddings + ORT static QDQ (MinMax) on calibration batches;
- :func:`to_fp16`: fp16 weights and compute, int64 inputs / fp32 logits kept.

Choosing among recipes (and, later, searching mixes of them) is the quantize pass's job
(passes/quantization.py); this module only knows how to apply one.

ONNX Runtime's quantizer reports through module-level ``logging.warning(...)`` calls, i.e. on
the *root* logger, not on a logger of its own (e.g. "Please consider pre-processing before
quantization" in onnxruntime/quantization/quantize.py); its few named loggers live under
``onnxruntime.quantization``. :func:`ort_quantizer_logs` re-routes exactly the records that
come from that package to this module's logger at DEBUG, and keeps ``logging.warning``'s implicit
``basicConfig()`` from installing a handler on the caller's root logger.

May import: numpy, onnx, onnxruntime, edgetext.errors, .io_names.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from edgetext.errors import ConversionError

from .io_names import feed_role

log = logging.getLogger(__name__)


class _FromOrtQuantization(logging.Filter):
    """Drops records logged from inside onnxruntime/quantization, after re-logging them at DEBUG here."""

    def __init__(self, package_dir: str):
        super().__init__()
        self.prefix = os.path.join(os.path.realpath(package_dir), "")

    def filter(self, record: logging.LogRecord) -> bool:
        path = os.path.realpath(record.pathname or "")
        if not (path.startswith(self.prefix) or record.name.startswith("onnxruntime.quantization")):
            return True
        log.debug("onnxruntime.quantization %s: %s", record.levelname.lower(), record.getMessage())
        return False


@contextlib.contextmanager
def ort_quantizer_logs() -> Iterator[None]:
    """While quantizing: ORT's quantizer messages go to this module's logger at DEBUG (module docstring)."""
    import onnxruntime.quantization as q

    root = logging.getLogger()
    ort = logging.getLogger("onnxruntime.quantization")
    flt = _FromOrtQuantization(os.path.dirname(q.__file__))
    guard = logging.NullHandler() if not root.handlers else None  # logging.warning() would basicConfig() else
    if guard is not None:
        root.addHandler(guard)
    root.addFilter(flt)
    ort.addFilter(flt)
    try:
        yield
    finally:
        ort.removeFilter(flt)
        root.removeFilter(flt)
        if guard is not None:
            root.removeHandler(guard)


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
        table = node.input[0] if node.op_type == "Gather" and node.input else ""
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
        with ort_quantizer_logs():
            quantize_dynamic(str(emb), str(dst), op_types_to_quantize=["MatMul"], per_channel=per_channel,
                             reduce_range=reduce_range, weight_type=QuantType.QInt8,
                             extra_options={"MatMulConstBOnly": True})
    return {"method": "dynamic", "weight_type": "QInt8", "per_channel": per_channel, "reduce_range": reduce_range,
            "ops": ["MatMul"], "embeddings": f"{n} table(s) int8 row-wise"}


def quantize_static_int8(src: str | os.PathLike, dst: str | os.PathLike, reduce_range: bool,
                         calib_batches: Iterable[dict[str, np.ndarray]], per_channel: bool = True) -> dict:
    """Static QDQ (activations QUInt8, weights QInt8 per-channel) calibrated on real texts.

    ``calib_batches``: ``{role: int64 [B, L]}`` batches, fed by the model's input names."""
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    names = [i.name for i in ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).get_inputs()]
    feeds = [{n: b[feed_role(n)].astype(np.int64) for n in names} for b in calib_batches]
    if not feeds:
        raise ConversionError("static quantization needs calibration texts (--calib)")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory(prefix="edgetext-q-") as tmp, ort_quantizer_logs():
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
