"""Pass ``trim_positions``: cut the position table to the bundle's max length (the runtime never
feeds longer inputs). :func:`resolve_max_length` decides that length, before any pass runs on it.

May import: edgetext.errors, ..description, ..paddle_graph, .base.
"""
from __future__ import annotations

from edgetext.errors import ConversionError

from ..description import ModelDescription
from .base import PassContext

DEFAULT_MAX_LENGTH = 512


def position_count(desc: ModelDescription) -> int | None:
    """Rows of the graph's position table (None when no table is recognised as one)."""
    from ..paddle_graph import ProgramEditor

    assert desc.graph is not None
    with ProgramEditor(desc.graph) as ed:
        emb = ed.embeddings()
    if "position" not in emb:
        return None
    return int(desc.graph.params[emb["position"]].shape[0])


def resolve_max_length(desc: ModelDescription, asked: int | None) -> tuple[int, int | None]:
    """(the bundle's max length, the model's positions). ``asked`` None: the smallest of 512, the
    positions and the tokenizer's limit. ConversionError when ``asked`` exceeds the positions."""
    positions = position_count(desc)
    max_length = asked
    if max_length is None:
        max_length = min(x for x in (desc.tokenizer.model_max_length or DEFAULT_MAX_LENGTH,
                                     positions or DEFAULT_MAX_LENGTH, DEFAULT_MAX_LENGTH) if x)
    if positions is not None and max_length > positions:
        raise ConversionError(f"--max-length {max_length} exceeds the model's {positions} position embeddings")
    return max_length, positions


def trim_positions(desc: ModelDescription, ctx: PassContext) -> ModelDescription:
    from ..paddle_graph import ProgramEditor

    assert desc.graph is not None and ctx.max_length is not None, "trim_positions needs a graph and ctx.max_length"
    max_length = ctx.max_length
    with ProgramEditor(desc.graph) as ed:
        emb = ed.embeddings()
        if "position" not in emb:
            ctx.record("trim_positions", None, skipped="no position table recognised")
            return desc
        table = desc.graph.params[emb["position"]]
        if max_length > table.shape[0]:
            raise ConversionError(f"max_length {max_length} exceeds the model's {table.shape[0]} positions")
        if max_length == table.shape[0]:
            ctx.record("trim_positions", None, positions=int(table.shape[0]))
            return desc
        ed.set_param(emb["position"], table[:max_length])
        ed.commit()
    ctx.record("trim_positions", f"trim_positions: {table.shape[0]} -> {max_length}",
               positions_before=int(table.shape[0]), positions_after=max_length)
    return desc
