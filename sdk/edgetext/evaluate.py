"""Evaluate a classifier on labelled texts: the on-device counterpart of a CLUE evaluation.

    from edgetext.evaluate import read_labelled, evaluate
    data = read_labelled("test.tsv")                 # text<TAB>label lines, or JSON lines
    report = evaluate(clf, data)                      # accuracy, macro-F1, per class, confusion, latency

Data files: ``text<TAB>label`` lines (the label is the last tab field), or JSON lines with the
text under ``sentence`` / ``text`` / ``content`` and the label under ``label`` (CLUE style:
TNEWS/IFLYTEK carry ``label`` codes plus ``label_desc`` names; both are matched against the
bundle's labels). Text pairs (``read_labelled(path, pairs=True)``, for a text-pair bundle):
``text<TAB>pair<TAB>label`` lines, or JSON lines with ``sentence1``/``sentence2`` (AFQMC, LCQMC,
OCNLI style) or ``text_a``/``text_b``. An integer label (or a digit string) is read as an index into the bundle's
labels only when no bundle label is itself a digit string. Labels the bundle does not have are
an error naming them: a silent skip would report accuracy on a different set.

Multi-label bundles (``read_labelled(path, multi_label=True)``): ``text<TAB>label1,label2,...`` lines (the last
tab field is a comma-separated set of the bundle's label names, an empty field meaning no label; a name may not
repeat), or JSON lines with the text and ``"labels": [names]``. :func:`multilabel_metrics` reports micro- and
macro-F1, per-label precision/recall/F1/support, exact-set accuracy and per-decision accuracy.

May import: numpy, the standard library, edgetext.errors (the classifier is passed in).
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .errors import InvalidInputError

log = logging.getLogger(__name__)

TEXT_KEYS = ("sentence", "text", "content")
PAIR_KEYS = ("sentence1", "sentence2", "text_a", "text_b")
MAX_ROWS = 10_000_000


class _Classifier(Protocol):
    labels: Sequence[str]

    def encode(self, texts: list[str]) -> list[list[int]]: ...

    def encode_pairs(self, texts: list[str], text_pairs: list[str]) -> tuple[list[list[int]], list[list[int]]]: ...

    def run_ids(self, ids: list[list[int]], batch_size: int = 32, *,
                type_ids: list[list[int]] | None = None) -> np.ndarray: ...

    def decide(self, logits: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class LabelledTexts:
    """Texts and their raw labels as the file states them (names, codes or indices)."""

    texts: list[str]
    labels: list[Any]
    descs: list[str | None]  # CLUE label_desc per row (None when absent)
    source: str
    format: str  # "tsv" | "jsonl"
    pairs: list[str] | None = None  # the second text of each row (text-pair data), else None
    multi_label: bool = False  # labels[i] is a list of label names (a multi-label file)


def read_labelled(path: str | os.PathLike, pairs: bool = False, multi_label: bool = False) -> LabelledTexts:
    """Read a ``text<TAB>label`` or JSON-lines file, or with ``pairs`` a ``text<TAB>pair<TAB>label`` or
    sentence1/sentence2 JSON-lines file, or with ``multi_label`` a ``text<TAB>label1,label2`` or JSON-lines file
    with ``labels`` lists (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"--data {p}: no such file")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise InvalidInputError(f"--data {p}: not UTF-8 ({e.reason} at byte {e.start})") from None
    rows = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if not rows:
        raise InvalidInputError(f"--data {p}: no rows")
    if len(rows) > MAX_ROWS:
        raise InvalidInputError(f"--data {p}: {len(rows)} rows, more than {MAX_ROWS}")
    if rows[0][1].lstrip().startswith("{"):
        data = _read_jsonl_pairs(p, rows) if pairs else _read_jsonl(p, rows, multi_label)
    else:
        data = _read_tsv(p, rows, pairs)
    return _as_label_sets(data) if multi_label else data


