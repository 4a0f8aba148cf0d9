"""Pass ``quantize_openvino`` (OpenVINO targets): the shared fp32 ONNX file -> the target's precision.

fp32: unchanged (OpenVINO compiles the ONNX file as it is, f32 inference precision). int8: NNCF static
post-training quantization (``quantize.quantize_nncf_int8``) calibrated on up to CALIB_TEXTS of the
calibration texts (``--calib``, required: static int8 has no run-time activation ranges), then measured once
with OpenVINO on the held-out evaluation texts (the pipeline's gate decides). Unlike the ONNX Runtime
targets there is no mixed-precision search yet: a model that misses the gate is refused with the numbers.

May import: edgetext.errors, edgetext.preprocess, ..description, ..evaluation, ..quantize, ..writers.openvino,
.base.
"""
from __future__ import annotations

from edgetext.errors import ConversionError
from edgetext.preprocess import pad_rows

from .. import quantize as recipes
from ..description import Artifact, ModelDescription
from ..evaluation import measure
from ..writers import openvino as openvino_writer
from .base import PassContext

CALIB_TEXTS = 300  # NNCF's default subset size


def quantize_openvino(desc: ModelDescription, ctx: PassContext) -> ModelDescription:
    assert desc.artifact is not None and ctx.target is not None, "quantize_openvino runs on a written ONNX file"
    src, p, t = desc.artifact.path, ctx.precision, ctx.target
    if p == "fp32":
        ctx.record("quantize_openvino", None, method="none")
        return desc
    if p != "int8":
        raise ConversionError(f"{t.name} writes int8 or fp32, not {p}")
    if not ctx.calib_texts:
        raise ConversionError(f"{t.name} int8 is static (NNCF) and needs calibration texts: pass --calib FILE "
                              "(a few hundred texts like the ones the model will see), or --precision fp32")
    ids = desc.tokenizer.encoder().encode_batch(ctx.calib_texts[:CALIB_TEXTS], ctx.max_length)
    samples = [pad_rows([row], desc.tokenizer.pad_id) for row in ids]
    dst = ctx.path("openvino", f"{t.name}.int8.onnx")
    q = recipes.quantize_nncf_int8(src, dst, samples)
    art = Artifact(dst, "int8", q)
    if ctx.eval is not None:
        art.logits, art.metrics = measure(ctx.eval, openvino_writer.runner(desc, dst, p))
    desc.artifact = art
    ctx.record("quantize_openvino", f"quantize {t.name}: NNCF static int8 on {len(samples)} calibration texts",
               **{k: v for k, v in q.items()})
    return desc
