"""Passes over a :class:`ModelDescription`. Each returns the description it changed and
appends its name (with a short summary) to ``desc.passes``.

- :func:`lower_to_graph`: weights form -> Paddle inference program (paddle_ernie, Lite-friendly mask)
- :func:`normalize_io`: one output named ``logits``; inputs checked
- :func:`trim_vocab`: keep special tokens + the tokens a domain corpus needs (frequency floor); remap
  the embedding rows and the vocabulary together
- :func:`trim_positions`: cut the position table to the bundle's max length
- :func:`repair_for_lite`: the 0-D ``fill_constant`` fix (FACTS.md) on a copy of the graph
"""
from __future__ import annotations

import copy
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from edgetext.errors import ConversionError

from .description import GraphModel, ModelDescription


def lower_to_graph(desc: ModelDescription) -> ModelDescription:
    if desc.graph is not None:
        return desc
    import zlib  # noqa: F401

    import paddle

    from .paddle_ernie import ErnieForSequenceClassification, export_inference_model
    from .paddle_graph import find_model_files, load_graph

    was_static = not paddle.in_dynamic_mode()
    if was_static:
        paddle.disable_static()
    try:
        model = ErnieForSequenceClassification(desc.config)
        try:
            model.load_numpy_state_dict(desc.weights or {})
        except (KeyError, ValueError) as e:
            raise ConversionError(f"{desc.source_path}: {e}") from None
        model.eval()
        with tempfile.TemporaryDirectory(prefix="edgetext-lower-") as tmp:
            export_inference_model(model, Path(tmp) / "model", scalar_mask=False)
            desc.graph = load_graph(*find_model_files(tmp))
    finally:
        if was_static:
            paddle.enable_static()
    desc.passes.append("lower_to_graph: paddle_ernie export (Lite-friendly pad mask)")
    return desc


def normalize_io(desc: ModelDescription) -> ModelDescription:
    from .paddle_graph import ProgramEditor, feed_role

    assert desc.graph is not None
    roles = [feed_role(n) for n in desc.graph.feed_names]
    if "input_ids" not in roles:
        raise ConversionError("the model has no input_ids input")
    if len(set(roles)) != len(roles):
        raise ConversionError(f"ambiguous model inputs {desc.graph.feed_names}")
    with ProgramEditor(desc.graph) as ed:
        if ed.rename_fetch("logits"):
            ed.commit()
            desc.passes.append("normalize_io: output renamed to logits")
    return desc


def _embedding_names(desc: ModelDescription) -> dict[str, str]:
    from .paddle_graph import ProgramEditor

    with ProgramEditor(desc.graph) as ed:
        return ed.embeddings()


@dataclass
class TrimResult:
    kept_ids: np.ndarray  # old ids kept, in order (new id = index)
    old_to_new: np.ndarray  # -1 where dropped
    vocab_before: int
    vocab_after: int
    corpus_texts: int
    corpus_tokens: int
    min_freq: int

    def as_dict(self) -> dict:
        return {"vocab_before": self.vocab_before, "vocab_after": self.vocab_after,
                "corpus_texts": self.corpus_texts, "corpus_tokens": self.corpus_tokens, "min_freq": self.min_freq}


def corpus_token_counts(desc: ModelDescription, texts: Sequence[str]) -> Counter:
    enc = desc.tokenizer.encoder()
    counts: Counter = Counter()
    for i in range(0, len(texts), 256):
        for ids in enc.encode_batch(texts[i:i + 256], None):
            counts.update(ids)
    return counts


