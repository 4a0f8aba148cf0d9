#!/usr/bin/env python3
"""Embedding an EdgeText predictor in an app: a small classification worker.

The pattern: open and verify the bundle once at start-up, build one TextClassifier from that open
bundle and close it (the loaded model keeps working), then serve a stream of texts (one per line,
from a file or stdin) with a small thread pool, writing one JSON line per text in input order and a
latency report at the end. Only the public API is used:
``edgetext.Bundle.open(path)`` (a with-block) and ``.verify()``,
``edgetext.TextClassifier(bundle, backend=..., threads=..., check_golden=False)``,
``.describe()``, ``.classify_batch(texts, top_k=...)`` and ``edgetext.EdgeTextError``.

    python samples/embed_app.py reviews.etb --input texts.txt
    printf '这家店的菜很好吃\\n太难吃了\\n' | python samples/embed_app.py reviews.etb --workers 2 --threads 1

Threads: ``--threads`` is the inference engine's intra-op threads per call, ``--workers`` how many
micro-batches run at once. On a device keep workers x threads <= cores (the usual mistake is
tokenizer/engine threads fighting each other: one worker with N threads is the safe default).

Exit status: 0 ok, 2 the bundle or an input was refused (message on stderr).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator, TextIO

import edgetext


def read_batches(stream: TextIO, batch_size: int) -> Iterator[list[str]]:
    """Non-empty lines of STREAM, grouped into micro-batches of at most BATCH_SIZE."""
    batch: list[str] = []
    for line in stream:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        batch.append(text)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Worker:
    """Loads a bundle once and classifies micro-batches; safe to call from several threads."""

    def __init__(self, bundle: str, backend: str, threads: int | None, top_k: int):
        # One open: verify it (checksums + golden vectors, before serving anything), load the model from
        # the same Bundle (golden ids were just checked), then close it; the loaded classifier keeps working.
        with edgetext.Bundle.open(bundle) as opened:
            opened.verify()
            self.classifier = edgetext.TextClassifier(opened, backend=backend, threads=threads, check_golden=False)
        self.top_k = top_k

    def describe(self) -> dict:
        return self.classifier.describe()

    def classify(self, texts: list[str]) -> tuple[list[dict], float]:
        start = time.perf_counter()
        results = self.classifier.classify_batch(texts, top_k=self.top_k)
        elapsed = time.perf_counter() - start
        rows = [{"text": text,
                 "labels": [{"label": c.label, "score": round(float(c.score), 6)} for c in categories]}
                for text, categories in zip(texts, results)]
        return rows, elapsed


def serve(worker: Worker, batches: Iterable[list[str]], workers: int, out: TextIO) -> dict:
    """Classify every batch with WORKERS threads, write JSON lines in input order, return a report."""
    latencies_ms: list[float] = []
    n_texts = 0
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # pool.map keeps input order; it submits ahead, so a long input is not held in memory twice.
        for rows, elapsed in pool.map(worker.classify, batches):
            latencies_ms.append(elapsed * 1000)
            n_texts += len(rows)
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    wall = time.perf_counter() - start
    return {
        "texts": n_texts,
        "batches": len(latencies_ms),
        "wall_s": round(wall, 3),
        "texts_per_s": round(n_texts / wall, 1) if wall > 0 else None,
        "batch_latency_ms": {"p50": round(percentile(latencies_ms, 50), 2),
                             "p95": round(percentile(latencies_ms, 95), 2),
                             "max": round(max(latencies_ms, default=float("nan")), 2)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", help="a bundle directory or .etb file")
    parser.add_argument("--input", default="-", help="texts, one per line (default: stdin)")
    parser.add_argument("--backend", default="auto", help="auto (default), onnxruntime, paddlelite, ...")
    parser.add_argument("--threads", type=int, default=None, help="engine threads per call (default: the runtime's)")
    parser.add_argument("--workers", type=int, default=1, help="micro-batches in flight (default 1)")
    parser.add_argument("--batch", type=int, default=8, help="texts per micro-batch (default 8)")
    parser.add_argument("--top-k", type=int, default=1)
    args = parser.parse_args(argv)
    if args.workers < 1 or args.batch < 1 or args.top_k < 1:
        parser.error("--workers, --batch and --top-k must be >= 1")

    try:
        load_start = time.perf_counter()
        worker = Worker(args.bundle, args.backend, args.threads, args.top_k)
        load_ms = (time.perf_counter() - load_start) * 1000
        print(json.dumps({"loaded": args.bundle, "load_ms": round(load_ms, 1), "predictor": worker.describe()},
                         ensure_ascii=False, default=str), file=sys.stderr)
        stream = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")
        with stream:
            report = serve(worker, read_batches(stream, args.batch), args.workers, sys.stdout)
    except edgetext.EdgeTextError as error:
        print(f"embed_app: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"embed_app: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"report": report}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
