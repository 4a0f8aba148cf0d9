"""Paddle Lite writer: the graph (repaired by the repair_for_lite pass) -> a ``.nb`` for x86 or ARM,
through ``paddlelite.lite.Opt`` in a child process (lite_tool.py: Lite's opt and runtime abort the
whole process on some inputs, and libpaddle's and Lite's OpenMP runtimes should not share one).
x86: fp32; ARM: fp32 or weight-only int8. A ``.nb`` carries one architecture's kernels: it runs here
only when built for this host's architecture.

May import: edgetext.errors, ..description, ..io_names, ..runners, ..targets, ..verification, ..passes.base.
"""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from edgetext.errors import ConversionError

from ..description import Artifact, ModelDescription
from ..io_names import feed_role

if TYPE_CHECKING:
    from ..passes.base import PassContext
    from ..runners import LiteRunner
    from ..targets import Target

ENGINE = "paddlelite"
INT8 = {"method": "lite-weight-only", "quant_type": "QUANT_INT8",
        "note": "weights int8 in the file, dequantized at load; embedding table stays fp32"}


def export(desc: ModelDescription, ctx: "PassContext") -> ModelDescription:
    """Pass: opt the graph into ctx.target's ``.nb`` at ctx.precision."""
    from ..runners import lite_subprocess

    assert desc.graph is not None and ctx.target is not None, "the Lite writer needs graph form and a target"
    t, p = ctx.target, ctx.precision
    model_file, params_file = ctx.graph_files(desc.graph, "lite_graph")
    dest = ctx.path("lite", t.file_name(p))
    base = str(dest)[: -len(".nb")]
    args = ["opt", str(model_file), str(params_file), base, t.options["place"]] + (["int8"] if p == "int8" else [])
    proc = lite_subprocess(args)
    if proc.returncode != 0 or not dest.is_file():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()
        raise ConversionError(f"Paddle Lite opt failed for {t.name}: {(tail[-1] if tail else '')[:300]}")
    desc.artifact = Artifact(dest, p, dict(INT8) if p == "int8" else None)
    return desc


def why_not_run(target: "Target") -> str | None:
    """None when this host runs the target's ``.nb`` (same architecture, paddlelite installed)."""
    from ..verification import engine_installed, host_arch

    arch = host_arch()
    if target.arch != arch:
        return f"no {_arch_name(target.arch)} Paddle Lite runtime on this host"
    if not engine_installed(ENGINE):
        return "paddlelite is not installed here"
    return None


def runner(desc: ModelDescription, path: str | os.PathLike, precision: str) -> "LiteRunner":
    from ..runners import LiteRunner

    assert desc.graph is not None
    return LiteRunner(path, list(desc.graph.feed_names), desc.graph.feed_dtypes)


def measured_with(precision: str) -> str:
    from ..verification import host_arch

    return f"paddlelite {host_arch()}"


def report_metrics(accuracy: dict) -> dict:
    """What the report's target row repeats of the manifest accuracy entry: all of it (how it was measured,
    or why it was not run, included)."""
    return dict(accuracy)


def engine_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paddlelite")
    except PackageNotFoundError:
        return None


def io(desc: ModelDescription, path: str | os.PathLike, ran: bool) -> tuple[list[dict], list[dict]]:
    """Inputs from the graph's feeds; the output name from the ``.nb`` itself when it runs here."""
    from ..runners import lite_subprocess

    assert desc.graph is not None
    out_name = "embeddings" if desc.is_embedding else "logits"
    if ran:
        info = lite_subprocess(["info", str(path)])
        try:
            out_name = json.loads(info.stdout.strip().splitlines()[-1])["outputs"][0] if info.returncode == 0 \
                else out_name
        except (ValueError, KeyError, IndexError) as e:
            desc.notes.append(f"{os.path.basename(path)}: Lite did not report its output names ({e}); "
                              "'logits' assumed")
    inputs = [{"name": n, "role": feed_role(n), "dtype": desc.graph.feed_dtypes.get(n, "int64"), "shape": [-1, -1]}
              for n in desc.graph.feed_names]
    width = int(desc.embedding["dim"]) if desc.is_embedding and desc.embedding else desc.num_labels
    return inputs, [{"name": out_name, "dtype": "float32", "shape": [-1, width]}]


def _arch_name(arch: str) -> str:
    return {"aarch64": "ARM", "armv7": "ARM", "x86_64": "x86"}.get(arch, arch)
