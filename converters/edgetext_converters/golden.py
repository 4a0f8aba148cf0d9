"""Golden vectors: a few evaluation texts (short to long, and the most confident) on which every
model measured here agrees with the reference, with their ids, the reference's label, score and
logits, and each measured model's own expectations (``per_model``).

May import: numpy, .evaluation.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .evaluation import EvalSet

N_GOLDEN = 6
MAX_CHARS = 2000


def softmax(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64) - x.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def golden_vectors(ev: EvalSet, per_model: Mapping[str, np.ndarray], labels: Sequence[str]) -> list[dict]:
    """``per_model``: model file -> its logits on ``ev`` (only models whose expectations a device can check)."""
    n = len(ev.texts)
    if n == 0:
        return []
    assert ev.ref_logits is not None
    ref = ev.ref_logits
    top = ref.argmax(-1)
    probs = softmax(ref)
    margin = np.sort(probs, -1)[:, -1] - (np.sort(probs, -1)[:, -2] if probs.shape[1] > 1 else 0)
    agree = np.ones(n, dtype=bool)
    for lg in per_model.values():
        agree &= lg.argmax(-1) == top
    cands = [i for i in range(n) if agree[i] and len(ev.texts[i]) <= MAX_CHARS]
    cands.sort(key=lambda i: (len(ev.new_ids[i]), i))
    if len(cands) > N_GOLDEN:
        picks = [cands[int(round(k * (len(cands) - 1) / (N_GOLDEN - 1)))] for k in range(N_GOLDEN)]
        strong = sorted(cands, key=lambda i: -margin[i])[:N_GOLDEN]
        picks = list(dict.fromkeys(picks[: N_GOLDEN // 2] + strong))[:N_GOLDEN]
    else:
        picks = cands
    out = []
    for i in picks:
        g: dict = {"text": ev.texts[i], "text_pair": None, "input_ids": [int(x) for x in ev.new_ids[i]],
                   "label": labels[int(top[i])], "score": float(probs[i, top[i]]),
                   "logits": [float(x) for x in ref[i]]}
        per = {}
        for fname, lg in per_model.items():
            pr = softmax(lg[i:i + 1])[0]
            per[fname] = {"label": labels[int(lg[i].argmax())], "score": float(pr.max()),
                          "logits": [float(x) for x in lg[i]]}
        if per:
            g["per_model"] = per
        out.append(g)
    return out
