"""Pass ``quantize`` (ONNX targets): the writer's fp32 file -> the target's precision.

fp32: unchanged. fp16: ``quantize.to_fp16``. int8:

- with calibration texts (``--calib``): the full-int8 recipes (dynamic QInt8 per-channel and
  per-tensor; static QDQ with minmax / percentile / entropy calibration unless ``static_quant`` is
  False) go to ``quant_search.search``, which scores them on the calibration texts against the fp32
  graph and, when the best misses the gate there, keeps the most sensitive nodes in higher precision
  until it holds (first as int8 with their few largest input channels split into a thin fp32 MatMul,
  ``outliers.py``, calibrated on the same texts; then fp16-stored weights with fp32 compute); the chosen model
  is then measured once on the held-out evaluation texts (the gate in the pipeline decides);
- without: dynamic QInt8 per-channel, unsearched (the refusal then says to pass ``--calib``). An embedding
  model whose dynamic int8 misses the cosine gate on the evaluation texts gets the more precise recipe
  instead, weight-only int8 (``quantize_weight_only_int8``: MatMulNBits, 8-bit blocks of 32, accuracy level 4),
  which the gate then measures the same way; nothing is tuned on those texts (two fixed recipes, the cheaper
  first), and the record says why (``fallback_from``).

``reduce_range`` comes from the target (``targets.py``): an x86 file must be safe on CPUs without VNNI,
whose U8S8 kernel saturates with 8-bit weights (docs/environment.md, CPU); measured on this VNNI host it
costs no agreement (bench/quantization.py). The artifact's quantization record keeps the recipe, what
was kept in higher precision and why (per-node sensitivities), and every candidate tried.

May import: ..description, ..evaluation, ..gate, ..quant_search, ..quantize, ..report, ..writers.onnx, ..targets,
.base.
"""
from __future__ import annotations

import logging
from pathlib import Path

from .. import quantize as recipes
from edgetext.preprocess import pad_rows

from ..description import Artifact, ModelDescription
from ..evaluation import calibration_rows, measure, padded_batches, pairs_of
from ..gate import problems
from ..quant_search import search, search_gate
from ..targets import Target
from ..writers import onnx as onnx_writer
from .base import PassContext

log = logging.getLogger(__name__)
CALIB_TEXTS = 1024  # scored against the fp32 graph (the search's gate)
CALIB_BATCH = 16
STATIC_BATCHES = 8  # calibration batches ORT's static calibrators see (histograms are slow)
#: ORT's static calibrators keep every intermediate tensor of every calibration batch in memory, padded to one
#: length: at 512 tokens that peaked at 17.8 GB for a 4-layer, 192-hidden student (attention probabilities are
#: rows x heads x length^2). Their rows are tokenized to at most this many tokens (the ranges of the first 128
#: positions set the scales of all).
STATIC_MAX_LENGTH = 128
SENSITIVITY_SHOWN = 12  # most sensitive nodes listed in the record


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
    art = _searched(desc, ctx, t, src) if ctx.calib_texts else _unsearched(ctx, t, src)
    if ctx.eval is not None:  # without evaluation texts (direct use) the pipeline measures nothing either
        art.logits, art.metrics = measure(ctx.eval, onnx_writer.runner(desc, art.path, p))
        if desc.is_embedding and not ctx.calib_texts and problems(art.metrics, p, ctx.options.gate):
            art = _embedding_fallback(desc, ctx, t, src, art)
    desc.artifact = art
    q = art.quantization or {}
    kept = q.get("kept_higher_precision") or []  # report["passes"] names the search's change, if it made one
    ctx.record("quantize", f"quantize {t.name}: {q['chosen']}, {len(kept)} node(s) kept in higher precision"
               if kept else None,
               **{k: v for k, v in q.items() if k not in ("candidates", "sensitivity")})
    return desc


def _unsearched(ctx: PassContext, t: Target, src: Path) -> Artifact:
    dst = ctx.path("onnx", f"{t.name}.dynamic.onnx")
    q = recipes.quantize_dynamic_int8(src, dst, reduce_range=_reduce_range(t))
    q["search"] = "none: no calibration texts (pass --calib to let the converter search when the gate refuses)"
    return Artifact(dst, "int8", q)


def _embedding_fallback(desc: ModelDescription, ctx: PassContext, t: Target, src: Path, dynamic: Artifact
                        ) -> Artifact:
    """Weight-only int8 for an embedding model whose dynamic int8 the cosine gate refuses (module docstring)."""
    assert ctx.eval is not None and dynamic.metrics is not None
    dst = ctx.path("onnx", f"{t.name}.weight-only.onnx")
    q = recipes.quantize_weight_only_int8(src, dst, accuracy_level=4)
    q["search"] = "none: no calibration texts"
    cos = dynamic.metrics.get("mean_cosine")
    q["fallback_from"] = {"method": "dynamic", "mean_cosine": cos,
                          "why": "refused by the cosine gate on the evaluation texts"}
    art = Artifact(dst, "int8", q)
    art.logits, art.metrics = measure(ctx.eval, onnx_writer.runner(desc, dst, "int8"))
    desc.notes.append(f"{t.name}: dynamic int8 mean cosine {cos:.5f} missed the gate: weight-only int8 written "
                      f"(mean cosine {art.metrics.get('mean_cosine', float('nan')):.5f})")
    log.info("%s: dynamic int8 refused (mean cosine %.5f): weight-only int8", t.name, cos)
    return art


