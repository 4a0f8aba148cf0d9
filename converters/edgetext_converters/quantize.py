"""Quantization recipes for ONNX files: each takes an fp32 model path and writes a quantized one,
returning the record the manifest keeps under ``quantization``.

- :func:`quantize_embeddings_rowwise`: embedding tables int8 with one scale per row (own pass);
- :func:`quantize_dynamic_int8`: row-wise embeddings + ORT dynamic QInt8 per-channel MatMuls;
- :func:`quantize_dynamic_outliers`: the same after splitting each MatMul's largest input channels into a
  thin fp32 MatMul (``outliers.py``), calibrated;
- :func:`quantize_static_int8`: row-wise embeddings + ORT static QDQ (minmax / percentile / entropy)
  on calibration batches;
- :func:`quantize_weight_only_int8`: ORT MatMulNBits with 8 bits (int8 weights per block, fp32 or int8
  compute by ``accuracy_level``);
- :func:`weights_fp16`: MatMul/Gemm weights stored fp16 behind a ``Cast`` (ORT folds it at load: fp32
  compute, half the bytes), the "kept in higher precision" form of the search;
- :func:`to_fp16`: fp16 weights and compute, int64 inputs / fp32 logits kept;
- :func:`changed_nodes` / :func:`mix_models`: which fp32 nodes a recipe replaced, and one graph taking
  each such node from the variant the search chose (the fp32 graph for the rest).

Choosing among recipes and searching mixes of them is quant_search.py's and the quantize pass's job
(passes/quantization.py); this module only knows how to apply one and how to combine their graphs.

ONNX Runtime's quantizer reports through module-level ``logging.warning(...)`` calls, i.e. on
the *root* logger, not on a logger of its own (e.g. "Please consider pre-processing before
quantization" in onnxruntime/quantization/quantize.py); its few named loggers live under
``onnxruntime.quantization``. :func:`ort_quantizer_logs` re-routes exactly the records that
come from that package to this module's logger at DEBUG, and keeps ``logging.warning``'s implicit
``basicConfig()`` from installing a handler on the caller's root logger.

May import: numpy, onnx, onnxruntime, nncf (inside quantize_nncf_int8), edgetext.errors, .io_names, .outliers.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np

from edgetext.errors import ConversionError

from .io_names import feed_role

if TYPE_CHECKING:
    import onnx

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


class _DebugLines(io.StringIO):
    """A stdout stand-in that logs each printed line at DEBUG."""

    def write(self, s: str) -> int:
        for line in s.splitlines():
            if line.strip():
                log.debug("onnxruntime.quantization: %s", line.strip())
        return len(s)


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
    try:  # the calibrators print() progress: never onto the caller's stdout (the CLI's --json line)
        with contextlib.redirect_stdout(_DebugLines()):
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
            # "_rowwise_*" names: ORT's quantizers name their own tensors "<tensor>_scale", "<tensor>_quantized"
            r = out + "_rowwise"
            nodes += [helper.make_node("Gather", [table + "_int8", ids], [r + "_int8"], axis=0, name=nm + "_int8"),
                      helper.make_node("Cast", [r + "_int8"], [r + "_deq"], to=TensorProto.FLOAT,
                                       name=nm + "_cast"),
                      helper.make_node("Gather", [table + "_scale", ids], [r + "_scale"], axis=0,
                                       name=nm + "_scale"),
                      helper.make_node("Mul", [r + "_deq", r + "_scale"], [out], name=nm + "_dequant")]
            n += 1
            continue
        nodes.append(node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    onnx.save(m, str(dst))
    return n


def quantize_dynamic_int8(src: str | os.PathLike, dst: str | os.PathLike, reduce_range: bool,
                          per_channel: bool = True, exclude: Sequence[str] = ()) -> dict:
    """Dynamic QInt8: MatMul weights per-channel (activations quantized at run time, U8S8) and the
    embedding tables row-wise int8 (:func:`quantize_embeddings_rowwise`). ``reduce_range``: 7-bit
    weights, which x86 CPUs without VNNI need (their U8S8 kernel saturates 16-bit pair sums).
    ``exclude``: MatMul node names left fp32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="edgetext-q-") as tmp:
        emb = Path(tmp) / "emb.onnx"
        n = quantize_embeddings_rowwise(src, emb)
        with ort_quantizer_logs():
            quantize_dynamic(str(emb), str(dst), op_types_to_quantize=["MatMul"], per_channel=per_channel,
                             reduce_range=reduce_range, weight_type=QuantType.QInt8,
                             nodes_to_exclude=list(exclude), extra_options={"MatMulConstBOnly": True})
    return {"method": "dynamic", "weight_type": "QInt8", "per_channel": per_channel, "reduce_range": reduce_range,
            "ops": ["MatMul"], "embeddings": f"{n} table(s) int8 row-wise"}


