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

Embedding models (task ``text-embedding``, :func:`compare_embeddings`) are gated on the cosine similarity of
each text's embedding to the reference's instead (argmax means nothing there): ``cosine``: mean cosine
below ``fp32_min_cosine`` (0.9999) for fp32, below ``min_cosine`` (0.99) for int8/fp16. Retrieval agreement
(each text's nearest other text, by cosine, the same as the reference's) is measured and reported.

A pruned model (``pruned=True``, issue 8) is a different, smaller model trained to imitate the reference: its
fp32 graph is not held to the logit-distance rules against the reference, its agreement floor with the
reference is ``min_pruned_agreement`` (0.95) and accuracy drop (with labels) stays the budget; its int8/fp16
files are held to the distance rules and to ``min_agreement`` against the pruned fp32 graph (quantization
must stay faithful to the model it quantizes).

Multi-label models (a sigmoid per label, each decided by its threshold) are gated on their decisions, not on
argmax: ``label_decision_agreement`` (the share of (text, label) decisions identical to the reference's) must
reach ``min_agreement``, ``label_set_agreement`` (texts whose whole label set is identical) must reach
``min_label_set_agreement`` (0.95), and with labels the micro-F1 may drop at most ``max_accuracy_drop`` points
(``accuracy_drop``). The thresholds are the conversion's (:func:`multi_label_thresholds`, a context every
``compare`` inside it sees, the int8 search's included), or ``compare(thresholds=...)``.

A trimmed vocabulary changes the logits of texts it does not cover (their unknown words become
[UNK]), so with ``trimmed_vocab=True`` the two logit-distance rules are not applied: agreement
and accuracy decide. :func:`check` raises AccuracyGateError unless every problem is waivable
and waiving was asked for.

May import: numpy, edgetext.errors.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator, Sequence

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
    min_cosine: float = 0.99  # embedding models, int8/fp16: mean cosine to the reference
    fp32_min_cosine: float = 0.9999  # embedding models, fp32
    min_pruned_agreement: float = 0.95  # a pruned model vs the unpruned reference (module docstring)
    min_label_set_agreement: float = 0.95  # multi-label: texts whose decided label set equals the reference's


#: the per-label thresholds of the multi-label model being converted (None: a softmax classifier). A context, not
#: an argument, because the int8 search and the OpenVINO pass call compare() with the task alone
_THRESHOLDS: ContextVar[tuple[float, ...] | None] = ContextVar("edgetext_multi_label_thresholds", default=None)


@contextlib.contextmanager
def multi_label_thresholds(thresholds: Sequence[float] | None) -> Iterator[None]:
    """Within it, :func:`compare` gates classifiers on per-label decisions at ``thresholds`` (None: argmax)."""
    token = _THRESHOLDS.set(None if thresholds is None else tuple(float(t) for t in thresholds))
    try:
        yield
    finally:
        _THRESHOLDS.reset(token)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def _micro_macro_f1(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = (pred & truth).sum(0).astype(np.float64)
    denom = tp * 2 + (pred & ~truth).sum(0) + (~pred & truth).sum(0)
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return (float(2 * tp.sum() / denom.sum()) if denom.sum() else 0.0,
            float(f1[denom > 0].mean()) if (denom > 0).any() else 0.0)


def compare_decisions(ref: np.ndarray, out: np.ndarray, thresholds: Sequence[float],
                      targets: np.ndarray | None = None, graph: np.ndarray | None = None) -> dict:
    """Multi-label metrics of finite logits ``out`` [N, C] against ``ref``: per-decision and whole-set agreement at
    ``thresholds``, max |probability diff|; with 0/1 ``targets`` [N, C] micro/macro-F1 of both and the micro-F1
    drop in points; with ``graph`` the agreement with the fp32 graph's decisions."""
    t = np.asarray(thresholds, dtype=np.float64)[None, :]
    pr, po = _sigmoid(ref), _sigmoid(out)
    dr, do = pr >= t, po >= t
    m = {"label_decision_agreement": float((dr == do).mean()) if dr.size else 1.0,
         "label_set_agreement": float((dr == do).all(1).mean()) if len(dr) else 1.0,
         "max_abs_prob_diff": float(np.abs(po - pr).max()) if pr.size else 0.0}
    if graph is not None:
        m["label_decision_agreement_vs_fp32_graph"] = float(((_sigmoid(graph) >= t) == do).mean()) if do.size else 1.0
    if targets is not None and len(targets):
        truth = np.asarray(targets).astype(bool)
        m["reference_micro_f1"], m["reference_macro_f1"] = _micro_macro_f1(dr, truth)
        m["micro_f1"], m["macro_f1"] = _micro_macro_f1(do, truth)
        m["accuracy_drop_points"] = 100.0 * (m["reference_micro_f1"] - m["micro_f1"])
    return m


@dataclass(frozen=True)
class Problem:
    """One reason to refuse a model. ``waivable`` is decided by ``kind``, never by the wording."""

    kind: str  # shape | non_finite | fp32_tolerance | logit_spread | agreement | accuracy_drop | cosine
    message: str

    @property
    def waivable(self) -> bool:
        return self.kind not in HARD_KINDS

    def __str__(self) -> str:
        return self.message


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two [N, D] arrays (a zero row has cosine 0 with anything)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.maximum(na * nb, 1e-300)


def nearest_neighbours(x: np.ndarray) -> np.ndarray:
    """For each row, the index of the most cosine-similar *other* row (ties: the lower index)."""
    x = np.asarray(x, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    return sim.argmax(1)


def _common(ref: np.ndarray, out: np.ndarray, extra: dict) -> tuple[np.ndarray, np.ndarray, dict, np.ndarray | None]:
    """(ref, out as float64, metrics with n_texts / shape_ok / non_finite, the finite mask); the mask is None when
    the shapes differ (the metrics then say so and nothing else can be compared)."""
    ref = np.asarray(ref, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    m: dict = {"n_texts": int(ref.shape[0]), **extra}
    if out.shape != ref.shape:
        m.update({"shape_ok": False, "shape": list(out.shape), "expected_shape": list(ref.shape)})
        return ref, out, m, None
    finite = np.isfinite(out)
    m["shape_ok"] = True
    m["non_finite"] = int((~finite).sum())
    return ref, out, m, finite


def compare_embeddings(ref: np.ndarray, out: np.ndarray, graph: np.ndarray | None = None) -> dict:
    """Metrics of embeddings ``out`` [N, D] against the reference's: mean / min cosine, retrieval top-1
    agreement (each text's nearest other text identical), max |diff|, NaN/Inf count."""
    ref, out, m, finite = _common(ref, out, {"task": "text-embedding"})
    if finite is None:
        return m
    clean = np.where(finite, out, 0.0)
    cos = cosines(ref, clean) if ref.size else np.ones(0)
    m["mean_cosine"] = float(cos.mean()) if cos.size else 1.0
    m["min_cosine"] = float(cos.min()) if cos.size else 1.0
    m["max_abs_diff"] = float(np.abs(clean - ref).max()) if ref.size else 0.0
    if len(ref) >= 3:
        m["retrieval_top1_agreement"] = float((nearest_neighbours(clean) == nearest_neighbours(ref)).mean())
    if graph is not None:
        m["mean_cosine_vs_fp32_graph"] = float(cosines(graph, clean).mean()) if ref.size else 1.0
    return m


def headline(m: dict) -> float:
    """The one number candidates are ranked by: mean cosine for embeddings, per-label decision agreement for
    multi-label models, top-1 agreement otherwise."""
    for key in ("mean_cosine", "label_decision_agreement"):
        if key in m:
            return float(m[key])
    return float(m["top1_agreement"])


def compare(ref: np.ndarray, out: np.ndarray, targets: np.ndarray | None = None,
            graph: np.ndarray | None = None, task: str = "text-classification",
            thresholds: Sequence[float] | None = None) -> dict:
    """Metrics of ``out`` against the reference ``ref``. ``graph``: the fp32 logits of the model after
    the passes (vocabulary trimming changes logits on texts it does not cover: the fp32-exactness and
    garbage checks compare with it, agreement and accuracy with the reference). ``task`` text-embedding:
    :func:`compare_embeddings`."""
    if task == "text-embedding":
        return compare_embeddings(ref, out, graph)
    ref, out, m, finite = _common(ref, out, {})
    if finite is None:
        return m
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
        m["top1_agreement_vs_fp32_graph"] = float((out.argmax(-1) == g.argmax(-1)).mean()) if g.size else 1.0
    thresholds = _THRESHOLDS.get() if thresholds is None else thresholds
    if thresholds is not None:  # a multi-label model: its decisions, not its argmax, are what a device returns
        m["thresholds"] = [float(x) for x in thresholds]
        m.update(compare_decisions(ref, np.where(finite, out, 0.0), thresholds, targets, graph))
        return m
    if targets is not None and len(targets):
        targets = np.asarray(targets)
        m["reference_accuracy"] = float((ref.argmax(-1) == targets).mean())
        m["accuracy"] = float((out.argmax(-1) == targets).mean())
        m["accuracy_drop_points"] = 100.0 * (m["reference_accuracy"] - m["accuracy"])
    return m


def problems(m: dict, precision: str, cfg: GateConfig, *, trimmed_vocab: bool = False,
             pruned: bool = False) -> list[Problem]:
    """What is wrong with a model's metrics (empty: it passes)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (one of {', '.join(PRECISIONS)})")
    if not m.get("shape_ok", False):
        return [Problem("shape", f"output shape {m.get('shape')} differs from the reference's "
                                 f"{m.get('expected_shape')}")]
    out = []
    if m["non_finite"]:
        out.append(Problem("non_finite", f"{m['non_finite']} NaN/Inf logits"))
    if "mean_cosine" in m:  # an embedding model
        lim = cfg.fp32_min_cosine if precision == "fp32" else cfg.min_cosine
        if m["mean_cosine"] < lim - _EPS:
            out.append(Problem("cosine", f"mean cosine to the reference {m['mean_cosine']:.5f} is below {lim:g} "
                                         f"(min {m['min_cosine']:.4f})"))
        return out
    diff = m.get("max_abs_logit_diff_vs_fp32_graph", m["max_abs_logit_diff"])
    if trimmed_vocab or (pruned and "max_abs_logit_diff_vs_fp32_graph" not in m):
        pass  # uncovered texts / a pruned model legitimately change: agreement and accuracy decide
    elif precision == "fp32":
        lim = cfg.fp32_atol * max(1.0, m["reference_max_abs_logit"])
        if diff > lim:
            out.append(Problem("fp32_tolerance", f"max |logit diff| {diff:.3g} exceeds the fp32 tolerance {lim:.3g}"))
    else:
        lim = cfg.max_rel_diff * max(m["reference_logit_std"], 1e-6)
        if diff > max(lim, 1e-3):
            out.append(Problem("logit_spread", f"max |logit diff| {diff:.3g} is more than {cfg.max_rel_diff:g}x the "
                                               f"reference logit spread ({m['reference_logit_std']:.3g}): garbage output"))
    floor = cfg.min_pruned_agreement if pruned else cfg.min_agreement
    if "label_decision_agreement" in m:
        return out + _decision_problems(m, cfg, floor, pruned)
    if m["top1_agreement"] < floor - _EPS:
        out.append(Problem("agreement", f"top-1 agreement {m['top1_agreement']:.3f} is below {floor:g}"
                                        + (" (pruned model vs the unpruned reference)" if pruned else "")))
    vs_graph = m.get("top1_agreement_vs_fp32_graph")
    if pruned and precision != "fp32" and vs_graph is not None and vs_graph < cfg.min_agreement - _EPS:
        out.append(Problem("agreement", f"top-1 agreement {vs_graph:.3f} with the pruned fp32 model is below "
                                        f"{cfg.min_agreement:g}"))
    if "accuracy" in m and m["accuracy_drop_points"] > cfg.max_accuracy_drop + _EPS:
        out.append(Problem("accuracy_drop",
                           f"accuracy {100 * m['accuracy']:.2f}% is {m['accuracy_drop_points']:.2f} points below the "
                           f"reference's {100 * m['reference_accuracy']:.2f}% (limit {cfg.max_accuracy_drop:g})"))
    return out


def _decision_problems(m: dict, cfg: GateConfig, floor: float, pruned: bool) -> list[Problem]:
    out = []
    if m["label_decision_agreement"] < floor - _EPS:
        out.append(Problem("agreement", f"per-label decision agreement {m['label_decision_agreement']:.4f} is below "
                                        f"{floor:g}"))
    if m["label_set_agreement"] < cfg.min_label_set_agreement - _EPS:
        out.append(Problem("agreement", f"label-set agreement {m['label_set_agreement']:.3f} is below "
                                        f"{cfg.min_label_set_agreement:g} (texts whose whole set of labels equals the "
                                        "reference's)"))
    if "micro_f1" in m and m["accuracy_drop_points"] > cfg.max_accuracy_drop + _EPS:
        out.append(Problem("accuracy_drop",
                           f"micro-F1 {100 * m['micro_f1']:.2f} is {m['accuracy_drop_points']:.2f} points below the "
                           f"reference's {100 * m['reference_micro_f1']:.2f} (limit {cfg.max_accuracy_drop:g})"))
    return out


def check(what: str, m: dict, precision: str, cfg: GateConfig, *, trimmed_vocab: bool = False,
          pruned: bool = False) -> list[Problem]:
    """Raise AccuracyGateError for a refused model; return the waived problems otherwise."""
    found = problems(m, precision, cfg, trimmed_vocab=trimmed_vocab, pruned=pruned)
    if not found:
        return []
    hard = [p for p in found if not p.waivable]
    if hard or not cfg.allow_accuracy_drop:
        label = precision + (", pruned" if pruned else "") + (", trimmed vocabulary" if trimmed_vocab else "")
        raise AccuracyGateError(f"accuracy gate refused {what} ({label}): " + "; ".join(p.message for p in found)
                                + ("" if hard else " (use --allow-accuracy-drop to write it anyway)"))
    return found
