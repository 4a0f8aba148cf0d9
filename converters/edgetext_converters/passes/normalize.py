"""Pass ``normalize_io``: inputs checked (one input_ids, no ambiguous roles), the one output named
``logits`` (``embeddings`` for an embedding model).

May import: edgetext.errors, ..description, ..paddle_graph, .base.
"""
from __future__ import annotations

from edgetext.errors import ConversionError

from ..description import ModelDescription
from .base import PassContext


def normalize_io(desc: ModelDescription, ctx: PassContext) -> ModelDescription:
    from ..paddle_graph import ProgramEditor, feed_role

    assert desc.graph is not None, "normalize_io runs on graph form (after lower_to_graph)"
    roles = [feed_role(n) for n in desc.graph.feed_names]
    if "input_ids" not in roles:
        raise ConversionError("the model has no input_ids input")
    if len(set(roles)) != len(roles):
        raise ConversionError(f"ambiguous model inputs {desc.graph.feed_names}")
    renamed = False
    out_name = "embeddings" if desc.is_embedding else "logits"
    with ProgramEditor(desc.graph) as ed:
        if ed.rename_fetch(out_name):
            ed.commit()
            renamed = True
    ctx.record("normalize_io", f"normalize_io: output renamed to {out_name}" if renamed else None)
    return desc