def _as_label_sets(data: LabelledTexts) -> LabelledTexts:
    """A multi-label file's label fields as lists of names (TSV: comma-separated; JSON: already lists)."""
    sets = []
    for n, raw in enumerate(data.labels, 1):
        names = raw if isinstance(raw, list) else [x.strip() for x in str(raw).split(",")] if str(raw).strip() else []
        if any(not isinstance(x, str) or not x.strip() for x in names):
            raise InvalidInputError(f"--data {data.source} row {n}: an empty or non-string label name in {raw!r} "
                                    "(labels are comma-separated names; leave the field empty for 'no label')")
        if len(set(names)) != len(names):
            raise InvalidInputError(f"--data {data.source} row {n}: a label is listed twice in {raw!r}")
        sets.append([x.strip() for x in names])
    return LabelledTexts(data.texts, sets, data.descs, data.source, data.format, data.pairs, multi_label=True)


def _read_tsv(p: Path, rows: list[tuple[int, str]], pairs: bool) -> LabelledTexts:
    texts, labels, seconds = [], [], []
    for n, line in rows:
        if pairs:
            if line.count("\t") != 2:
                raise InvalidInputError(f"--data {p}:{n}: expected text<TAB>pair<TAB>label (a text-pair bundle), "
                                        f"found {line.count(chr(9)) + 1} tab-separated fields")
            text, second, label = line.split("\t")
            seconds.append(second)
        elif "\t" not in line:
            raise InvalidInputError(f"--data {p}:{n}: expected text<TAB>label (or JSON lines)")
        else:
            text, label = line.rsplit("\t", 1)
        texts.append(text)
        labels.append(label.strip())
    return LabelledTexts(texts, labels, [None] * len(texts), str(p), "tsv", seconds if pairs else None)


def _read_jsonl_pairs(p: Path, rows: list[tuple[int, str]]) -> LabelledTexts:
    texts, seconds, labels, descs = [], [], [], []
    for n, line in rows:
        obj = _json_object(p, n, line)
        keys = next(((a, b) for a, b in (PAIR_KEYS[:2], PAIR_KEYS[2:]) if a in obj and b in obj), None)
        if keys is None:
            raise InvalidInputError(f"--data {p}:{n}: a text pair needs sentence1 and sentence2 (or text_a and "
                                    "text_b)")
        if not all(isinstance(obj[k], str) for k in keys):
            raise InvalidInputError(f"--data {p}:{n}: {keys[0]} and {keys[1]} must be strings")
        if "label" not in obj:
            raise InvalidInputError(f"--data {p}:{n}: no label")
        texts.append(obj[keys[0]])
        seconds.append(obj[keys[1]])
        labels.append(obj["label"])
        desc = obj.get("label_desc")
        descs.append(desc if isinstance(desc, str) else None)
    return LabelledTexts(texts, labels, descs, str(p), "jsonl", seconds)


def _json_object(p: Path, n: int, line: str) -> dict:
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise InvalidInputError(f"--data {p}:{n}: not JSON ({e})") from None
    if not isinstance(obj, dict):
        raise InvalidInputError(f"--data {p}:{n}: expected a JSON object")
    return obj


