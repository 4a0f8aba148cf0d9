"""ONNX writer: the fp32 ONNX file of a description, written once per conversion and shared by every ONNX
target; the quantize pass then makes the target's precision.

Two ways, chosen by ``--onnx-graph`` (default ``auto``):

- ``direct``: :mod:`..onnx_graph` writes the classifier from its weights, shaped for inference (the last layer
  computes the [CLS] row only; measured by bench/e2e.py). Sources read in weights form (PaddleNLP
  checkpoints, Hugging Face folders) take it under ``auto``.
- ``paddle2onnx``: Paddle program -> ONNX (paddle2onnx 1.3.1, opset 14), folded by an ONNX Runtime
  basic-optimization session (paddle2onnx 1.3.1 keeps every weight as a Constant node and leaves the pad-mask
  arithmetic unfolded), the one output renamed ``logits``. Paddle inference models (graph form, no weight
  names) and what ``onnx_graph.why_not`` refuses take it under ``auto``.

May import: onnx, onnxruntime, paddle2onnx, edgetext.errors, ..description, ..io_names, ..onnx_graph,
..paddle_graph, ..runners, ..targets, ..verification, ..passes.base.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from edgetext.errors import ConversionError

from ..description import Artifact, ModelDescription
from ..io_names import feed_role
from .. import onnx_graph

if TYPE_CHECKING:
    from ..passes.base import PassContext
    from ..runners import OrtRunner
    from ..targets import Target

OPSET = 14
ENGINE = "onnxruntime"
_SHARED = "onnx-fp32"


def export(desc: ModelDescription, ctx: "PassContext") -> ModelDescription:
    """Pass: the shared fp32 ONNX file of the graph as it is after the model passes."""
    assert desc.graph is not None, "the ONNX writer needs graph form"
    cached = ctx.shared.get(_SHARED)
    if cached is None or cached[0] is not desc.graph:
        out = ctx.path("onnx", "model.fp32.onnx")
        how = graph_mode(desc, getattr(ctx.options, "onnx_graph", "auto"))
        if how == "direct":
            write_direct(desc, out)
            ctx.record("export_onnx", onnx_graph.NOTE)
        else:
            model_file, params_file = ctx.graph_files(desc.graph)
            paddle_to_onnx(model_file, params_file, out)
        cached = ctx.shared[_SHARED] = (desc.graph, out)
    desc.artifact = Artifact(cached[1], "fp32")
    return desc


GRAPH_MODES = ("auto", "direct", "paddle2onnx")


def graph_mode(desc: ModelDescription, asked: str) -> str:
    """``direct`` or ``paddle2onnx`` for ``asked`` (see the module docstring); ``direct`` where it cannot be
    written is a ConversionError with the reason."""
    if asked not in GRAPH_MODES:
        raise ConversionError(f"unknown --onnx-graph {asked!r}; choose {', '.join(GRAPH_MODES)}")
    if asked == "paddle2onnx":
        return asked
    why = onnx_graph.why_not(desc)
    if why is None:
        return "direct"
    if asked == "direct":
        raise ConversionError(f"--onnx-graph direct cannot write this model: {why}")
    return "paddle2onnx"


def write_direct(desc: ModelDescription, out: str | os.PathLike) -> Path:
    import onnx

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(onnx_graph.build(desc), str(out))
    return out


def why_not_run(target: "Target") -> str | None:
    """None: this host runs the target's files (ONNX Runtime's CPU provider runs any ONNX file)."""
    return None


def runner(desc: ModelDescription, path: str | os.PathLike, precision: str) -> "OrtRunner":
    """ONNX Runtime CPU, one thread; fp16 graphs with basic optimizations only (the extended CPU
    fusions do not take fp16)."""
    from ..runners import OrtRunner

    return OrtRunner(path, basic_optimizations=(precision == "fp16"))


def measured_with(precision: str) -> str:
    from ..verification import host_arch

    return f"onnxruntime CPU ({host_arch()})" + (", basic graph optimizations" if precision == "fp16" else "")


def report_metrics(accuracy: dict) -> dict:
    """What the report's target row repeats of the manifest accuracy entry: the metrics only."""
    return {k: v for k, v in accuracy.items() if k not in ("measured_with", "note")}


def engine_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def paddle_to_onnx(model_file: str | os.PathLike, params_file: str | os.PathLike, out: str | os.PathLike) -> Path:
    """paddle2onnx, then constant folding (see the module docstring)."""
    import zlib  # noqa: F401  (before paddle)

    import paddle2onnx

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgetext-p2o-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        try:
            paddle2onnx.export(str(model_file), str(params_file), save_file=str(raw), opset_version=OPSET,
                               auto_upgrade_opset=True, verbose=False, enable_onnx_checker=True,
                               enable_optimize=True)
        except Exception as e:  # noqa: BLE001  (paddle2onnx raises anything: one clear error)
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
    except Exception as e:  # noqa: BLE001  (ORT raises its own error types: one clear error)
        raise ConversionError(f"ONNX Runtime cannot load the paddle2onnx output: {str(e).splitlines()[0][:300]}") \
            from None


def rename_io(path: str | os.PathLike) -> None:
    """One output named ``logits`` (an ``embeddings`` output, normalize_io's name for embedding models, is kept)."""
    import onnx

    m = onnx.load(str(path))
    if len(m.graph.output) != 1:
        raise ConversionError(f"{path}: {len(m.graph.output)} outputs, expected 1 (logits)")
    old = m.graph.output[0].name
    if old not in ("logits", "embeddings"):
        for node in m.graph.node:
            for i, name in enumerate(node.output):
                if name == old:
                    node.output[i] = "logits"
            for i, name in enumerate(node.input):
                if name == old:
                    node.input[i] = "logits"
        m.graph.output[0].name = "logits"
        onnx.save(m, str(path))


def io(desc: ModelDescription, path: str | os.PathLike, ran: bool) -> tuple[list[dict], list[dict]]:
    """Manifest inputs/outputs of an ONNX file."""
    import onnx

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
