"""Accuracy gate: a converted model against its reference on held-out texts.

Metrics: max |logit diff|, top-1 agreement, accuracy (with labels) and its drop, NaN/Inf count.
Refusal rules (:func:`check`), unless ``allow_accuracy_drop``:
- any non-finite logit, or a wrong output shape (always refused: garbage is never allowed);
- fp32 targets: max |logit diff| above ``fp32_atol`` x max(1, max |reference logit|)
  (an fp32 conversion must be exact: more means a conversion bug);
- any target: top-1 agreement below ``min_agreement``;
- with labels: accuracy more than ``max_accuracy_drop`` points below the reference's;
- int8/fp16: max |logit diff| above ``max_rel_diff`` x the spread (std) of the reference logits
  (catches scaled/garbage logits whose argmax happens to survive).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgetext.errors import AccuracyGateError


@dataclass
class GateConfig:
    max_accuracy_drop: float = 1.0  # points (percent)
    min_agreement: float = 0.95
    fp32_atol: float = 1e-3
    max_rel_diff: float = 1.0
    allow_accuracy_drop: bool = False


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


def problems(m: dict, precision: str, cfg: GateConfig) -> list[str]:
    """What is wrong with a target's metrics (empty: it passes)."""
    if not m.get("shape_ok", False):
        return [f"output shape {m.get('shape')} differs from the reference's {m.get('expected_shape')}"]
    out = []
    if m["non_finite"]:
        out.append(f"{m['non_finite']} NaN/Inf logits")
    diff = m.get("max_abs_logit_diff_vs_fp32_graph", m["max_abs_logit_diff"])
    if precision == "fp32":
        lim = cfg.fp32_atol * max(1.0, m["reference_max_abs_logit"])
        if diff > lim:
            out.append(f"max |logit diff| {diff:.3g} exceeds the fp32 tolerance {lim:.3g}")
    elif precision != "trimmed":  # a trimmed vocabulary changes uncovered texts: agreement/accuracy decide
        lim = cfg.max_rel_diff * max(m["reference_logit_std"], 1e-6)
        if diff > max(lim, 1e-3):
            out.append(f"max |logit diff| {diff:.3g} is more than {cfg.max_rel_diff:g}x the "
                       f"reference logit spread ({m['reference_logit_std']:.3g}): garbage output")
    if m["top1_agreement"] < cfg.min_agreement:
        out.append(f"top-1 agreement {m['top1_agreement']:.3f} is below {cfg.min_agreement:g}")
    if "accuracy" in m and m["accuracy_drop_points"] > cfg.max_accuracy_drop:
        out.append(f"accuracy {100 * m['accuracy']:.2f}% is {m['accuracy_drop_points']:.2f} points below the "
                   f"reference's {100 * m['reference_accuracy']:.2f}% (limit {cfg.max_accuracy_drop:g})")
    return out


def check(target: str, m: dict, precision: str, cfg: GateConfig) -> list[str]:
    """Raise AccuracyGateError for refused targets; return the waived problems otherwise."""
    found = problems(m, precision, cfg)
    if not found:
        return []
    hard = [p for p in found if "NaN" in p or "shape" in p]
    if hard or not cfg.allow_accuracy_drop:
        raise AccuracyGateError(f"accuracy gate refused {target} ({precision}): " + "; ".join(found)
                                + ("" if hard else " (use --allow-accuracy-drop to write it anyway)"))
    return found