def _read_jsonl(p: Path, rows: list[tuple[int, str]], multi_label: bool = False) -> LabelledTexts:
    texts: list[str] = []
    labels: list[Any] = []
    descs: list[str | None] = []
    for n, line in rows:
        obj = _json_object(p, n, line)
        key = next((k for k in TEXT_KEYS if k in obj), None)
        if key is None:
            if any(k in obj for k in PAIR_KEYS):
                raise InvalidInputError(f"--data {p}:{n}: text pairs ({', '.join(k for k in PAIR_KEYS if k in obj)}) "
                                        "need a pair-classification bundle; this evaluates single texts")
            raise InvalidInputError(f"--data {p}:{n}: no text field (one of {', '.join(TEXT_KEYS)})")
        if not isinstance(obj[key], str):
            raise InvalidInputError(f"--data {p}:{n}: {key} must be a string")
        if multi_label:
            if not isinstance(obj.get("labels"), list):
                raise InvalidInputError(f"--data {p}:{n}: a multi-label bundle needs \"labels\": [names] on every "
                                        "row" + (" (this row has a single \"label\")" if "label" in obj else ""))
            texts.append(obj[key])
            labels.append(obj["labels"])
            descs.append(None)
            continue
        if "label" not in obj:
            raise InvalidInputError(f"--data {p}:{n}: no label" + (" (\"labels\" lists are for a multi-label "
                                                                  "bundle; this one has one label per text)"
                                                                  if "labels" in obj else ""))
        texts.append(obj[key])
        labels.append(obj["label"])
        desc = obj.get("label_desc")
        descs.append(desc if isinstance(desc, str) else None)
    return LabelledTexts(texts, labels, descs, str(p), "jsonl")


def label_indices(data: LabelledTexts, bundle_labels: Sequence[str]) -> np.ndarray:
    """The bundle-label index of every row (InvalidInputError naming labels the bundle lacks)."""
    index = {name: i for i, name in enumerate(bundle_labels)}
    numeric_ok = not any(str(name).isdigit() for name in bundle_labels)
    out = np.empty(len(data.labels), dtype=np.int64)
    unknown: dict[str, int] = {}
    for r, (label, desc) in enumerate(zip(data.labels, data.descs)):
        name = label if isinstance(label, str) else (str(label) if isinstance(label, int) else None)
        position = _as_index(label) if numeric_ok else None
        if name is not None and name in index:
            out[r] = index[name]
        elif desc is not None and desc in index:
            out[r] = index[desc]
        elif position is not None and position < len(bundle_labels):
            out[r] = position
        else:
            key = str(label) if desc is None else f"{label} ({desc})"
            unknown[key] = unknown.get(key, 0) + 1
    if unknown:
        shown = ", ".join(f"{k!r} x{v}" for k, v in sorted(unknown.items(), key=lambda kv: -kv[1])[:8])
        hint = ("; label1,label2 fields are multi-label data, and this bundle has one label per text"
                if any("," in k for k in unknown) else "")
        raise InvalidInputError(f"{data.source}: labels not in the bundle: {shown}"
                                f"{' ...' if len(unknown) > 8 else ''}; the bundle's labels are {list(bundle_labels)}"
                                + hint)
    return out


def label_matrix(data: LabelledTexts, bundle_labels: Sequence[str]) -> np.ndarray:
    """A multi-label file's label sets as a 0/1 matrix [N, C] (InvalidInputError naming labels the bundle lacks)."""
    index = {name: i for i, name in enumerate(bundle_labels)}
    out = np.zeros((len(data.labels), len(bundle_labels)), dtype=np.int8)
    unknown: dict[str, int] = {}
    for r, names in enumerate(data.labels):
        for name in names:
            if name in index:
                out[r, index[name]] = 1
            else:
                unknown[name] = unknown.get(name, 0) + 1
    if unknown:
        shown = ", ".join(f"{k!r} x{v}" for k, v in sorted(unknown.items(), key=lambda kv: -kv[1])[:8])
        raise InvalidInputError(f"{data.source}: labels not in the bundle: {shown}"
                                f"{' ...' if len(unknown) > 8 else ''}; the bundle's labels are {list(bundle_labels)}")
    return out


