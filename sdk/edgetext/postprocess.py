"""Post-processing between a backend and the caller: logits -> softmax scores -> top-k
:class:`Category` lists, best first (tflite-support's ClassificationPostprocessor).

May import: numpy and the standard library only.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np


class Category(NamedTuple):
    """One class of a result: its label, softmax score and index in the bundle's labels."""

    label: str
    score: float
    index: int  # type: ignore[assignment]  # shadows tuple.index: the public field name


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (max-shifted, so large logits do not overflow), returned as float32."""
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def top_k_categories(probs: np.ndarray, labels: Sequence[str], k: int) -> list[list[Category]]:
    """The `k` best categories of every row of `probs` [N, C], best first (ties: lower index first)."""
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[Category(labels[j], float(p[j]), int(j)) for j in row] for p, row in zip(probs, order)]


class ClassificationPostprocessor:
    """Logits [N, C] -> N lists of at most `top_k` Categories (top_k is capped at the label count)."""

    def __init__(self, labels: Sequence[str]):
        self.labels = tuple(labels)

    def __call__(self, logits: np.ndarray, top_k: int = 1) -> list[list[Category]]:
        return top_k_categories(softmax(logits), self.labels, min(top_k, len(self.labels)))
