"""Classify texts with the public predictor API and print the result as JSON.

Runs unchanged on the x86 host and on emulated aarch64; tests/arm/test_arm_emulation.py compares
the two. ``verify(predictions=True)`` also checks the golden labels/scores of the model this CPU runs.

    python classify_texts.py BUNDLE TEXTS.json [PAIRS.json] > RESULT.json

PAIRS.json: the second text of each pair, for a text-pair bundle. A multi-label bundle's batch results are its
label sets (every label at/above its threshold); ``logits`` are the raw logits of every text.
"""
from __future__ import annotations

import json
import platform
import sys

import edgetext


def main(bundle_path: str, texts_path: str, pairs_path: str | None = None) -> None:
    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    pairs = None
    if pairs_path is not None:
        with open(pairs_path, encoding="utf-8") as f:
            pairs = json.load(f)
    report = edgetext.Bundle.open(bundle_path).verify(predictions=True)
    clf = edgetext.TextClassifier(bundle_path, backend="auto", threads=1)
    multi = bool(getattr(clf, "multi_label", False))
    batch = clf.classify_batch(texts, top_k=None if multi else 3, text_pairs=pairs)
    single = [clf.classify(t, top_k=1, text_pair=None if pairs is None else pairs[i]) for i, t in enumerate(texts[:5])]
    result = {
        "machine": platform.machine(),
        "verify": report,
        "describe": clf.describe(),
        "batch": [[[c.label, float(c.score), c.index] for c in cats] for cats in batch],
        "single": [[[c.label, float(c.score), c.index] for c in cats] for cats in single],
        "logits": clf.logits(texts, text_pairs=pairs).tolist(),
    }
    json.dump(result, sys.stdout, ensure_ascii=False, sort_keys=True, default=str)


if __name__ == "__main__":
    main(*sys.argv[1:4])
