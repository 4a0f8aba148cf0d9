"""Pass ``prune`` (``--prune``, issue 8): width-prune every encoder layer, recover by distillation, re-lower.

1. The distillation texts are the unlabelled in-domain texts the conversion already has: the ``--trim-vocab``
   corpus and the ``--calib`` texts (de-duplicated, evaluation texts removed). 5% of them (at most 500) are
   held back to measure how close the student gets to the teacher, before and after distillation.
2. Importance (``distill.importance``) of every head and FFN neuron on up to 2,048 of the texts, with the
   unpruned model; ``pruning.plan`` keeps the most important ones, the same count in every layer.
3. ``pruning.slice_weights`` cuts the arrays; ``distill.distill`` trains the narrower model towards the unpruned
   one (soft logits + every layer's output).
A Paddle inference model has no weights by name: ``paddle_weights.weights_from_graph`` reads them back from its
program first (and proves the rebuilt model computes the graph's logits).

4. The pruned weights replace the description's and are lowered again (``lower_to_graph`` + ``normalize_io``),
   so every later pass and target sees an ordinary, narrower model. The reference stays the unpruned source:
   the gate measures the pruned model (and its int8 files) against what the user trained.

The record (``report["prune"]``) lists heads and neurons kept per layer, parameters before/after, the
distillation settings, steps and time, and the student's agreement / logit error against the teacher on the
held-back texts before and after distillation.

May import: numpy, edgetext.errors, ..description, ..pruning, ..distill (paddle), ..paddle_ernie,
..paddle_weights, ..paddle_graph, .base, .lowering, .normalize.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

from edgetext.errors import ConversionError

from ..description import ModelDescription
from ..pruning import PruneSpec, from_latency, parameter_count, plan, slice_weights
from .base import PassContext, run_passes
from .lowering import lower_to_graph
from .normalize import normalize_io

log = logging.getLogger(__name__)

MIN_TEXTS = 64  # fewer unlabelled texts cannot recover a pruned model (and cannot measure it)
IMPORTANCE_TEXTS = 2048
HELD_BACK = 0.05
MAX_HELD_BACK = 500
DISTILL_MAX_LENGTH = 128  # distillation cost grows with length; classifiers' texts rarely need more


def distillation_texts(ctx: PassContext) -> list[str]:
    """``--trim-vocab`` corpus + ``--calib`` texts, de-duplicated in order, with the evaluation texts removed."""
    held_out = set(ctx.eval.texts) if ctx.eval is not None else set()
    seen: set[str] = set()
    out = []
    for t in (ctx.trim_texts or []) + (ctx.calib_texts or []):
        t = t.strip()
        if t and t not in seen and t not in held_out:
            seen.add(t)
            out.append(t)
    return out


def prune(desc: ModelDescription, ctx: PassContext) -> ModelDescription:
    opts = ctx.options
    if opts.prune is None:
        ctx.record("prune", None, skipped="no --prune")
        return desc
    if desc.is_embedding:
        raise ConversionError("--prune is for classifiers; embedding models cannot be pruned yet (their gate is "
                              "cosine similarity, which distillation of logits does not target)")
    if desc.weights is None or desc.config is None:  # a Paddle inference model: read its weights back
        from ..paddle_weights import weights_from_graph

        desc = weights_from_graph(desc)
    assert desc.weights is not None and desc.config is not None
    source_weights = desc.weights
    texts = distillation_texts(ctx)
    if len(texts) < MIN_TEXTS:
        raise ConversionError(f"--prune needs at least {MIN_TEXTS} unlabelled in-domain texts to distil on (got "
                              f"{len(texts)}): pass --trim-vocab CORPUS and/or --calib TEXTS; a few thousand "
                              "recover most of the accuracy")
    spec = opts.prune
    assert isinstance(spec, PruneSpec), "ConvertOptions parses --prune into a PruneSpec"
    if spec.latency is not None:
        spec = from_latency(desc.config, spec.latency)

    import zlib  # noqa: F401  (before paddle)

    from .. import distill
    from ..paddle_ernie import ErnieForSequenceClassification
    from ..paddle_graph import dygraph_mode

    with dygraph_mode():
        cfg = desc.config
        rows = desc.tokenizer.encoder().encode_batch(texts, min(ctx.max_length or DISTILL_MAX_LENGTH,
                                                                DISTILL_MAX_LENGTH))
        rng = np.random.default_rng(opts.seed)
        order = rng.permutation(len(rows))
        n_val = min(MAX_HELD_BACK, max(16, int(HELD_BACK * len(rows))))
        val = [rows[i] for i in order[:n_val]]
        train = [rows[i] for i in order[n_val:]]
        pad = desc.tokenizer.pad_id

        teacher = _model(ErnieForSequenceClassification, cfg, desc.weights)
        heads, ffn = distill.importance(teacher, train[:IMPORTANCE_TEXTS], pad)
        keep = plan(cfg, spec, heads, ffn)
        weights, pruned_cfg = slice_weights(source_weights, cfg, keep)
        student = _model(ErnieForSequenceClassification, pruned_cfg, weights)

        t_val = distill.predict(teacher, val, pad)
        before = _closeness(t_val, distill.predict(student, val, pad))
        bar = _bar(opts.progress)
        rec = distill.distill(student, teacher, train, pad, epochs=opts.distill_epochs, seed=opts.seed,
                              progress=_ticker(bar) if bar is not None else None)
        if bar is not None:
            bar.close()
        after = _closeness(t_val, distill.predict(student, val, pad))
        new_weights = student.numpy_state_dict()

    before_params, after_params = parameter_count(source_weights), parameter_count(new_weights)
    details = {"spec": spec.describe(), **keep.as_dict(), "layers": cfg.num_hidden_layers,
               "heads_before": cfg.heads_in(0), "ffn_before": cfg.ffn_in(0),
               "parameters_before": before_params, "parameters_after": after_params,
               "distillation": rec.as_dict(), "held_back_texts": len(val),
               "vs_teacher_before_distillation": before, "vs_teacher_after_distillation": after}
    out = dataclasses.replace(desc, config=pruned_cfg, weights=new_weights, graph=None)
    ctx.record("prune", f"prune: {spec.describe()}: heads {cfg.heads_in(0)} -> {len(keep.heads[0])}, FFN "
               f"{cfg.ffn_in(0)} -> {len(keep.ffn[0])} per layer, {before_params / 1e6:.2f}M -> "
               f"{after_params / 1e6:.2f}M parameters; distilled {rec.steps} steps ({rec.seconds:.0f} s) on "
               f"{len(train)} texts: agreement with the unpruned model {before['top1_agreement']:.3f} -> "
               f"{after['top1_agreement']:.3f} on {len(val)} held-back texts", result=details, **details)
    return run_passes(out, ctx, (lower_to_graph, normalize_io))


def _model(cls, cfg, weights):
    model = cls(cfg)
    try:
        model.load_numpy_state_dict(weights)
    except (KeyError, ValueError) as e:
        raise ConversionError(f"--prune: {e}") from None
    model.eval()
    return model


def _closeness(teacher: np.ndarray, student: np.ndarray) -> dict:
    return {"top1_agreement": round(float((teacher.argmax(-1) == student.argmax(-1)).mean()), 4),
            "mean_abs_logit_diff": round(float(np.abs(teacher - student).mean()), 4)}


def _ticker(bar):
    def tick(step: int, total: int) -> None:
        bar.total = total
        bar.update(1)
    return tick


def _bar(enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(desc="distil", unit="step", leave=False, dynamic_ncols=True)


__all__ = ["PruneSpec", "distillation_texts", "prune"]