def multilabel_metrics(truth: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """micro-F1 (over all (text, label) decisions), macro-F1 (mean over labels with a positive in the truth or
    the predictions), per-label precision/recall/F1/support, exact-set accuracy (every label of a text right) and
    per-decision accuracy, from 0/1 matrices [N, C]."""
    truth, pred = np.asarray(truth).astype(bool), np.asarray(pred).astype(bool)
    tp = (truth & pred).sum(0).astype(np.float64)
    fp = (~truth & pred).sum(0).astype(np.float64)
    fn = (truth & ~pred).sum(0).astype(np.float64)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=(tp + fn) > 0)
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    seen = denom > 0
    micro = 2 * tp.sum() + fp.sum() + fn.sum()
    n = len(truth)
    return {
        "n_texts": int(n), "multi_label": True,
        "micro_f1": float(2 * tp.sum() / micro) if micro else 0.0,
        "macro_f1": float(f1[seen].mean()) if seen.any() else 0.0,
        "micro_precision": float(tp.sum() / (tp.sum() + fp.sum())) if tp.sum() + fp.sum() else 0.0,
        "micro_recall": float(tp.sum() / (tp.sum() + fn.sum())) if tp.sum() + fn.sum() else 0.0,
        "exact_set_accuracy": float((truth == pred).all(1).mean()) if n else 0.0,
        "decision_accuracy": float((truth == pred).mean()) if truth.size else 0.0,
        "mean_labels_true": float(truth.sum(1).mean()) if n else 0.0,
        "mean_labels_predicted": float(pred.sum(1).mean()) if n else 0.0,
        "per_class": {labels[i]: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                                  "support": int(tp[i] + fn[i]), "predicted": int(tp[i] + fp[i])}
                      for i in range(len(labels))},
    }


def _as_index(label: Any) -> int | None:
    if isinstance(label, bool):
        return None
    if isinstance(label, int):
        return label if label >= 0 else None
    if isinstance(label, str) and label.isdigit():
        return int(label)
    return None


def classification_metrics(truth: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (over labels present in the truth or the predictions), per-class
    precision/recall/F1/support and the confusion matrix (rows: truth, columns: prediction)."""
    k = len(labels)
    conf = np.zeros((k, k), dtype=np.int64)
    np.add.at(conf, (truth, pred), 1)
    tp = np.diag(conf).astype(np.float64)
    predicted = conf.sum(axis=0).astype(np.float64)
    support = conf.sum(axis=1).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    seen = (support > 0) | (predicted > 0)
    per_class = {labels[i]: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                             "support": int(support[i])} for i in range(k)}
    return {
        "n_texts": int(len(truth)),
        "accuracy": float((truth == pred).mean()) if len(truth) else 0.0,
        "macro_f1": float(f1[seen].mean()) if seen.any() else 0.0,
        "per_class": per_class,
        "confusion_matrix": {"labels": list(labels), "rows_truth_columns_prediction": conf.tolist()},
    }


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 (linear interpolation) and mean of latencies (NaN when there are none)."""
    if not values:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "mean": float("nan")}
    a = np.asarray(values, dtype=np.float64)
    return {"p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)),
            "p99": float(np.percentile(a, 99)), "mean": float(a.mean())}