def quantize_dynamic_outliers(src: str | os.PathLike, dst: str | os.PathLike, reduce_range: bool,
                              batches: list[dict]) -> dict:
    """Dynamic QInt8 per-channel after outlier-channel decomposition (``outliers.decompose``, calibrated on
    ``batches``): each MatMul's few largest input channels stay in a thin fp32 MatMul beside the int8 one."""
    import onnx

    from . import outliers

    dec = outliers.decompose(onnx.load(str(src)), batches)
    with tempfile.TemporaryDirectory(prefix="edgetext-q-") as tmp:
        split = Path(tmp) / "split.onnx"
        onnx.save(dec.model, str(split))
        q = quantize_dynamic_int8(split, dst, reduce_range, per_channel=True, exclude=dec.fp32_nodes)
    q["method"] = "dynamic+outliers"
    q["outlier_channels"] = {k: v for k, v in dec.record.items() if k != "channels_split"}
    q["outlier_channels"]["channels_per_input"] = sorted(set(dec.record.get("channels_split", {}).values()))
    return q


STATIC_METHODS = ("minmax", "percentile", "entropy")


def quantize_static_int8(src: str | os.PathLike, dst: str | os.PathLike, reduce_range: bool,
                         calib_batches: Iterable[dict[str, np.ndarray]], per_channel: bool = True,
                         method: str = "minmax") -> dict:
    """Static QDQ (activations QUInt8, weights QInt8 per-channel) calibrated on real texts with
    ``method`` (one of :data:`STATIC_METHODS`).

    ``calib_batches``: ``{role: int64 [B, L]}`` batches, fed by the model's input names."""
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    if method not in STATIC_METHODS:
        raise ValueError(f"unknown calibration method {method!r} (one of {', '.join(STATIC_METHODS)})")
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
                        calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                                          "percentile": CalibrationMethod.Percentile}[method],
                        extra_options={"MatMulConstBOnly": True, "CalibTensorRangeSymmetric": False})
    return {"method": "static-qdq", "activation_type": "QUInt8", "weight_type": "QInt8", "per_channel": per_channel,
            "reduce_range": reduce_range, "calibration": method, "calibration_batches": len(feeds),
            "ops": ["MatMul"], "embeddings": f"{n} table(s) int8 row-wise"}


