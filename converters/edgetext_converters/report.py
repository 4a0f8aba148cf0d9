"""The conversion report: the dict ``convert()`` returns (and the manifest keeps under ``report``),
its pieces, and the table ``edgetext convert`` prints.

May import: numpy, the standard library, .description, .passes.base, .tokenizer_assets (types).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .tokenizer_assets import Encoder

if TYPE_CHECKING:
    from .description import ModelDescription
    from .passes.base import PassContext

#: the metrics of gate.compare() a model's accuracy entry keeps
METRIC_KEYS = ("max_abs_logit_diff", "max_abs_logit_diff_vs_fp32_graph", "mean_abs_logit_diff", "top1_agreement",
               "accuracy", "reference_accuracy", "accuracy_drop_points", "n_texts", "non_finite",
               "mean_cosine", "min_cosine", "retrieval_top1_agreement", "mean_cosine_vs_fp32_graph", "max_abs_diff",
               "top1_agreement_vs_fp32_graph", "label_decision_agreement", "label_set_agreement", "max_abs_prob_diff",
               "label_decision_agreement_vs_fp32_graph", "micro_f1", "macro_f1", "reference_micro_f1",
               "reference_macro_f1")


def metrics_entry(m: dict, reference: str) -> dict:
    out = {k: m[k] for k in METRIC_KEYS if k in m}
    out["reference"] = reference
    return out


def conversion_report(src: str | os.PathLike, desc: "ModelDescription", ctx: "PassContext", vocab_before: int,
                      positions: int | None, graph_metrics: dict, trim: dict | None, targets: dict[str, dict]) -> dict:
    """The report of one conversion (the manifest's ``report``; convert() adds timings and the bundle path)."""
    ev = ctx.eval
    assert ev is not None
    return {
        "source": {"kind": desc.source_kind, "path": str(src), "size_bytes": desc.source_size,
                   "size_mb": round(desc.source_size / 1e6, 3), "reference": desc.reference_name},
        "labels": list(desc.labels),
        "task": desc.task,
        "embedding": desc.embedding if desc.is_embedding else None,
        "max_length": ctx.max_length,
        "positions_before": positions,
        "tokenizer": {"vocab_before": vocab_before, "vocab_after": desc.tokenizer.vocab_size, "encoder": Encoder.kind},
        "trim": trim,
        "prune": ctx.result("prune"),
        "passes": ctx.summaries(),
        "notes": list(desc.notes),
        "eval": {"n_texts": len(ev.texts), "source": ev.source, "labelled": ev.targets is not None,
                 "reference_accuracy": graph_metrics.get("reference_accuracy"),
                 **({"reference_micro_f1": graph_metrics.get("reference_micro_f1"),
                     "reference_macro_f1": graph_metrics.get("reference_macro_f1")} if desc.multi_label else {})},
        "multi_label": desc.multi_label,
        "graph_after_passes": clean(graph_metrics),
        "targets": targets,
        "sizes_mb": {t: round(row["size_bytes"] / 1e6, 3) for t, row in targets.items()},
    }


def clean(obj: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/Inf to None."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def tree_size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def format_table(report: dict) -> str:
    """One row per target (and the source), then bundle, vocabulary, evaluation and warning lines."""
    # "vs source": max |logit diff| against the source framework (includes trimming's [UNK]s on uncovered texts);
    # "vs graph": against the fp32 graph after the passes, i.e. what quantization/export alone changed.
    rows = [("target", "file", "precision", "size MB", "vs source", "vs graph", "agree", "accuracy", "verified")]
    src = report.get("source", {})
    ref_acc = (report.get("eval") or {}).get("reference_accuracy")
    rows.append(("source", src.get("kind", ""), "fp32", f"{src.get('size_mb', 0):.2f}", "-", "-", "-",
                 f"{100 * ref_acc:.2f}%" if ref_acc is not None else "-", src.get("reference", "")))
    if report.get("task") == "text-embedding":
        return _embedding_table(report)
    if isinstance(report.get("multi_label"), dict):
        return _multi_label_table(report)
    for t, r in (report.get("targets") or {}).items():
        acc = r.get("accuracy")
        rows.append((t, r.get("file", ""), r.get("precision", ""), f"{r.get('size_bytes', 0) / 1e6:.2f}",
                     f"{r['max_abs_logit_diff']:.2e}" if r.get("max_abs_logit_diff") is not None else "not run",
                     f"{r['max_abs_logit_diff_vs_fp32_graph']:.2e}"
                     if r.get("max_abs_logit_diff_vs_fp32_graph") is not None else "-",
                     f"{r['top1_agreement']:.3f}" if r.get("top1_agreement") is not None else "-",
                     f"{100 * acc:.2f}%" if acc is not None else "-", _verified_cell(r)))
    lines = _aligned(rows)
    tok = report.get("tokenizer", {})
    extra = [f"bundle: {report.get('bundle')} ({report.get('bundle_size_mb')} MB)",
             f"vocab: {tok.get('vocab_before')} -> {tok.get('vocab_after')} tokens; max_length "
             f"{report.get('max_length')} (positions {report.get('positions_before')})",
             f"eval: {(report.get('eval') or {}).get('n_texts')} texts from {(report.get('eval') or {}).get('source')}"]
    prune = report.get("prune")
    if prune:
        line = next((p for p in report.get("passes", []) if p.startswith("prune:")), None)
        if line:
            extra.append(line)
    trim = report.get("trim") or {}
    if trim.get("eval_texts_covered") is not None:
        extra.append(f"trim: {trim['eval_texts_covered']} eval texts fully covered by the kept vocabulary: max "
                     f"|logit diff| {trim.get('covered_max_abs_logit_diff')}, ids identical: "
                     f"{trim.get('covered_ids_identical')}")
    return "\n".join(lines + [""] + extra + _target_lines(report, _calib_score))


def _embedding_table(report: dict) -> str:
    """format_table for an embedding bundle: cosine to the reference and retrieval agreement per target."""
    def f(v, fmt):
        return format(v, fmt) if v is not None else "-"

    src = report.get("source", {})
    rows = [("target", "file", "precision", "size MB", "mean cos", "min cos", "retrieval top-1", "verified"),
            ("source", src.get("kind", ""), "fp32", f"{src.get('size_mb', 0):.2f}", "-", "-", "-",
             src.get("reference", ""))]
    for t, r in (report.get("targets") or {}).items():
        rows.append((t, r.get("file", ""), r.get("precision", ""), f"{r.get('size_bytes', 0) / 1e6:.2f}",
                     f(r.get("mean_cosine"), ".6f") if r.get("mean_cosine") is not None else "not run",
                     f(r.get("min_cosine"), ".4f"), f(r.get("retrieval_top1_agreement"), ".3f"), _verified_cell(r)))
    lines = _aligned(rows)
    emb, ev = report.get("embedding") or {}, report.get("eval") or {}
    extra = [f"bundle: {report.get('bundle')} ({report.get('bundle_size_mb')} MB)",
             f"embedding: dim {emb.get('dim')}, {emb.get('pooling')} pooling, normalize {emb.get('normalize')}; "
             f"max_length {report.get('max_length')}",
             f"eval: {ev.get('n_texts')} texts from {ev.get('source')} (cosine to the {src.get('reference')} "
             "reference; retrieval: each text's nearest other text identical)"]
    return "\n".join(lines + [""] + extra + _target_lines(
        report, lambda c: f"calib mean cos {c.get('calib_mean_cosine') or 0:.5f}, "))


def _multi_label_table(report: dict) -> str:
    """format_table for a multi-label bundle: per-label decision and label-set agreement, micro/macro-F1 per
    target, then the thresholds and how they were chosen."""
    def f(v, fmt):
        return format(v, fmt) if v is not None else "-"

    src, ev = report.get("source", {}), report.get("eval") or {}
    rows = [("target", "file", "precision", "size MB", "vs source", "decisions", "label sets", "micro-F1",
             "macro-F1", "verified"),
            ("source", src.get("kind", ""), "fp32", f"{src.get('size_mb', 0):.2f}", "-", "-", "-",
             f(ev.get("reference_micro_f1"), ".4f"), f(ev.get("reference_macro_f1"), ".4f"), src.get("reference", ""))]
    for t, r in (report.get("targets") or {}).items():
        rows.append((t, r.get("file", ""), r.get("precision", ""), f"{r.get('size_bytes', 0) / 1e6:.2f}",
                     f(r.get("max_abs_logit_diff"), ".2e") if r.get("max_abs_logit_diff") is not None else "not run",
                     f(r.get("label_decision_agreement"), ".4f"), f(r.get("label_set_agreement"), ".3f"),
                     f(r.get("micro_f1"), ".4f"), f(r.get("macro_f1"), ".4f"), _verified_cell(r)))
    lines = _aligned(rows)
    ml = report["multi_label"]
    tuning = ml.get("tuning") or {}
    how = "0.5 each (default)" if tuning.get("method") != "tuned" else \
        f"tuned on {tuning.get('file')} ({tuning.get('rows')} rows, {tuning.get('metric')})"
    extra = [f"bundle: {report.get('bundle')} ({report.get('bundle_size_mb')} MB)",
             f"multi-label: a sigmoid per label; thresholds {how}:",
             "  " + ", ".join(f"{lab} {th:.3g}" for lab, th in zip(report.get("labels") or [], ml["thresholds"])),
             f"eval: {ev.get('n_texts')} texts from {ev.get('source')} (decisions: (text, label) decisions equal to "
             "the reference's; label sets: texts whose whole set is equal)"]
    if ml.get("reference"):
        r0 = ml["reference"]
        extra.append(f"reference at these thresholds: micro-F1 {r0['micro_f1']:.4f}, macro-F1 {r0['macro_f1']:.4f}, "
                     f"exact-set {r0['exact_set_accuracy']:.4f}; at 0.5: micro-F1 {r0['at_0.5']['micro_f1']:.4f}, "
                     f"macro-F1 {r0['at_0.5']['macro_f1']:.4f} ({r0['on']})")
    return "\n".join(lines + [""] + extra + _target_lines(report, lambda c: ""))


def _aligned(rows: list[tuple]) -> list[str]:
    """Rows as left-aligned columns, a dashed rule under the header row."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _target_lines(report: dict, score) -> list[str]:
    """Per target: one line per int8 candidate the search tried (``score(candidate)``: the task's calibration
    figures, ending in ", " when not empty), then the warning of a target written despite the gate."""
    out = []
    for t, r in (report.get("targets") or {}).items():
        q = r.get("quantization") or {}
        for c in q.get("candidates") or []:  # the int8 search (quant_search.py): every recipe and mix tried
            out.append(f"{t} int8 candidate{' (chosen)' if c.get('name') == q.get('chosen') else ''}: "
                       f"{c.get('name')}: {score(c)}{c.get('size_mb')} MB")
        if r.get("waived"):
            out.append(f"WARNING {t}: written despite: {'; '.join(r['waived'])}")
    return out


def _calib_score(c: dict) -> str:
    """A classification candidate's calibration score (whichever it has) and max |logit diff|."""
    score = next((f"{k} {c[f'calib_{k}']:.3f}" for k in ("label_decision_agreement", "mean_cosine", "top1_agreement")
                  if c.get(f"calib_{k}") is not None), "calib score n/a")
    diff = c.get("calib_max_abs_logit_diff")
    return f"calib {score}" + (f", max |diff| {diff:.3g}" if diff is not None else "") + ", "


def _verified_cell(r: dict) -> str:
    """yes / no, and for a model measured with other kernels how (cross, emulated)."""
    if r.get("verified"):
        return "yes"
    mode = (r.get("verification") or {}).get("mode")
    return f"no ({mode.replace('_', ' ')})" if mode in ("cross", "emulated", "not_run") else "no"
