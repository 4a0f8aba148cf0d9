"""Pass ``quantize`` (ONNX targets): the writer's fp32 file -> the target's precision.

fp32: unchanged. fp16: ``quantize.to_fp16``. int8: the candidates are dynamic QInt8 and, with
calibration texts (and ``static_quant`` not False), static QDQ; each is measured on the evaluation
texts and the best one kept: first one that passes the gate, then accuracy, agreement, smallest
max |logit diff|. The kept artifact's quantization record lists every candidate's metrics.

This is where a quantization search goes (issue 8): add recipes to ``quantize.py`` and candidates
here; the gate and the report already take whatever is chosen.

May import: ..description, ..evaluation, ..gate, ..quantize, ..report, ..writers.onnx, .base.
"""
from __future__ import annotations

import logging
from pathlib import Path

from .. import quantize as recipes
from ..description import Artifact, ModelDescription
from ..evaluation import measure, padded_batches
from ..gate import problems
from ..report import metrics_entry
from ..writers import onnx as onnx_writer
from ..targets import Target
from .base import PassContext

log = logging.getLogger(__name__)
CALIB_TEXTS = 256
CALIB_BATCH = 16


def quantize(desc: ModelDescription, ctx: PassContext) -> ModelDescription:
    assert desc.artifact is not None and ctx.target is not None, "quantize runs on a written ONNX file"
    src, p, t = desc.artifact.path, ctx.precision, ctx.target
    if p == "fp32":
        ctx.record("quantize", None, method="none")
        return desc
    if p == "fp16":
        dst = ctx.path("onnx", f"{t.name}.fp16.onnx")
        q = recipes.to_fp16(src, dst)
        desc.artifact = Artifact(dst, p, q)
        ctx.record("quantize", None, **q)
        return desc
    candidates = _int8_candidates(desc, ctx, t, src)
    measured = [Artifact(path, p, q) for path, q in candidates]
    methods = {id(a): q["method"] for a, (_, q) in zip(measured, candidates)}
    if ctx.eval is not None:  # without evaluation texts (direct use) the first candidate is kept unmeasured
        for a in measured:
            a.logits, a.metrics = measure(ctx.eval, onnx_writer.runner(desc, a.path, p))
    if len(measured) > 1 and ctx.eval is not None:
        gate = ctx.options.gate

        def score(a: Artifact) -> tuple:
            m = a.metrics or {}
            return not problems(m, p, gate), m.get("accuracy", 0.0), m["top1_agreement"], -m["max_abs_logit_diff"]

        measured.sort(key=score, reverse=True)
        best = measured[0]
        best.quantization = dict(best.quantization or {})
        best.quantization["candidates"] = {methods[id(a)]: metrics_entry(a.metrics or {}, desc.reference_name)
                                           for a in measured}
    desc.artifact = measured[0]
    ctx.record("quantize", None, **{k: v for k, v in (measured[0].quantization or {}).items() if k != "candidates"},
               candidates=[methods[id(a)] for a in measured])
    return desc


def _int8_candidates(desc: ModelDescription, ctx: PassContext, t: Target, src: Path) -> list[tuple[Path, dict]]:
    rr = bool(t.options.get("reduce_range", False))
    dyn = ctx.path("onnx", f"{t.name}.dynamic.onnx")
    out = [(dyn, recipes.quantize_dynamic_int8(src, dyn, reduce_range=rr))]
    if ctx.calib_texts and ctx.options.static_quant is not False:
        st = ctx.path("onnx", f"{t.name}.static.onnx")
        ids = desc.tokenizer.encoder().encode_batch(ctx.calib_texts[:CALIB_TEXTS], ctx.max_length)
        batches = padded_batches(ids, desc.tokenizer.pad_id, CALIB_BATCH)
        try:
            out.append((st, recipes.quantize_static_int8(src, st, rr, batches)))
        except Exception as e:  # noqa: BLE001  (ORT's static quantizer fails in many ways; dynamic stays)
            why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
            desc.notes.append(f"{t.name}: static QDQ quantization failed ({why}); dynamic kept")
            log.info("%s: static QDQ quantization failed", t.name, exc_info=True)
    return out