def quantize_nncf_int8(src: str | os.PathLike, dst: str | os.PathLike,
                       samples: Sequence[dict[str, np.ndarray]], ignored: Sequence[str] = ()) -> dict:
    """Static int8 for OpenVINO: NNCF post-training quantization (transformer preset: symmetric int8 weights
    per channel, activations with calibrated ranges, fast bias correction) on ``samples`` (``{role: int64
    [1, L]}``, one text each: NNCF collects statistics per sample, lengths may differ), written as standard
    QDQ ONNX that OpenVINO compiles into int8 kernels; embedding tables row-wise int8 first. ``ignored``: node
    names left out of int8 (their weights stored fp16, computed in f32)."""
    import nncf
    import onnx

    if not samples:
        raise ConversionError("static int8 for OpenVINO needs calibration texts (--calib)")
    with tempfile.TemporaryDirectory(prefix="edgetext-q-") as tmp:
        emb = Path(tmp) / "emb.onnx"
        n = quantize_embeddings_rowwise(src, emb)
        model = onnx.load(str(emb))
        names = [i.name for i in model.graph.input]
        feeds = [{name: s[feed_role(name)].astype(np.int64) for name in names} for s in samples]
        with _nncf_quiet():
            present = {node.name for node in model.graph.node}
            scope = nncf.IgnoredScope(names=[x for x in ignored if x in present])
            q = nncf.quantize(model, nncf.Dataset(feeds), model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(feeds), ignored_scope=scope)
    onnx.save(weights_fp16(q), str(dst))  # what stayed fp32 is stored fp16 (OpenVINO folds the Cast: f32 compute)
    return {"method": "static-nncf", "engine": "openvino", "tool": f"nncf {nncf.__version__}",
            "preset": "transformer (nncf.ModelType.TRANSFORMER)", "calibration_texts": len(feeds),
            "embeddings": f"{n} table(s) int8 row-wise", "kept_fp32": sorted(scope.names)}


@contextlib.contextmanager
def _nncf_quiet() -> Iterator[None]:
    """NNCF draws progress bars on stdout and logs at INFO on its own logger: both to DEBUG here."""
    nncf_log = logging.getLogger("nncf")
    old = nncf_log.level
    nncf_log.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(_DebugLines()):
            yield
    finally:
        nncf_log.setLevel(old)


def to_fp16(src: str | os.PathLike, dst: str | os.PathLike) -> dict:
    """fp16 weights and compute, int64 inputs and fp32 logits kept (keep_io_types)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    m = onnx.load(str(src))
    m16 = convert_float_to_float16(m, keep_io_types=True, disable_shape_infer=False)
    onnx.save(m16, str(dst))
    return {"method": "cast-fp16", "keep_io_types": True}


def quantize_weight_only_int8(src: str | os.PathLike, dst: str | os.PathLike, block_size: int = 32,
                              accuracy_level: int = 0) -> dict:
    """Row-wise int8 embeddings + MatMulNBits with 8-bit symmetric weights per ``block_size`` block.

    ``accuracy_level`` 0: weights dequantized, fp32 compute (slower than fp32 on this host's ORT 1.23.2);
    4: activations quantized per block too, int8 compute (bench/quantization.py has the numbers)."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    with tempfile.TemporaryDirectory(prefix="edgetext-q-") as tmp:
        emb = Path(tmp) / "emb.onnx"
        n = quantize_embeddings_rowwise(src, emb)
        cfg = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=True, accuracy_level=accuracy_level,
                                           bits=8)
        with ort_quantizer_logs():
            q = MatMulNBitsQuantizer(onnx.load(str(emb)), block_size=block_size, is_symmetric=True,
                                     accuracy_level=accuracy_level, algo_config=cfg)
            q.process()
        q.model.save_model_to_file(str(dst), False)
    return {"method": "weight-only-int8", "op": "MatMulNBits", "bits": 8, "block_size": block_size,
            "accuracy_level": accuracy_level, "embeddings": f"{n} table(s) int8 row-wise"}