def _reduce_range(t: Target) -> bool:
    return bool(t.options.get("reduce_range", False))


def _searched(desc: ModelDescription, ctx: PassContext, t: Target, src: Path) -> Artifact:
    import onnx

    assert ctx.calib_texts is not None
    rr = _reduce_range(t)
    ids, types = calibration_rows(desc.tokenizer, ctx.calib_texts[:CALIB_TEXTS], ctx.max_length, pairs_of(ctx.eval))
    batches = padded_batches(ids, desc.tokenizer.pad_id, CALIB_BATCH, types=types)
    # ORT's histogram calibrators need one sequence length across batches: pad the static ones alike
    k = STATIC_BATCHES * CALIB_BATCH
    s_ids, s_types = ids, types
    if ctx.max_length is not None and ctx.max_length > STATIC_MAX_LENGTH:
        s_ids, s_types = calibration_rows(desc.tokenizer, ctx.calib_texts[:k], STATIC_MAX_LENGTH, pairs_of(ctx.eval))
    same = pad_rows(s_ids[:k], desc.tokenizer.pad_id, type_rows=None if s_types is None else s_types[:k])
    static = [{r: a[i:i + CALIB_BATCH] for r, a in same.items()} for i in range(0, len(same["input_ids"]), CALIB_BATCH)]
    records: dict[str, dict] = {}
    bases: dict[str, onnx.ModelProto] = {}

    def add(name: str, make) -> None:
        dst = ctx.path("onnx", f"{t.name}.{name}.onnx")
        try:
            records[name] = make(dst)
        except Exception as e:  # noqa: BLE001  (ORT's quantizers fail in many ways; the others stay)
            why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
            desc.notes.append(f"{t.name}: {name} quantization failed ({why})")
            log.info("%s: %s quantization failed", t.name, name, exc_info=True)
            return
        bases[name] = onnx.load(str(dst))

    add("dynamic-per-channel", lambda d: recipes.quantize_dynamic_int8(src, d, rr, per_channel=True))
    add("dynamic-per-tensor", lambda d: recipes.quantize_dynamic_int8(src, d, rr, per_channel=False))
    if ctx.options.static_quant is not False:
        for method in recipes.STATIC_METHODS:
            add(f"static-{method}", lambda d, m=method: recipes.quantize_static_int8(
                src, d, rr, static, method=m))

    def outliers() -> "onnx.ModelProto | None":
        """The keep form the search tries first (quant_search, step 3); built only if the search gets there."""
        if "dynamic-per-channel" not in bases:
            return None
        dst = ctx.path("onnx", f"{t.name}.outliers.onnx")
        try:
            records["dynamic+outliers"] = recipes.quantize_dynamic_outliers(src, dst, rr, batches)
        except Exception as e:  # noqa: BLE001  (as above: the search goes on without this keep form)
            desc.notes.append(f"{t.name}: outlier-channel split failed ({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})")
            log.info("%s: outlier-channel split failed", t.name, exc_info=True)
            return None
        return onnx.load(str(dst))

    res = search(onnx.load(str(src)), bases, batches, ctx.options.gate, outliers=outliers, task=desc.task)
    dst = ctx.path("onnx", f"{t.name}.int8.onnx")
    onnx.save(res.model, str(dst))
    q = dict(records[res.base])
    if res.outlier_split:
        q["method"] = f"{q['method']}+outlier-channels"
        q["outlier_channels"] = dict(records["dynamic+outliers"]["outlier_channels"], split=res.outlier_split)
    if any(k["kept_as"] != "int8+fp32-outlier-channels" for k in res.kept):
        q["method"] = f"{q['method']}+kept"
    top = sorted(res.sensitivity.items(), key=lambda kv: -kv[1])[:SENSITIVITY_SHOWN]
    q.update({
        "chosen": res.chosen,
        "kept_higher_precision": res.kept,
        "search": {"calibration_texts": len(ids), "ranking_texts": sum(len(b["input_ids"]) for b in batches[:4]),
                   "trials": len(res.trials), "seconds": round(res.seconds, 1),
                   "criterion": (("the gate's rules on the calibration texts vs the fp32 graph, mean cosine >= "
                                  f"{search_gate(ctx.options.gate).min_cosine:.4f} (half the gate's budget)")
                                 if desc.is_embedding else
                                 ("the gate's rules on the calibration texts vs the fp32 graph, agreement >= "
                                  f"{search_gate(ctx.options.gate).min_agreement:.4f} (half the gate's "
                                  "disagreement budget)")),
                   "notes": res.notes},
        "sensitivity": {"metric": "mean squared logit diff vs the fp32 graph, node quantized alone",
                        "most_sensitive": dict(top)},
        "candidates": [tr.row() for tr in res.trials],
    })
    return Artifact(dst, "int8", q)
