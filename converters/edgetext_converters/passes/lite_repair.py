"""Pass ``repair_for_lite`` (Lite targets): every input-less 0-D ``fill_constant`` gets shape [1].

PaddleNLP's export compares ``input_ids == pad_id`` against a Python scalar, which Paddle 2.6
writes as a 0-D fill_constant that aborts the Paddle Lite runtime (converters README, "Facts").
The target's copy of the description gets a repaired copy of the graph; the shared graph (and so
the ONNX targets) is untouched. Done once per conversion, recorded once.

May import: ..description, ..paddle_graph, .base.
"""
from __future__ import annotations

from ..description import GraphModel, ModelDescription
from .base import PassContext

_SHARED = "lite-graph"


def repair_graph(graph: GraphModel) -> tuple[GraphModel, int]:
    """A copy of ``graph`` with the 0-D fill_constants repaired, and how many there were."""
    from ..paddle_graph import ProgramEditor

    g = graph.copy()
    with ProgramEditor(g) as ed:
        n = ed.repair_scalar_fill_constants()
        if n:
            ed.commit()
    return g, n


def repair_for_lite(desc: ModelDescription, ctx: PassContext) -> ModelDescription:
    assert desc.graph is not None, "repair_for_lite runs on graph form"
    cached = ctx.shared.get(_SHARED)
    if cached is None or cached[0] is not desc.graph:
        repaired, n = repair_graph(desc.graph)
        cached = ctx.shared[_SHARED] = (desc.graph, repaired)
        ctx.record("repair_for_lite", f"repair_for_lite: {n} scalar fill_constant -> shape [1]" if n else None,
                   fixed=n)
    desc.graph = cached[1]
    return desc