def weights_fp16(model: "onnx.ModelProto") -> "onnx.ModelProto":
    """A copy of ``model`` whose 2-D MatMul/Gemm weights are stored fp16, each behind a ``Cast`` to fp32.

    ONNX Runtime folds the Cast when it loads the model, so compute stays fp32 (same speed as fp32) and
    the error is fp16 rounding of the weights (relative 2^-11, ~10x below int8 per-channel); the file
    holds 2 bytes per weight instead of 4."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name: i for i in m.graph.initializer}
    nodes, done = [], {}
    for node in m.graph.node:
        w = inits.get(node.input[1]) if node.op_type in ("MatMul", "Gemm") and len(node.input) > 1 else None
        if w is not None and len(w.dims) == 2 and w.data_type == TensorProto.FLOAT:
            if w.name not in done:
                half = numpy_helper.from_array(numpy_helper.to_array(w).astype(np.float16), w.name + "_fp16")
                m.graph.initializer.append(half)
                done[w.name] = w.name + "_from_fp16"
                nodes.append(helper.make_node("Cast", [half.name], [done[w.name]], to=TensorProto.FLOAT,
                                              name=(node.name or w.name) + "_w16"))
            node.input[1] = done[w.name]
        nodes.append(node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    _drop_unused_initializers(m)
    return m


def changed_nodes(fp32: "onnx.ModelProto", variant: "onnx.ModelProto") -> list[str]:
    """Names of the fp32 graph's nodes that ``variant`` computes differently: the producer of the node's
    output in ``variant`` is another op or reads other inputs (a quantized MatMul, a row-wise Gather)."""
    producer = {o: n for n in variant.graph.node for o in n.output}
    out = []
    for node in fp32.graph.node:
        p = producer.get(node.output[0]) if node.output else None
        if p is not None and (p.op_type != node.op_type or list(p.input) != list(node.input)):
            out.append(node.name)
    return out


def mix_models(fp32: "onnx.ModelProto", variants: dict[str, "onnx.ModelProto"],
               choice: dict[str, str]) -> "onnx.ModelProto":
    """One graph: the fp32 graph, except that each node named in ``choice`` is computed as in
    ``variants[choice[node]]``.

    A node is transplanted with the variant's sub-graph that produces the node's outputs, walked back to
    tensors the fp32 graph has (so a shared DynamicQuantizeLinear or QDQ pair comes along once). Every
    variant must keep the fp32 graph's tensor names for what it does not change (ORT's quantizers and
    :func:`weights_fp16` do)."""
    import onnx

    from .outliers import drop_dead_nodes

    known = {i.name for i in fp32.graph.input} | {i.name for i in fp32.graph.initializer}
    for node in fp32.graph.node:
        known.update(node.output)
    producers = {k: {o: n for n in v.graph.node for o in n.output} for k, v in variants.items()}
    inits = {k: {i.name: i for i in v.graph.initializer} for k, v in variants.items()}
    m = onnx.ModelProto()
    m.CopyFrom(fp32)
    del m.graph.node[:]
    domains = {o.domain: o for v in [fp32, *variants.values()] for o in v.opset_import}
    m.ClearField("opset_import")
    m.opset_import.extend(domains.values())
    added: set[int] = set()
    added_inits: set[str] = set()
    for node in fp32.graph.node:
        which = choice.get(node.name)
        if which is None:
            m.graph.node.append(node)
            continue
        block: list = []
        for out in node.output:
            _transplant(out, producers[which], inits[which], known, added, added_inits, block, m)
        m.graph.node.extend(block)
    # a node taken with its own copy of a producer (an FFN whose outlier neurons were split off, outliers.py)
    # leaves the fp32 graph's producer unused
    drop_dead_nodes(m)
    return m


def _transplant(tensor: str, prod: dict, vinit: dict, known: set[str], added: set[int], added_inits: set[str],
                block: list, m: "onnx.ModelProto") -> None:
    """Append to ``block`` (inputs first) the variant's nodes producing ``tensor``, back to ``known`` tensors."""
    p = prod[tensor]
    if id(p) in added:
        return
    for name in p.input:
        if not name or name in known:
            continue
        if name in vinit:
            if name not in added_inits:
                added_inits.add(name)
                m.graph.initializer.append(vinit[name])
        else:
            _transplant(name, prod, vinit, known, added, added_inits, block, m)
    added.add(id(p))
    block.append(p)


def _drop_unused_initializers(m: "onnx.ModelProto") -> None:
    used = {name for n in m.graph.node for name in n.input} | {o.name for o in m.graph.output}
    keep = [i for i in m.graph.initializer if i.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