def evaluate(clf: _Classifier, data: LabelledTexts, batch_size: int = 32,
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Classify ``data`` with ``clf`` in batches of ``batch_size`` (in file order, as a stream
    arrives) and report the metrics and the latency per batch and per text."""
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
    labels = list(clf.labels)
    multi = bool(getattr(clf, "multi_label", False))
    if multi != data.multi_label:
        raise InvalidInputError(f"{data.source} was read as {'multi' if data.multi_label else 'single'}-label data "
                                f"but the classifier is {'multi' if multi else 'single'}-label "
                                "(read_labelled(..., multi_label=clf.multi_label))")
    truth = label_matrix(data, labels) if multi else label_indices(data, labels)
    pred = np.zeros((len(data.texts), len(labels)), dtype=bool) if multi else np.empty(len(data.texts), np.int64)
    batch_ms: list[float] = []
    t_all = time.perf_counter()
    for start in range(0, len(data.texts), batch_size):
        texts = data.texts[start:start + batch_size]
        t0 = time.perf_counter()
        if data.pairs is None:
            logits = clf.run_ids(clf.encode(texts), batch_size=batch_size)
        else:
            ids, types = clf.encode_pairs(texts, data.pairs[start:start + batch_size])
            logits = clf.run_ids(ids, batch_size=batch_size, type_ids=types)
        batch_ms.append((time.perf_counter() - t0) * 1000.0)
        pred[start:start + len(texts)] = clf.decide(logits) if multi else logits.argmax(axis=1)
        if progress is not None:
            progress(len(texts))
    wall = time.perf_counter() - t_all
    report = multilabel_metrics(truth, pred, labels) if multi else classification_metrics(truth, pred, labels)
    if multi:
        report["thresholds"] = dict(zip(labels, getattr(clf, "thresholds", None) or ()))
    report["data"] = {"file": data.source, "format": data.format, "rows": len(data.texts),
                      "pairs": data.pairs is not None}
    report["latency_ms"] = {"batch_size": batch_size, "per_batch": latency_summary(batch_ms),
                            "per_text_mean": wall * 1000.0 / max(1, len(data.texts)),
                            "throughput_texts_per_s": len(data.texts) / wall if wall > 0 else float("inf")}
    log.info("evaluated %d texts from %s: %s", len(data.texts), data.source,
             f"micro-F1 {report['micro_f1']:.4f}" if multi else f"accuracy {report['accuracy']:.4f}")
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as aligned text: summary, per-class table, confusion matrix (multi-label: thresholds)."""
    if report.get("multi_label"):
        return _format_multilabel(report)
    lines = [f"{report['data']['file']}: {report['n_texts']} texts",
             f"accuracy  {report['accuracy']:.4f}   macro-F1  {report['macro_f1']:.4f}", "",
             f"{'label':<24} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
    for name, m in report["per_class"].items():
        lines.append(f"{name[:24]:<24} {m['precision']:>9.4f} {m['recall']:>9.4f} {m['f1']:>9.4f} {m['support']:>8d}")
    cm = report["confusion_matrix"]
    width = max(6, *(min(12, len(n)) for n in cm["labels"]))
    lines += ["", "confusion matrix (rows: truth, columns: prediction)",
              " " * (width + 1) + " ".join(f"{n[:width]:>{width}}" for n in cm["labels"])]
    for name, row in zip(cm["labels"], cm["rows_truth_columns_prediction"]):
        lines.append(f"{name[:width]:>{width}} " + " ".join(f"{v:>{width}d}" for v in row))
    return "\n".join(lines + ["", _latency_line(report["latency_ms"])])


def _latency_line(lat: dict[str, Any]) -> str:
    pb = lat["per_batch"]
    return (f"latency per batch of {lat['batch_size']}: p50 {pb['p50']:.2f} ms  p90 {pb['p90']:.2f} ms  "
            f"p99 {pb['p99']:.2f} ms   {lat['throughput_texts_per_s']:.1f} texts/s ({lat['per_text_mean']:.3f} ms/text)")


def _format_multilabel(report: dict[str, Any]) -> str:
    lines = [f"{report['data']['file']}: {report['n_texts']} texts (multi-label)",
             f"micro-F1  {report['micro_f1']:.4f}   macro-F1  {report['macro_f1']:.4f}   exact-set accuracy  "
             f"{report['exact_set_accuracy']:.4f}   per-decision accuracy  {report['decision_accuracy']:.4f}",
             f"labels per text: {report['mean_labels_true']:.2f} true, {report['mean_labels_predicted']:.2f} predicted",
             "", f"{'label':<24} {'threshold':>9} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8} "
                 f"{'predicted':>9}"]
    for name, m in report["per_class"].items():
        t = report.get("thresholds", {}).get(name)
        shown = f"{t:>9.4f}" if t is not None else f"{'':>9}"
        lines.append(f"{name[:24]:<24} {shown} {m['precision']:>9.4f} {m['recall']:>9.4f} {m['f1']:>9.4f} "
                     f"{m['support']:>8d} {m['predicted']:>9d}")
    return "\n".join(lines + ["", _latency_line(report["latency_ms"])])
