"""Pass ``trim_vocab``: keep the special tokens and every token the domain corpus
(``options.trim_vocab``) uses at least ``options.min_freq`` times; the embedding rows and the
vocabulary are remapped together, in the original order.

:func:`trim_vocabulary` is the operation itself (returns a :class:`TrimResult`); the pass records
that result, which :func:`coverage` later checks: texts whose tokens were all kept must get
exactly the same ids (remapped) and logits as before.

May import: numpy, edgetext.errors, ..description, ..gate, ..evaluation, ..paddle_graph, .base.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edgetext.errors import ConversionError

from ..description import ModelDescription
from ..evaluation import EvalSet
from ..gate import compare
from .base import PassContext


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


def trim_vocabulary(desc: ModelDescription, corpus: Sequence[str], min_freq: int = 1,
                    keep_tokens: Sequence[str] = ()) -> TrimResult:
    """Keep special tokens, ``keep_tokens`` and every corpus token seen ``>= min_freq`` times.

    The order of the kept tokens is the original order, so WordPiece (greedy longest match)
    tokenizes every text whose tokens were all kept exactly as before, with remapped ids; and
    the pad token keeps id 0 when it had it (the pad-mask constant is updated otherwise).
    """
    from ..paddle_graph import ProgramEditor

    assert desc.graph is not None, "trim_vocab runs on graph form"
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
    return TrimResult(kept_ids=kept, old_to_new=old_to_new, vocab_before=tok.vocab_size, vocab_after=len(kept),
                      corpus_texts=len(texts), corpus_tokens=int(sum(counts.values())), min_freq=min_freq)


def trim_vocab(desc: ModelDescription, ctx: PassContext) -> ModelDescription:
    if ctx.trim_texts is None:
        ctx.record("trim_vocab", None, skipped="no trimming corpus")
        return desc
    res = trim_vocabulary(desc, ctx.trim_texts, min_freq=ctx.options.min_freq)
    ctx.record("trim_vocab", f"trim_vocab: {res.vocab_before} -> {res.vocab_after} tokens "
               f"({res.corpus_texts} corpus texts, min_freq {res.min_freq})", result=res, **res.as_dict())
    return desc


def coverage(trim: TrimResult, ev: EvalSet, logits: bool = True) -> dict:
    """report["trim"]: the trim result plus how the evaluation texts it fully covers came out.

    Raises ConversionError when a covered text changed ids or (with ``logits``: not for a pruned model, whose
    logits differ from the reference's anyway) predictions: that is a bug."""
    assert ev.ref_logits is not None and ev.graph_logits is not None
    covered = [i for i, ids in enumerate(ev.ref_ids) if all(trim.old_to_new[t] >= 0 for t in ids)]
    out = trim.as_dict()
    out["eval_texts_covered"] = len(covered)
    if covered:
        cm = compare(ev.ref_logits[covered], ev.graph_logits[covered])
        same_ids = all([int(trim.old_to_new[t]) for t in ev.ref_ids[i]] == ev.new_ids[i] for i in covered)
        out.update({"covered_max_abs_logit_diff": cm["max_abs_logit_diff"],
                    "covered_top1_agreement": cm["top1_agreement"],
                    "covered_ids_identical": bool(same_ids)})
        if not same_ids or logits and (cm["top1_agreement"] < 1.0 or cm["max_abs_logit_diff"] > 1e-3 * max(
                1.0, cm["reference_max_abs_logit"])):
            raise ConversionError("vocabulary trimming changed predictions on covered texts (a bug): "
                                  f"{cm['max_abs_logit_diff']:.3g} max |logit diff|, ids identical: {same_ids}")
    return out
