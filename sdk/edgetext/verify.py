"""Golden-prediction checks: every model of a bundle that this host can run must reproduce
the bundle's golden labels, and scores within a per-precision tolerance (embedding bundles: the
golden embeddings, cosine within edgetext.embedder.COSINE_TOLERANCE).

    edgetext.verify_bundle("reviews.etb")                      # integrity, golden ids and predictions
    edgetext.verify_bundle(bundle, predictions=False)          # integrity and golden ids (= Bundle.verify())

:meth:`edgetext.Bundle.verify` checks integrity and golden token ids and builds the report;
the prediction part needs the predictor (which imports edgetext.bundle), so it lives here
and reaches ``Bundle.verify(predictions=True)`` through edgetext._hooks.

May import: the standard library, edgetext.errors, edgetext.manifest, edgetext._hooks,
edgetext.bundle, edgetext.predictor, edgetext.embedder, edgetext.backends.registry. Nothing imports this module but the
package root (lazily) and the CLI.
"""
from __future__ import annotations

import logging
import os

from ._hooks import PredictionChecks
from .backends import registry
from .bundle import Bundle
from .errors import EdgeTextError
from .manifest import ModelSpec
from .embedder import TextEmbedder, embedding_expectations
from .predictor import SCORE_TOLERANCE, TextClassifier, golden_expectations

__all__ = ["verify_bundle", "check_predictions", "model_problems", "SCORE_TOLERANCE"]

log = logging.getLogger(__name__)


def verify_bundle(bundle_or_path: Bundle | str | os.PathLike, predictions: bool = True,
                  threads: int | None = None) -> dict:
    """Check everything this host can check; raise BundleIntegrityError listing each problem.

    Integrity and golden token ids always; with ``predictions`` also the golden labels and
    scores of every model this host can run (the others are listed under "skipped", with the
    reason). ``threads`` as in TextClassifier (the first Paddle Lite load of a process fixes
    Lite's thread count). A path is opened and closed here; a Bundle stays open.
    Returns {"ok": True, "bundle", "checks": [...], "skipped": [...]}.
    """
    bundle = Bundle.open(bundle_or_path)
    try:
        return bundle.verify(predictions=predictions, threads=threads)
    finally:
        if bundle is not bundle_or_path:
            bundle.close()


def check_predictions(bundle: Bundle, threads: int | None = None) -> PredictionChecks:
    """Golden predictions of every model this host can run on the CPU (the prediction half of verify).

    A model without golden predictions (no single-text golden entry stating its label) is a
    problem, not a pass: nothing would show that it is the model the bundle was built with."""
    checks: list[str] = []
    problems: list[str] = []
    skipped: list[str] = []
    if not bundle.manifest.golden:
        problems.append("the bundle has no golden vectors: its golden predictions cannot be checked (rebuild it "
                        "with golden texts)")
    for spec in bundle.manifest.models:
        why_not = registry.why_unavailable(spec, device="cpu")
        if why_not:
            log.info("not checking the golden predictions of %s here: %s", spec.file, why_not)
            skipped.append(f"{spec.file}: {why_not}")
            continue
        found = model_problems(bundle, spec, threads)
        problems += found
        if not found:
            checks.append(f"golden predictions of {spec.file}")
    return PredictionChecks(checks, problems, skipped)


def model_problems(bundle: Bundle, spec: ModelSpec, threads: int | None = None) -> list[str]:
    """Where one model disagrees with the golden label or score of a (single-text) golden entry;
    "no golden vectors" when the bundle states none for it."""
    embedding = bundle.manifest.task == "text-embedding"
    if not (embedding_expectations if embedding else golden_expectations)(bundle.manifest, spec):
        return [f"{spec.file}: no golden vectors (no single-text golden entry with "
                f"{'an embedding' if embedding else 'a label'} for it): its predictions cannot be checked"]
    try:
        # golden ids were checked by Bundle.verify; every golden text is run here, one per run
        cls = TextEmbedder if embedding else TextClassifier
        with cls(bundle, backend=spec.backend, model=spec.file, threads=threads, check_golden=False) as model:
            return model.golden_problems()
    except EdgeTextError as e:  # reported as a problem of this model, not raised: the others still get checked
        return [f"{spec.file}: cannot run: {e}"]
