"""Classify texts with the public predictor API and print the result as JSON.

Runs unchanged on the x86 host and on emulated aarch64; tests/arm/test_arm_emulation.py compares
the two. ``verify(predictions=True)`` also checks the golden labels/scores of the model this CPU runs.

    python classify_texts.py BUNDLE TEXTS.json > RESULT.json
"""
from __future__ import annotations

import json
import platform
import sys

import edgetext


def main(bundle_path: str, texts_path: str) -> None:
    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    report = edgetext.Bundle.open(bundle_path).verify(predictions=True)
    clf = edgetext.TextClassifier(bundle_path, backend="auto", threads=1)
    batch = clf.classify_batch(texts, top_k=3)
    single = [clf.classify(t, top_k=1) for t in texts[:5]]
    result = {
        "machine": platform.machine(),
        "verify": report,
        "describe": clf.describe(),
        "batch": [[[c.label, float(c.score), c.index] for c in cats] for cats in batch],
        "single": [[[c.label, float(c.score), c.index] for c in cats] for cats in single],
    }
    json.dump(result, sys.stdout, ensure_ascii=False, sort_keys=True, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
