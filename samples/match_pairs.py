#!/usr/bin/env python3
"""Scoring text pairs on a device: one text-pair bundle (e.g. a matching / NLI model converted with --pairs).

The pattern: open and verify the bundle once (checksums, golden token ids), refuse a bundle that does not
classify pairs, build one ``TextClassifier`` from the open bundle, then read ``text<TAB>pair`` lines (a file or
stdin; a third column, when present, is the expected label and the report gives the accuracy), classify them in
micro-batches (``classify_batch(texts, text_pairs=pairs)``: both texts tokenized as one input with token types 0 and
1, truncated longest-first to the bundle's max_length), and write one JSON line per pair in input order, then a
latency report on stderr. Only the public API: ``edgetext.Bundle.open(path)`` and ``.verify()``, ``.manifest``,
``edgetext.TextClassifier(bundle, threads=..., check_golden=False)``, ``.classify_batch(...)``, ``.describe()`` and
``edgetext.EdgeTextError``.

    printf '这家店的菜很好吃\\t菜很好吃\\n' | python samples/match_pairs.py pairs.etb
    python samples/match_pairs.py pairs.etb --input pairs.tsv --top-k 2 --batch-size 16 --threads 2

    {"line": 1, "text": "...", "pair": "...", "labels": [{"label": "overlap", "score": 0.97, "index": 1}]}
    stderr: {"report": {"pairs": 1, "batches": 1, "wall_s": ..., "pairs_per_s": ..., "batch_latency_ms": {...}}}

Exit status: 0 ok, 2 the bundle or an input was refused (message on stderr).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Iterator, TextIO

import edgetext


class InputLineError(edgetext.EdgeTextError):
    """An input line that is not ``text<TAB>pair[<TAB>label]``."""


def read_pairs(stream: TextIO, batch_size: int) -> Iterator[list[tuple[int, list[str]]]]:
    """(line number, [text, pair] or [text, pair, label]) of each non-empty line, in micro-batches."""
    batch: list[tuple[int, list[str]]] = []
    for n, line in enumerate(stream, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) not in (2, 3):
            raise InputLineError(f"line {n} has {len(cols)} tab-separated columns; expected text<TAB>pair"
                                 "[<TAB>label]")
        batch.append((n, cols))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def run(args: argparse.Namespace, stream: TextIO) -> dict:
    """Classify every pair of `stream`, one JSON line each on stdout; the report."""
    with edgetext.Bundle.open(args.bundle) as bundle:
        bundle.verify()  # refuse a corrupted or altered bundle before reading any input
        if not bundle.manifest.text_pairs:
            raise edgetext.EdgeTextError(f"{args.bundle} classifies single texts, not pairs: use "
                                         "samples/embed_app.py (or convert a pair model with --pairs)")
        clf = edgetext.TextClassifier(bundle, threads=args.threads, check_golden=False)  # verify() checked them
    d = clf.describe()
    print(json.dumps({"loaded": d["name"], "model": d["model"], "backend": d["backend"], "labels": d["labels"]},
                     ensure_ascii=False), file=sys.stderr)
    latencies: list[float] = []
    pairs = correct = labelled = 0
    t0 = time.perf_counter()
    for batch in read_pairs(stream, args.batch_size):
        t = time.perf_counter()
        results = clf.classify_batch([c[0] for _, c in batch], top_k=args.top_k, batch_size=args.batch_size,
                                     text_pairs=[c[1] for _, c in batch])
        latencies.append(1e3 * (time.perf_counter() - t))
        for (n, cols), cats in zip(batch, results):
            row = {"line": n, "text": cols[0], "pair": cols[1], "labels": [c._asdict() for c in cats]}
            if len(cols) == 3:
                row["expected"] = cols[2]
                labelled += 1
                correct += int(bool(cats) and cats[0].label == cols[2])
            print(json.dumps(row, ensure_ascii=False))
        pairs += len(batch)
    wall = time.perf_counter() - t0
    report = {"pairs": pairs, "batches": len(latencies), "wall_s": round(wall, 4),
              "pairs_per_s": round(pairs / wall, 1) if wall else 0.0,
              "batch_latency_ms": {"p50": round(percentile(latencies, 0.5), 3),
                                   "p95": round(percentile(latencies, 0.95), 3),
                                   "max": round(max(latencies, default=0.0), 3)}}
    if labelled:
        report["accuracy"] = round(correct / labelled, 4)
        report["labelled"] = labelled
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Score text<TAB>pair lines with a text-pair bundle, JSON lines out.")
    p.add_argument("bundle", help="a text-pair bundle (.etb or folder)")
    p.add_argument("--input", default=None, help="text<TAB>pair[<TAB>label] lines (default: stdin)")
    p.add_argument("--top-k", type=int, default=1, help="labels per pair (default 1)")
    p.add_argument("--batch-size", type=int, default=16, help="pairs per classify_batch call (default 16)")
    p.add_argument("--threads", type=int, default=None, help="tokenizer and engine threads")
    args = p.parse_args(argv)
    try:
        if args.input is None:
            report = run(args, sys.stdin)
        else:
            with open(args.input, encoding="utf-8") as f:
                report = run(args, f)
    except edgetext.EdgeTextError as e:
        print(f"match_pairs: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"report": report}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
