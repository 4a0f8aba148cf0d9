"""Golden vectors: a few evaluation texts (short to long, and the most confident) on which every
model measured here agrees with the reference, with their ids, the reference's label, score and
logits, and each measured model's own expectations (``per_model``).

A device checks golden vectors one text per run, unpadded (dynamically quantized models scale
activations per batch, so a text's int8 scores depend on its batch-mates): with ``single_run`` the
expectations are measured the same way, and a candidate whose single-text label differs from the
reference's is passed over.

Multi-label models (``thresholds``): a golden text is one on which every measured model decides the same label
set as the reference; each entry records that set (``labels``, maybe empty), the top label by sigmoid and its
probability (``label``, ``score``); "strongest" means farthest from every threshold.

May import: numpy, .evaluation.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from .evaluation import EvalSet

N_GOLDEN = 6
MAX_CHARS = 2000
SPARE = 3  # candidates measured one text per run, per golden vector wanted

#: runs each id row alone (a batch of one, unpadded) and returns each row's logits [C]; for a pair model it is
#: called with the rows' token types as a second argument
SingleRun = Callable[..., list[np.ndarray]]


def softmax(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64) - x.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def golden_vectors(ev: EvalSet, per_model: Mapping[str, np.ndarray], labels: Sequence[str],
                   single_run: Mapping[str, SingleRun] | None = None,
                   thresholds: Sequence[float] | None = None) -> list[dict]:
    """``per_model``: model file -> its logits on ``ev`` (only models whose expectations a device can check);
    ``single_run``: model file -> how to run it one text at a time (see the module docstring); ``thresholds``:
    a multi-label model's per-label thresholds (None: softmax, argmax)."""
    n = len(ev.texts)
    if n == 0:
        return []
    assert ev.ref_logits is not None
    ref = ev.ref_logits
    top = ref.argmax(-1)
    t = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    score = softmax if t is None else sigmoid
    probs = score(ref)

    def same(lg: np.ndarray, rows) -> np.ndarray:
        """Whether ``lg`` (logits of ``rows``) decides as the reference: argmax, or every label's side of t."""
        lg = np.atleast_2d(np.asarray(lg, dtype=np.float64))
        if t is None:
            return lg.argmax(-1) == top[rows]
        return ((sigmoid(lg) >= t) == (probs[rows] >= t)).all(-1)

    if t is None:
        margin = np.sort(probs, -1)[:, -1] - (np.sort(probs, -1)[:, -2] if probs.shape[1] > 1 else 0)
    else:
        margin = np.abs(probs - t).min(-1)
    agree = np.ones(n, dtype=bool)
    for lg in per_model.values():
        agree &= same(lg, np.arange(n))
    cands = [i for i in range(n) if agree[i] and len(ev.texts[i]) + len(ev.pairs[i] if ev.pairs else "") <= MAX_CHARS]
    cands.sort(key=lambda i: (len(ev.new_ids[i]), i))
    if len(cands) > N_GOLDEN:
        picks = [cands[int(round(k * (len(cands) - 1) / (N_GOLDEN - 1)))] for k in range(N_GOLDEN)]
        strong = sorted(cands, key=lambda i: -margin[i])[:N_GOLDEN]
        picks = list(dict.fromkeys(picks[: N_GOLDEN // 2] + strong))[:N_GOLDEN]
    else:
        picks = cands
    expect = {f: lg for f, lg in per_model.items()}
    if single_run:
        # the picks first, then the strongest of the rest as spares for picks a single run overturns
        spares = sorted((i for i in cands if i not in picks), key=lambda i: -margin[i])
        order = (picks + spares)[: SPARE * N_GOLDEN]
        rows = [ev.new_ids[i] for i in order]
        types = None if ev.new_types is None else [ev.new_types[i] for i in order]
        extra = () if types is None else (types,)
        alone = {f: dict(zip(order, run(rows, *extra))) for f, run in single_run.items() if f in per_model}
        kept = [i for i in order if all(bool(same(a[i], [i])[0]) for a in alone.values())]
        picks = kept[:N_GOLDEN]
        expect = {f: (np.stack([alone[f][i] for i in picks]) if f in alone else per_model[f][picks])
                  for f in per_model}
        index = {i: k for k, i in enumerate(picks)}
    else:
        index = {i: i for i in picks}
    out = []
    for i in picks:
        g: dict = {"text": ev.texts[i], "text_pair": None if ev.pairs is None else ev.pairs[i],
                   "input_ids": [int(x) for x in ev.new_ids[i]], "label": labels[int(top[i])], "score": float(probs[i, top[i]]),
                   "logits": [float(x) for x in ref[i]]}
        if t is not None:
            g["labels"] = [labels[j] for j in np.flatnonzero(probs[i] >= t)]
        per = {}
        for fname, lg in expect.items():
            row = np.asarray(lg[index[i]], dtype=np.float64)
            pr = score(row[None, :])[0]
            per[fname] = {"label": labels[int(row.argmax())], "score": float(pr.max()),
                          "logits": [float(x) for x in row]}
            if t is not None:
                per[fname]["labels"] = [labels[j] for j in np.flatnonzero(pr >= t)]
        if per:
            g["per_model"] = per
        out.append(g)
    return out


def golden_embeddings(ev: EvalSet, per_model: Mapping[str, np.ndarray],
                      single_run: Mapping[str, SingleRun] | None = None) -> list[dict]:
    """Golden vectors of an embedding bundle: ``N_GOLDEN`` texts spread from short to long, each with its ids,
    the reference's ``embedding`` and, per measured model, the model's own (one text per run when
    ``single_run`` says how: the device checks them so)."""
    n = len(ev.texts)
    if n == 0:
        return []
    assert ev.ref_logits is not None
    cands = sorted((i for i in range(n) if len(ev.texts[i]) <= MAX_CHARS), key=lambda i: (len(ev.new_ids[i]), i))
    if len(cands) > N_GOLDEN:
        cands = [cands[int(round(k * (len(cands) - 1) / (N_GOLDEN - 1)))] for k in range(N_GOLDEN)]
    rows = [ev.new_ids[i] for i in cands]
    alone = {f: run(rows) for f, run in (single_run or {}).items() if f in per_model}
    out = []
    for k, i in enumerate(cands):
        g: dict = {"text": ev.texts[i], "text_pair": None, "input_ids": [int(x) for x in ev.new_ids[i]],
                   "embedding": [float(x) for x in ev.ref_logits[i]]}
        per = {f: {"embedding": [float(x) for x in (alone[f][k] if f in alone else lg[i])]}
               for f, lg in per_model.items()}
        if per:
            g["per_model"] = per
        out.append(g)
    return out
