"""Post-processing between a backend and the caller: logits -> softmax scores -> top-k
:class:`Category` lists, best first (tflite-support's ClassificationPostprocessor). A multi-label
bundle's logits get a sigmoid each instead, and every label whose probability reaches its
threshold is returned (see :class:`ClassificationPostprocessor`).

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


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function in float64 (``exp(-log(1 + exp(-x)))``: no overflow for large |x|), as
    float32."""
    x = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x)).astype(np.float32)


def top_k_categories(probs: np.ndarray, labels: Sequence[str], k: int) -> list[list[Category]]:
    """The `k` best categories of every row of `probs` [N, C], best first (ties: lower index first)."""
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[Category(labels[j], float(p[j]), int(j)) for j in row] for p, row in zip(probs, order)]


class ClassificationPostprocessor:
    """Logits [N, C] -> N lists of Categories, best first (ties: lower index first).

    Single-label (``thresholds`` None): softmax scores; ``top_k`` (default 1, capped at the label count) best
    labels, then those below ``score_threshold`` (default: none) dropped.
    Multi-label (``thresholds``: one per label): a sigmoid per logit; every label whose probability is >= its
    threshold (``score_threshold``, when given, replaces every label's threshold: 0.0 returns all labels), at
    most ``top_k`` of them (default: all). An empty list means that no label applies.
    """

    def __init__(self, labels: Sequence[str], thresholds: Sequence[float] | None = None):
        self.labels = tuple(labels)
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        if self.thresholds is not None and self.thresholds.shape != (len(self.labels),):
            raise ValueError(f"{len(self.thresholds)} thresholds for {len(self.labels)} labels")

    @property
    def multi_label(self) -> bool:
        return self.thresholds is not None

    def scores(self, logits: np.ndarray) -> np.ndarray:
        """Softmax rows, or for a multi-label bundle per-label sigmoid probabilities [N, C] float32."""
        return sigmoid(logits) if self.multi_label else softmax(logits)

    def decisions(self, logits: np.ndarray, score_threshold: float | None = None) -> np.ndarray:
        """Multi-label: the bool matrix [N, C] of labels that apply (probability >= threshold)."""
        assert self.thresholds is not None, "decisions are for multi-label bundles"
        limit = self.thresholds if score_threshold is None else np.full(len(self.labels), float(score_threshold))
        # compare in float64 on the float32 probabilities a caller sees, so Category.score >= threshold holds
        return self.scores(logits).astype(np.float64) >= limit[None, :]

    def __call__(self, logits: np.ndarray, top_k: int | None = None,
                 score_threshold: float | None = None) -> list[list[Category]]:
        probs = self.scores(logits)
        if not self.multi_label:
            cats = top_k_categories(probs, self.labels, min(1 if top_k is None else top_k, len(self.labels)))
            if score_threshold is None:
                return cats
            return [[c for c in row if c.score >= score_threshold] for row in cats]
        keep = self.decisions(logits, score_threshold)
        order = np.argsort(-probs, axis=1, kind="stable")
        k = len(self.labels) if top_k is None else top_k
        return [[Category(self.labels[j], float(p[j]), int(j)) for j in row if kept[j]][:k]
                for p, row, kept in zip(probs, order, keep)]
