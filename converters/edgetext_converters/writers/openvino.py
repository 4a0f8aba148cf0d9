"""OpenVINO writer: the same fp32 ONNX file as the ONNX writer (written once per conversion and shared), run
and gated with OpenVINO's CPU plugin; the ``quantize_openvino`` pass makes its int8 (NNCF static QDQ).

Converting for OpenVINO needs the engine here (``pip install edgetext[openvino]``: openvino + nncf): the
int8 model is calibrated and gated with the engine that will run it.

May import: the standard library, edgetext.errors, ..description, ..runners, ..targets, ..verification,
.onnx (the shared fp32 file and the manifest's input/output declarations); openvino inside functions only.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from edgetext.errors import ConversionError

from . import onnx as onnx_writer

if TYPE_CHECKING:
    from ..description import ModelDescription
    from ..passes.base import PassContext
    from ..runners import OpenVinoRunner
    from ..targets import Target

ENGINE = "openvino"
io = onnx_writer.io
report_metrics = onnx_writer.report_metrics


def _missing() -> str | None:
    import importlib.util

    lacking = [m for m in ("openvino", "nncf") if importlib.util.find_spec(m) is None]
    return (f"{' and '.join(lacking)} not installed (pip install edgetext[openvino])") if lacking else None


def export(desc: "ModelDescription", ctx: "PassContext") -> "ModelDescription":
    """Pass: the shared fp32 ONNX file (refused early when OpenVINO / NNCF are missing here)."""
    why = _missing()
    if why:
        raise ConversionError(f"target {ctx.target.name if ctx.target else 'openvino'}: {why}")
    return onnx_writer.export(desc, ctx)


def why_not_run(target: "Target") -> str | None:
    from ..verification import host_arch

    if target.arch != host_arch():
        return f"built for {target.arch}, this host is {host_arch()}"
    return _missing()


def runner(desc: "ModelDescription", path: str | os.PathLike, precision: str) -> "OpenVinoRunner":
    from ..runners import OpenVinoRunner

    return OpenVinoRunner(path)


def measured_with(precision: str) -> str:
    from ..verification import host_arch

    return f"openvino CPU ({host_arch()}), f32 inference precision"


def engine_version() -> str | None:
    try:
        import openvino
    except ImportError:
        return None
    return str(openvino.__version__)
