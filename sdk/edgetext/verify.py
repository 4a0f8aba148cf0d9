"""Golden-prediction checks: every model of a bundle that this host can run must reproduce
the bundle's golden labels, and scores within a per-precision tolerance.

    edgetext.verify_bundle("reviews.etb")                      # integrity, golden ids and predictions
    edgetext.verify_bundle(bundle, predictions=False)          # integrity and golden ids (= Bundle.verify())

:meth:`edgetext.Bundle.verify` checks integrity and golden token ids and builds the report;
the prediction part needs the predictor (which imports edgetext.bundle), so it lives here
and reaches ``Bundle.verify(predictions=True)`` through edgetext._hooks.

May import: the standard library, edgetext.errors, edgetext.manifest, edgetext._hooks,
edgetext.bundle, edgetext.predictor, edgetext.backends.registry. Nothing imports this module but the
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
from .predictor import TextClassifier

log = logging.getLogger(__name__)

# golden score tolerance per precision (labels must match exactly)
SCORE_TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2, "int8": 5e-2}


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
    """Golden predictions of every model this host can run on the CPU (the prediction half of verify)."""
    checks: list[str] = []
    problems: list[str] = []
    skipped: list[str] = []
    for spec in bundle.manifest.models:
        why_not = registry.why_unavailable(spec, device="cpu")
        if why_not:
            log.info("not checking the golden predictions of %s here: %s", spec.file, why_not)
            skipped.append(f"{spec.file}: {why_not}")
            continue
        problems += model_problems(bundle, spec, threads)
        checks.append(f"golden predictions of {spec.file}")
    return PredictionChecks(checks, problems, skipped)


def model_problems(bundle: Bundle, spec: ModelSpec, threads: int | None = None) -> list[str]:
    """Where one model disagrees with the golden label or score of a (single-text) golden entry."""
    golden = [g for g in bundle.manifest.golden if g.get("text_pair") is None]
    if not golden:
        return []
    try:
        with TextClassifier(bundle, backend=spec.backend, model=spec.file, threads=threads) as clf:
            # one text per run: dynamically quantized (int8) models scale activations per batch,
            # so a text's scores depend on its batch-mates; goldens are recorded one text at a time
            results = clf.classify_batch([g["text"] for g in golden], top_k=1, batch_size=1)
    except EdgeTextError as e:  # reported as a problem of this model, not raised: the others still get checked
        return [f"{spec.file}: cannot run: {e}"]
    tol = SCORE_TOLERANCE[spec.precision]
    problems = []
    for i, (g, res) in enumerate(zip(golden, results)):
        expect = (g.get("per_model") or {}).get(spec.file, g)
        got = res[0]
        if "label" in expect and got.label != expect["label"]:
            problems.append(f"{spec.file}: golden[{i}] predicts {got.label!r}, expected {expect['label']!r}")
        elif "score" in expect and abs(got.score - expect["score"]) > tol:
            problems.append(f"{spec.file}: golden[{i}] score {got.score:.4f}, expected {expect['score']:.4f} "
                            f"(tolerance {tol} for {spec.precision})")
    return problems
