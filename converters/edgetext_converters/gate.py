"""Accuracy gate: a converted model against its reference on held-out texts.

Metrics (:func:`compare`): max |logit diff|, top-1 agreement, accuracy (with labels) and its
drop, NaN/Inf count. :func:`problems` turns them into structured :class:`Problem` s:

- ``shape``: wrong output shape; ``non_finite``: any NaN/Inf logit. Never waivable: garbage is
  never written, not even with ``allow_accuracy_drop``;
- ``fp32_tolerance``: an fp32 model off by more than ``fp32_atol`` x max(1, max |reference logit|)
  (an fp32 conversion must be exact: more means a conversion bug);
- ``logit_spread``: an int8/fp16 model off by more than ``max_rel_diff`` x the spread (std) of the
  reference logits (scaled or garbage logits whose argmax happens to survive);
- ``agreement``: top-1 agreement below ``min_agreement`` (default 0.99);
- ``accuracy_drop``: with labels, accuracy more than ``max_accuracy_drop`` points below the reference's
  (default 0.5).

A trimmed vocabulary changes the logits of texts it does not cover (their unknown words become
[UNK]), so with ``trimmed_vocab=True`` the two logit-distance rules are not applied: agreement
and accuracy decide. :func:`check` raises AccuracyGateError unless every problem is waivable
and waiving was asked for.

May import: numpy, edgetext.errors.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgetext.errors import AccuracyGateError

PRECISIONS = ("fp32", "fp16", "int8")
HARD_KINDS = frozenset({"shape", "non_finite"})
_EPS = 1e-9  # limits are inclusive: 1 text in 200 is exactly 0.5 points, whatever float rounding says


@dataclass(frozen=True)
class GateConfig:
    """The defaults are the product's promise: at most 1 text in 100 labelled differently from the user's
    framework, at most half a point of accuracy lost (with labels)."""

    max_accuracy_drop: float = 0.5  # points (percent)
    min_agreement: float = 0.99
    fp32_atol: float = 1e-3
    max_rel_diff: float = 1.0
    allow_accuracy_drop: bool = False


@dataclass(frozen=True)
class Problem:
    """One reason to refuse a model. ``waivable`` is decided by ``kind``, never by the wording."""

    kind: str  # shape | non_finite | fp32_tolerance | logit_spread | agreement | accuracy_drop
    message: str

    @property
    def waivable(self) -> bool:
        return self.kind not in HARD_KINDS

    def __str__(self) -> str:
        return self.message


def compare(ref: np.ndarray, out: np.ndarray, targets: np.ndarray | None = None,
            graph: np.ndarray | None = None) -> dict:
    """Metrics of ``out`` against the reference ``ref``. ``graph``: the fp32 logits of the model after
    the passes (vocabulary trimming changes logits on texts it does not cover: the fp32-exactness and
    garbage checks compare with it, agreement and accuracy with the reference)."""
    ref = np.asarray(ref, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    m: dict = {"n_texts": int(ref.shape[0])}
    if out.shape != ref.shape:
        m.update({"shape_ok": False, "shape": list(out.shape), "expected_shape": list(ref.shape)})
        return m
    finite = np.isfinite(out)
    m["shape_ok"] = True
    m["non_finite"] = int((~finite).sum())
    diff = np.abs(np.where(finite, out, 0.0) - ref)
    m["max_abs_logit_diff"] = float(diff.max()) if diff.size else 0.0
    m["mean_abs_logit_diff"] = float(diff.mean()) if diff.size else 0.0
    m["top1_agreement"] = float((out.argmax(-1) == ref.argmax(-1)).mean()) if ref.size else 1.0
    m["reference_logit_std"] = float(ref.std()) if ref.size else 0.0
    m["reference_max_abs_logit"] = float(np.abs(ref).max()) if ref.size else 0.0
    if graph is not None:
        g = np.asarray(graph, dtype=np.float64)
        gd = np.abs(np.where(finite, out, 0.0) - g)
        m["max_abs_logit_diff_vs_fp32_graph"] = float(gd.max()) if gd.size else 0.0
    if targets is not None and len(targets):
        targets = np.asarray(targets)
        m["reference_accuracy"] = float((ref.argmax(-1) == targets).mean())
        m["accuracy"] = float((out.argmax(-1) == targets).mean())
        m["accuracy_drop_points"] = 100.0 * (m["reference_accuracy"] - m["accuracy"])
    return m


def problems(m: dict, precision: str, cfg: GateConfig, *, trimmed_vocab: bool = False) -> list[Problem]:
    """What is wrong with a model's metrics (empty: it passes)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (one of {', '.join(PRECISIONS)})")
    if not m.get("shape_ok", False):
        return [Problem("shape", f"output shape {m.get('shape')} differs from the reference's "
                                 f"{m.get('expected_shape')}")]
    out = []
    if m["non_finite"]:
        out.append(Problem("non_finite", f"{m['non_finite']} NaN/Inf logits"))
    diff = m.get("max_abs_logit_diff_vs_fp32_graph", m["max_abs_logit_diff"])
    if trimmed_vocab:
        pass  # uncovered texts legitimately change: agreement and accuracy decide (module docstring)
    elif precision == "fp32":
        lim = cfg.fp32_atol * max(1.0, m["reference_max_abs_logit"])
        if diff > lim:
            out.append(Problem("fp32_tolerance", f"max |logit diff| {diff:.3g} exceeds the fp32 tolerance {lim:.3g}"))
    else:
        lim = cfg.max_rel_diff * max(m["reference_logit_std"], 1e-6)
        if diff > max(lim, 1e-3):
            out.append(Problem("logit_spread", f"max |logit diff| {diff:.3g} is more than {cfg.max_rel_diff:g}x the "
                                               f"reference logit spread ({m['reference_logit_std']:.3g}): garbage output"))
    if m["top1_agreement"] < cfg.min_agreement - _EPS:
        out.append(Problem("agreement", f"top-1 agreement {m['top1_agreement']:.3f} is below {cfg.min_agreement:g}"))
    if "accuracy" in m and m["accuracy_drop_points"] > cfg.max_accuracy_drop + _EPS:
        out.append(Problem("accuracy_drop",
                           f"accuracy {100 * m['accuracy']:.2f}% is {m['accuracy_drop_points']:.2f} points below the "
                           f"reference's {100 * m['reference_accuracy']:.2f}% (limit {cfg.max_accuracy_drop:g})"))
    return out


def check(what: str, m: dict, precision: str, cfg: GateConfig, *, trimmed_vocab: bool = False) -> list[Problem]:
    """Raise AccuracyGateError for a refused model; return the waived problems otherwise."""
    found = problems(m, precision, cfg, trimmed_vocab=trimmed_vocab)
    if not found:
        return []
    hard = [p for p in found if not p.waivable]
    if hard or not cfg.allow_accuracy_drop:
        label = precision + (", trimmed vocabulary" if trimmed_vocab else "")
        raise AccuracyGateError(f"accuracy gate refused {what} ({label}): " + "; ".join(p.message for p in found)
                                + ("" if hard else " (use --allow-accuracy-drop to write it anyway)"))
    return found
