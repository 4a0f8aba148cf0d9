"""Reader (a): a Paddle inference model folder (``*.pdmodel`` + ``*.pdiparams``, legacy format, as
``paddle.jit.save`` / PaddleNLP's export write it) with its tokenizer files, or the .pdmodel itself.

The description comes out in graph form; labels from ``model_config.json`` / ``config.json`` when
present. Only the operators of BERT/ERNIE encoders are accepted.

May import: the standard library, edgetext.errors, ..description, ..paddle_graph (paddle lazily), .common.
"""
from __future__ import annotations

import json
from pathlib import Path

from edgetext.errors import ConversionError

from ..description import ModelDescription
from .common import Reader, check_vocab, file_size, labels_from_config, tokenizer

SUPPORTED_PADDLE_OPS = frozenset({
    "feed", "fetch", "cast", "cumsum", "dropout", "elementwise_add", "elementwise_sub", "elementwise_mul",
    "elementwise_div", "equal", "not_equal", "fill_constant", "fill_any_like", "gelu", "relu", "layer_norm",
    "lookup_table_v2", "lookup_table", "matmul_v2", "matmul", "mul", "reshape2", "scale", "shape", "slice",
    "softmax", "tanh", "transpose2", "unsqueeze2", "squeeze2", "range", "full_like", "assign", "expand_v2",
    "where", "logical_not", "fused_multi_transformer", "stack", "concat", "gather", "strided_slice",
    "set_value", "expand_as_v2", "tile", "sigmoid", "fill_constant_batch_size_like",
})


def matches(p: Path) -> bool:
    return (p.is_file() and p.suffix == ".pdmodel") or (p.is_dir() and any(p.glob("*.pdmodel")))


def read(src: Path) -> ModelDescription:
    from ..paddle_graph import ProgramEditor, feed_role, find_model_files, load_graph

    model_file, params_file = find_model_files(src)
    folder = model_file.parent
    graph = load_graph(model_file, params_file)
    for name in graph.feed_names:
        feed_role(name)  # raises on unknown inputs
    if len(graph.fetch_names) != 1:
        raise ConversionError(f"{model_file}: {len(graph.fetch_names)} outputs; a classifier has one (logits)")
    with ProgramEditor(graph) as ed:
        emb = ed.embeddings()
        out_shape = list(ed.block.var(graph.fetch_names[0]).shape)
        unknown = sorted({op.type for op in ed.ops()} - SUPPORTED_PADDLE_OPS)
    if unknown:
        raise ConversionError(f"{model_file}: unsupported operators {', '.join(unknown)} (supported: BERT/ERNIE "
                              "encoders exported by Paddle 2.x)")
    if "word" not in emb:
        raise ConversionError(f"{model_file}: no embedding table is fed by input_ids: not a BERT/ERNIE classifier")
    if len(out_shape) != 2 or out_shape[-1] is None or out_shape[-1] < 1:
        raise ConversionError(f"{model_file}: the output {graph.fetch_names[0]} has shape {out_shape}; expected "
                              "[batch, num_labels] logits")
    num_labels = int(out_shape[-1])
    tok = tokenizer(folder, str(folder))
    notes = check_vocab(tok, graph.params[emb["word"]].shape[0], str(model_file))
    cfg = None
    for name in ("model_config.json", "config.json"):
        if (folder / name).is_file():
            try:
                cfg = json.loads((folder / name).read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:  # labels are optional here: say so, go on
                notes.append(f"{name} is not readable JSON ({e}); labels not taken from it")
            break
    if cfg is not None and not isinstance(cfg, dict):
        notes.append("the model config is not a JSON object; labels not taken from it")
        cfg = None
    labels = labels_from_config(cfg, num_labels, notes)
    pos = graph.params.get(emb.get("position", ""), None)
    if pos is not None:
        notes.append(f"position table: {pos.shape[0]} positions")
    return ModelDescription(source_kind="paddle-inference", source_path=str(model_file), tokenizer=tok,
                            labels=labels, num_labels=num_labels, graph=graph,
                            source_size=file_size(model_file, params_file), notes=notes)


READER = Reader("paddle-inference", matches, read)
