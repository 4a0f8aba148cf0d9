"""Multi-label classifiers: per-label decision thresholds and the evaluation file they are tuned on.

A multi-label model scores every label independently (a sigmoid per logit); a label is predicted when its
probability is >= the label's threshold. The default is 0.5 for every label. With ``--tune-thresholds`` the
converter picks, for each label separately, the threshold that maximises that label's F1 on the ``--eval``
file (:func:`tune_thresholds`), and records how (``threshold_tuning`` in the manifest).

Multi-label ``--eval`` format (:func:`parse_label_sets`): ``text<TAB>label1,label2,...`` lines; the last tab
field is a comma-separated list of the model's label names (spaces around names are ignored, a name may not
repeat); an empty field means "no label applies". The runtime's ``edgetext eval`` reads the same format.

May import: numpy, edgetext.errors (and .evaluation / .options for types).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from edgetext.errors import ConversionError

if TYPE_CHECKING:
    from .evaluation import EvalSet
    from .options import ConvertOptions

DEFAULT_THRESHOLD = 0.5


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function in float64 (no overflow warnings for large |logits|)."""
    x = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def parse_label_sets(names: Sequence[str], labels: Sequence[str], where: str = "--eval") -> np.ndarray:
    """``label1,label2`` fields -> a 0/1 matrix [N, len(labels)]; unknown or repeated names are errors naming
    the row."""
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((len(names), len(labels)), dtype=np.int8)
    for r, field in enumerate(names):
        parts = [p.strip() for p in field.split(",")] if field.strip() else []
        if any(not p for p in parts):
            raise ConversionError(f"{where} row {r + 1}: empty label name in {field!r} (labels are "
                                  "comma-separated; leave the field empty for 'no label')")
        bad = [p for p in parts if p not in index]
        if bad:
            raise ConversionError(f"{where} row {r + 1}: labels {bad} are not among the model's labels "
                                  f"{list(labels)}")
        if len(set(parts)) != len(parts):
            raise ConversionError(f"{where} row {r + 1}: a label is listed twice in {field!r}")
        out[r, [index[p] for p in parts]] = 1
    return out


def f1_at(probs: np.ndarray, truth: np.ndarray, threshold: float) -> float:
    """F1 of one label: ``probs`` [N], ``truth`` [N] 0/1 (0 when nothing is predicted or true)."""
    pred = probs >= threshold
    tp = float((pred & (truth == 1)).sum())
    denom = float(pred.sum() + (truth == 1).sum())
    return 2 * tp / denom if denom else 0.0


def tune_thresholds(probs: np.ndarray, truth: np.ndarray) -> tuple[list[float], list[dict]]:
    """Per label, the threshold maximising its F1 on (probs [N, C], truth [N, C] 0/1): candidates are the
    midpoints between consecutive distinct probabilities and the default 0.5; ties go to the candidate closest
    to 0.5 (the least tuned). A label without positives in the data keeps 0.5. Returns (thresholds, per-label
    records: threshold, f1 at it, f1 at 0.5, positives)."""
    probs = np.asarray(probs, dtype=np.float64)
    truth = np.asarray(truth)
    thresholds, records = [], []
    for j in range(probs.shape[1]):
        p, t = probs[:, j], truth[:, j]
        base = f1_at(p, t, DEFAULT_THRESHOLD)
        best, best_f1 = DEFAULT_THRESHOLD, base
        if t.sum() > 0:
            u = np.unique(p)
            cands = np.concatenate([(u[:-1] + u[1:]) / 2, u[:1], [DEFAULT_THRESHOLD]])
            for c in cands:
                c = float(min(1.0, max(0.0, c)))
                f = f1_at(p, t, c)
                if f > best_f1 + 1e-12 or (abs(f - best_f1) <= 1e-12
                                           and abs(c - DEFAULT_THRESHOLD) < abs(best - DEFAULT_THRESHOLD)):
                    best, best_f1 = c, f
        thresholds.append(round(best, 6))
        records.append({"threshold": round(best, 6), "f1": f1_at(p, t, round(best, 6)), "f1_at_0.5": base,
                        "positives": int(t.sum())})
    return thresholds, records


def multilabel_f1(pred: np.ndarray, truth: np.ndarray) -> dict:
    """micro-F1, macro-F1 (over labels with a positive in truth or prediction) and exact-set accuracy of 0/1
    matrices [N, C]."""
    pred, truth = np.asarray(pred).astype(bool), np.asarray(truth).astype(bool)
    tp = (pred & truth).sum(0).astype(np.float64)
    fp = (pred & ~truth).sum(0).astype(np.float64)
    fn = (~pred & truth).sum(0).astype(np.float64)
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    seen = denom > 0
    micro_d = 2 * tp.sum() + fp.sum() + fn.sum()
    return {"micro_f1": float(2 * tp.sum() / micro_d) if micro_d else 0.0,
            "macro_f1": float(f1[seen].mean()) if seen.any() else 0.0,
            "exact_set_accuracy": float((pred == truth).all(1).mean()) if len(pred) else 0.0}


def choose_thresholds(ev: "EvalSet", labels: Sequence[str], options: "ConvertOptions") -> dict:
    """The thresholds of a multi-label conversion and their record: 0.5 each, or with ``options.tune_thresholds``
    tuned on the reference's probabilities for the labelled ``--eval`` rows (:func:`tune_thresholds`). Returns
    ``{"thresholds", "tuning"`` (the manifest's ``threshold_tuning``)``, "reference"`` (the reference's micro/
    macro-F1 and exact-set accuracy at these thresholds, with labels)``}``."""
    import hashlib
    from pathlib import Path

    assert ev.ref_logits is not None, "measure the reference first"
    probs = sigmoid(ev.ref_logits)
    truth = ev.targets
    if options.tune_thresholds:
        if truth is None or truth.ndim != 2:
            raise ConversionError("--tune-thresholds needs a labelled --eval file (text<TAB>label1,label2 rows)")
        thresholds, per = tune_thresholds(probs, truth)
        path = Path(str(options.eval_file))
        tuning: dict = {"method": "tuned", "metric": "per-label F1 (each label's threshold maximises its own F1)",
                        "file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                        "rows": int(len(truth)), "source": ev.source,
                        "per_label": [{"label": lab, **rec} for lab, rec in zip(labels, per)]}
    else:
        thresholds = [DEFAULT_THRESHOLD] * len(labels)
        tuning = {"method": "default"}
    out = {"thresholds": thresholds, "tuning": tuning}
    if truth is not None and truth.ndim == 2:
        out["reference"] = {**multilabel_f1(probs >= np.asarray(thresholds), truth),
                            "at_0.5": multilabel_f1(probs >= DEFAULT_THRESHOLD, truth),
                            "on": ev.source + (" (the tuning rows: optimistic)" if options.tune_thresholds else "")}
    return out