def trim_vocab(desc: ModelDescription, corpus: Sequence[str], min_freq: int = 1,
               keep_tokens: Sequence[str] = ()) -> TrimResult:
    """Keep special tokens, ``keep_tokens`` and every corpus token seen ``>= min_freq`` times.

    The order of the kept tokens is the original order, so WordPiece (greedy longest match)
    tokenizes every text whose tokens were all kept exactly as before, with remapped ids; and
    the pad token keeps id 0 when it had it (the pad-mask constant is updated otherwise).
    """
    from .paddle_graph import ProgramEditor

    assert desc.graph is not None
    if min_freq < 1:
        raise ConversionError(f"min_freq must be >= 1, got {min_freq}")
    texts = [t for t in corpus if t and t.strip()]
    if not texts:
        raise ConversionError("the vocabulary-trimming corpus is empty")
    tok = desc.tokenizer
    counts = corpus_token_counts(desc, texts)
    keep = set(tok.special_ids())
    keep.update(tok.index[t] for t in keep_tokens if t in tok.index)
    keep.update(i for i, c in counts.items() if c >= min_freq)
    with ProgramEditor(desc.graph) as ed:
        emb = ed.embeddings()
        if "word" not in emb:
            raise ConversionError("cannot trim the vocabulary: no word embedding fed by input_ids in the graph")
        table = desc.graph.params[emb["word"]]
        if table.shape[0] < tok.vocab_size:
            raise ConversionError(f"the word embedding has {table.shape[0]} rows for {tok.vocab_size} tokens")
        kept = np.array(sorted(i for i in keep if i < tok.vocab_size), dtype=np.int64)
        old_to_new = np.full(tok.vocab_size, -1, dtype=np.int64)
        old_to_new[kept] = np.arange(len(kept))
        old_pad, new_pad = tok.pad_id, int(old_to_new[tok.pad_id])
        ed.set_param(emb["word"], table[kept])
        if old_pad != new_pad:
            consts = ed.pad_compare_constants()
            if not consts:
                raise ConversionError(f"trimming moves [PAD] from id {old_pad} to {new_pad} but the graph's pad "
                                      "mask was not found")
            for op in consts:
                if op.type == "fill_constant" and float(op.attr("value")) == float(old_pad):
                    op._set_attr("value", float(new_pad))
                    if "str_value" in op.attr_names:
                        op._set_attr("str_value", str(new_pad))
                elif op.type in ("fill_any_like", "full_like") and float(op.attr("value")) == float(old_pad):
                    op._set_attr("value", float(new_pad))
        ed.commit()
    desc.tokenizer = tok.with_tokens([tok.tokens[i] for i in kept])
    res = TrimResult(kept_ids=kept, old_to_new=old_to_new, vocab_before=tok.vocab_size, vocab_after=len(kept),
                     corpus_texts=len(texts), corpus_tokens=int(sum(counts.values())), min_freq=min_freq)
    desc.passes.append(f"trim_vocab: {res.vocab_before} -> {res.vocab_after} tokens "
                       f"({len(texts)} corpus texts, min_freq {min_freq})")
    return res


def trim_positions(desc: ModelDescription, max_length: int) -> int | None:
    """Cut the position table to ``max_length`` rows (the runtime never feeds longer inputs)."""
    from .paddle_graph import ProgramEditor

    assert desc.graph is not None
    with ProgramEditor(desc.graph) as ed:
        emb = ed.embeddings()
        if "position" not in emb:
            return None
        table = desc.graph.params[emb["position"]]
        if max_length > table.shape[0]:
            raise ConversionError(f"max_length {max_length} exceeds the model's {table.shape[0]} positions")
        if max_length == table.shape[0]:
            return table.shape[0]
        ed.set_param(emb["position"], table[:max_length])
        ed.commit()
    desc.passes.append(f"trim_positions: {table.shape[0]} -> {max_length}")
    return table.shape[0]


def position_count(desc: ModelDescription) -> int | None:
    emb = _embedding_names(desc)
    if "position" not in emb:
        return None
    return int(desc.graph.params[emb["position"]].shape[0])


def repair_for_lite(graph: GraphModel) -> tuple[GraphModel, int]:
    """A copy of ``graph`` with every input-less 0-D fill_constant given shape [1]."""
    from .paddle_graph import ProgramEditor

    g = GraphModel(program_bytes=graph.program_bytes, params=dict(graph.params),
                   feed_names=list(graph.feed_names), fetch_names=list(graph.fetch_names),
                   feed_dtypes=dict(graph.feed_dtypes))
    with ProgramEditor(g) as ed:
        n = ed.repair_scalar_fill_constants()
        if n:
            ed.commit()
    return g, n


def copy_graph(graph: GraphModel) -> GraphModel:
    return copy.deepcopy(graph)
