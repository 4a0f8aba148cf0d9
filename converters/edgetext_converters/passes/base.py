"""What every pass shares: the ``(desc, ctx) -> desc`` signature, the context, the records.

A pass reads its settings from ``ctx.options`` (and ``ctx.trim_texts`` ...), changes the
description (or returns a changed copy), and records itself with :meth:`PassContext.record`:
a one-line ``summary`` when it changed the model (the lines of report["passes"]), JSON-able
``details``, and an optional typed ``result`` later stages read with :meth:`PassContext.result`
(e.g. trim_vocab's TrimResult). :func:`run_passes` is the one loop that runs a pipeline.

May import: the standard library, ..description, ..options, ..evaluation, ..targets, ..paddle_graph (lazily).
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..description import GraphModel, ModelDescription
from ..evaluation import EvalSet
from ..options import ConvertOptions
from ..targets import Target

log = logging.getLogger(__name__)

Pass = Callable[[ModelDescription, "PassContext"], ModelDescription]


@dataclass
class PassRecord:
    """What one run of a pass did."""

    name: str
    summary: str | None = None  # one line for report["passes"]; None: nothing to report there
    details: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    target: str | None = None  # the target whose pipeline ran it (None: the shared model passes)
    seconds: float = 0.0


@dataclass
class PassContext:
    """Everything a pass may read besides the description, and where it records itself."""

    options: ConvertOptions = field(default_factory=ConvertOptions)
    work: Path | None = None  # scratch folder (None: a temporary one, made on first use)
    eval: EvalSet | None = None  # the evaluation texts, ids, reference and graph logits
    max_length: int | None = None  # the bundle's max length, once resolved
    trim_texts: list[str] | None = None  # the vocabulary-trimming corpus, read from options.trim_vocab
    calib_texts: list[str] | None = None  # calibration texts, read from options.calib
    target: Target | None = None  # set while a target's pipeline runs
    records: list[PassRecord] = field(default_factory=list)
    shared: dict[str, Any] = field(default_factory=dict)  # work reused across targets (fp32 ONNX, Lite graph)
    _tmp: Any = field(default=None, repr=False)

    @property
    def precision(self) -> str:
        """The precision of the target being built."""
        assert self.target is not None, "only a target's passes ask for its precision"
        return self.options.precisions.get(self.target.name) or self.target.precision(self.options.precision)

    def path(self, *parts: str) -> Path:
        """A path under the work folder (parents made)."""
        if self.work is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="edgetext-passes-")
            self.work = Path(self._tmp.name)
        p = self.work.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def graph_files(self, graph: GraphModel, name: str = "graph") -> tuple[Path, Path]:
        """``graph`` saved as work/<name>/model.pdmodel + .pdiparams (once per graph object)."""
        from ..paddle_graph import save_graph

        key = f"graph-files:{name}"
        cached = self.shared.get(key)
        if cached is None or cached[0] is not graph:
            cached = self.shared[key] = (graph, save_graph(graph, self.path(name, "model")))
        return cached[1]

    def record(self, name: str, summary: str | None = None, *, result: Any = None, **details: Any) -> PassRecord:
        rec = PassRecord(name=name, summary=summary, details=details, result=result,
                         target=self.target.name if self.target is not None else None)
        self.records.append(rec)
        log.info("%s%s: %s", name, f" [{rec.target}]" if rec.target else "", summary or details or "no change")
        return rec

    def result(self, name: str) -> Any:
        """The ``result`` of the last record of pass ``name`` (None if it did not run or had none)."""
        for rec in reversed(self.records):
            if rec.name == name:
                return rec.result
        return None

    def summaries(self) -> list[str]:
        """report["passes"]: what the passes changed, in the order they ran."""
        return [r.summary for r in self.records if r.summary]


def run_passes(desc: ModelDescription, ctx: PassContext, passes: Iterable[Pass]) -> ModelDescription:
    """Run ``passes`` in order; each record made during a pass gets its time."""
    for p in passes:
        first = len(ctx.records)
        t0 = time.perf_counter()
        desc = p(desc, ctx)
        dt = time.perf_counter() - t0
        for rec in ctx.records[first:]:
            rec.seconds = round(dt, 3)
    return desc
