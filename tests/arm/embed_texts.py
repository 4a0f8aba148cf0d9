"""Embed texts with the public TextEmbedder API; write the embeddings (.npy) and a JSON report.

Runs unchanged on the x86 host and on emulated aarch64; tests/arm/test_arm_embedding.py compares both
with the float64 reference. ``verify(predictions=True)`` also checks the golden embeddings of the model
this CPU runs.

    python embed_texts.py BUNDLE TEXTS.json OUT.npy > REPORT.json
"""
from __future__ import annotations

import json
import platform
import sys
import time

import numpy as np

import edgetext


def main(bundle_path: str, texts_path: str, out_path: str) -> None:
    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    report = edgetext.verify_bundle(bundle_path, predictions=True, threads=1)
    emb = edgetext.TextEmbedder(bundle_path, backend="auto", threads=1)
    t0 = time.perf_counter()
    vectors = emb.embed(texts)
    seconds = time.perf_counter() - t0
    np.save(out_path, vectors)
    json.dump({"machine": platform.machine(), "verify": report, "describe": emb.describe(),
               "shape": list(vectors.shape), "embed_s": seconds}, sys.stdout, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
