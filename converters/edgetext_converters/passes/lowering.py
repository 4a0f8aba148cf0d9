"""Pass ``lower_to_graph``: weights form -> a Paddle inference program (paddle_ernie's export,
with the Lite-friendly pad mask). Graph-form descriptions pass through unchanged.

Embedding descriptions lower through ``paddle_embedding.ErnieForSentenceEmbedding`` (pooling in the graph).

May import: edgetext.errors, ..description, ..paddle_ernie, ..paddle_embedding, ..paddle_graph (paddle), .base.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from edgetext.errors import ConversionError

from ..description import ModelDescription
from .base import PassContext


def lower_to_graph(desc: ModelDescription, ctx: PassContext) -> ModelDescription:
    if desc.graph is not None:
        ctx.record("lower_to_graph", None, skipped="already a graph")
        return desc
    import zlib  # noqa: F401  (before paddle)

    from ..paddle_embedding import ErnieForSentenceEmbedding
    from ..paddle_ernie import ErnieForSequenceClassification, export_inference_model
    from ..paddle_graph import dygraph_mode, find_model_files, load_graph

    with dygraph_mode():
        emb = desc.embedding if desc.is_embedding else None
        model = (ErnieForSentenceEmbedding(desc.config, emb["pooling"], emb["normalize"]) if emb is not None
                 else ErnieForSequenceClassification(desc.config))
        try:
            model.load_numpy_state_dict(desc.weights or {})
        except (KeyError, ValueError) as e:
            raise ConversionError(f"{desc.source_path}: {e}") from None
        model.eval()
        names = {k: v.name for k, v in model.state_dict().items()}
        with tempfile.TemporaryDirectory(prefix="edgetext-lower-") as tmp:
            export_inference_model(model, Path(tmp) / "model", scalar_mask=False)  # type: ignore[arg-type]
            desc.graph = load_graph(*find_model_files(tmp))
        if set(names.values()) <= set(desc.graph.params):  # the onnx_graph writer reads arrays by meaning
            desc.graph.state_names = names
    how = f", {emb['pooling']} pooling{' + L2 norm' if emb['normalize'] else ''} in the graph" if emb else ""
    ctx.record("lower_to_graph", f"lower_to_graph: paddle_ernie export (Lite-friendly pad mask{how})")
    return desc
