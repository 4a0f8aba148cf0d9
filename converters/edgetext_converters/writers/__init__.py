"""Writers: a graph-form description -> a target's model file (``desc.artifact``).

Each writer module offers the same functions (:class:`Writer`), used by the pipeline through :data:`WRITERS`:

- ``export(desc, ctx) -> desc``: a pass that writes the file and sets ``desc.artifact``;
- ``why_not_run(target)``: None when this host can run the target's files, else why not;
- ``runner(desc, path, precision)``: runs the file here on evaluation batches;
- ``io(desc, path, ran) -> (inputs, outputs)``: the manifest's input/output declarations;
- ``measured_with(precision)``, ``report_metrics(accuracy)``: the accuracy entry's wording;
- ``ENGINE`` / ``engine_version()``: what ran it, for the verification record.

Adding a writer is one module and one line here (plus its targets in targets.py).

May import: .onnx, .lite, .openvino (each lazily imports its engine).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

from . import lite, onnx, openvino

if TYPE_CHECKING:
    from ..description import ModelDescription
    from ..evaluation import Runner
    from ..passes.base import PassContext
    from ..targets import Target


class Writer(Protocol):
    ENGINE: str

    def export(self, desc: "ModelDescription", ctx: "PassContext") -> "ModelDescription": ...
    def why_not_run(self, target: "Target") -> str | None: ...
    def runner(self, desc: "ModelDescription", path: str | os.PathLike, precision: str) -> "Runner": ...
    def io(self, desc: "ModelDescription", path: str | os.PathLike, ran: bool) -> tuple[list[dict], list[dict]]: ...
    def measured_with(self, precision: str) -> str: ...
    def report_metrics(self, accuracy: dict) -> dict: ...
    def engine_version(self) -> str | None: ...


WRITERS: dict[str, Writer] = {"onnx": onnx, "lite": lite, "openvino": openvino}
