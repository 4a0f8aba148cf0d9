"""Pass ``quantize_openvino`` (OpenVINO targets): the shared fp32 ONNX file -> the target's precision.

fp32: unchanged (OpenVINO compiles the ONNX file as it is, f32 inference precision). int8: NNCF static
post-training quantization (``quantize.quantize_nncf_int8``) calibrated on up to CALIB_TEXTS of the
calibration texts (``--calib``, required: static int8 has no run-time activation ranges). Candidates, tried in
order until one passes the search gate (``quant_search.search_gate``: half the gate's disagreement budget) on the
calibration texts against the fp32 file, both run by OpenVINO:

1. every MatMul int8 except the [CLS]-row path (the direct graph's last-layer query, output and feed-forward
   MatMuls, pooler and classifier: one row per text, so int8 there saves no time and costs accuracy);
2. also every layer's second feed-forward MatMul fp32 (the outlier-heavy one in BERT-family models);
3. also the first feed-forward MatMul.

The chosen one is then measured once with OpenVINO on the held-out evaluation texts (the pipeline's gate decides);
the record lists every candidate and what stayed fp32.

May import: numpy, onnx, edgetext.errors, edgetext.preprocess, ..description, ..evaluation, ..gate, ..onnx_graph,
..quant_search, ..quantize, ..writers.openvino, .base.
"""
from __future__ import annotations

import re

import numpy as np

from edgetext.errors import ConversionError
from edgetext.preprocess import pad_rows

from .. import onnx_graph
from .. import quantize as recipes
from ..description import Artifact, ModelDescription
from ..evaluation import calibration_rows, measure, padded_batches, pairs_of
from ..gate import compare, problems
from ..quant_search import search_gate
from ..writers import openvino as openvino_writer
from .base import PassContext

CALIB_TEXTS = 300  # NNCF's default subset size
SCORE_BATCH = 16


def _candidates(model_path) -> list[tuple[str, list[str]]]:
    """(name, node names kept fp32) in the order tried (module docstring)."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    names = [n.name for n in model.graph.node if n.op_type == "MatMul"]
    cls_path = onnx_graph.cls_path_nodes(model)
    ffn2 = [n for n in names if re.fullmatch(r"l\d+\.ffn2\.mm", n)]
    ffn1 = [n for n in names if re.fullmatch(r"l\d+\.ffn1\.mm", n)]
    out = [("cls-path-fp32", cls_path), ("cls-path+ffn2-fp32", sorted(set(cls_path + ffn2))),
           ("cls-path+ffn-fp32", sorted(set(cls_path + ffn2 + ffn1)))]
    seen, unique = set(), []
    for name, kept in out:
        if tuple(kept) not in seen:
            seen.add(tuple(kept))
            unique.append((name, kept))
    return unique


def quantize_openvino(desc: ModelDescription, ctx: PassContext) -> ModelDescription:
    assert desc.artifact is not None and ctx.target is not None, "quantize_openvino runs on a written ONNX file"
    src, p, t = desc.artifact.path, ctx.precision, ctx.target
    if p == "fp32":
        ctx.record("quantize_openvino", None, method="none")
        return desc
    assert p == "int8", p  # targets.WRITABLE["openvino"]: the target refuses any other precision up front
    if not ctx.calib_texts:
        raise ConversionError(f"{t.name} int8 is static (NNCF) and needs calibration texts: pass --calib FILE "
                              "(a few hundred texts like the ones the model will see), or --precision fp32")
    ids, types = calibration_rows(desc.tokenizer, ctx.calib_texts[:CALIB_TEXTS], ctx.max_length, pairs_of(ctx.eval))
    samples = [pad_rows([row], desc.tokenizer.pad_id, type_rows=None if types is None else [types[k]])
               for k, row in enumerate(ids)]
    batches = padded_batches(ids, desc.tokenizer.pad_id, SCORE_BATCH, types=types)

    def logits(path) -> np.ndarray:
        run = openvino_writer.runner(desc, path, p)
        return np.concatenate([run(b) for b in batches])

    ref = logits(src)
    gate = search_gate(ctx.options.gate)
    tried, chosen = [], None
    for name, kept in _candidates(src):
        dst = ctx.path("openvino", f"{t.name}.{name}.onnx")
        q = recipes.quantize_nncf_int8(src, dst, samples, ignored=kept)
        m = compare(ref, logits(dst), task=desc.task)
        ok = not problems(m, "int8", gate)
        tried.append({"name": name, "kept_fp32": len(q["kept_fp32"]), "passes_on_calib": ok,
                      "calib_top1_agreement": m.get("top1_agreement"), "calib_mean_cosine": m.get("mean_cosine"),
                      "calib_max_abs_logit_diff": m.get("max_abs_logit_diff")})
        chosen = (name, dst, q)
        if ok:
            break
    assert chosen is not None
    name, dst, q = chosen
    q = dict(q, chosen=name, candidates=tried,
             search={"calibration_texts": len(ids), "criterion": "the gate's rules on the calibration texts vs the "
                     "fp32 file, both run by OpenVINO, half the gate's disagreement budget"})
    art = Artifact(dst, "int8", q)
    if ctx.eval is not None:
        art.logits, art.metrics = measure(ctx.eval, openvino_writer.runner(desc, dst, p))
    desc.artifact = art
    ctx.record("quantize_openvino", f"quantize {t.name}: NNCF static int8 ({name}, {len(q['kept_fp32'])} MatMul(s) "
               f"fp32) on {len(samples)} calibration texts",
               **{k: v for k, v in q.items() if k != "candidates"})
    return desc
