#!/usr/bin/env python3
"""Multi-label tagging of messages on a device: every tag whose probability reaches its threshold.

The pattern: open and verify the bundle once (checksums, golden token ids), refuse a bundle that is not
multi-label, build one ``TextClassifier`` from the open bundle, then tag messages (one per line, a file or stdin) in
micro-batches: ``classify_batch`` of a multi-label bundle returns, per message, every label whose sigmoid
probability is >= that label's threshold (the bundle's ``thresholds``, tuned per label at conversion), best first,
and an empty list when no tag applies. ``--top-k`` keeps the best K tags, ``--threshold P`` replaces every label's
threshold (``score_threshold``). One JSON line per message in input order, then a report on stderr (messages,
untagged ones, how often each tag was given, latency). Only the public API: ``edgetext.Bundle.open(path)`` and
``.verify()``, ``.manifest``, ``edgetext.TextClassifier(bundle, threads=..., check_golden=False)``,
``.classify_batch(...)``, ``.describe()`` and ``edgetext.EdgeTextError``.

    printf '物流很快，包装也很好\\n《诸侯OL》内测乱世降临\\n' | python samples/tag_messages.py tags.etb
    python samples/tag_messages.py tags.etb --input messages.txt --top-k 3 --threads 2

    {"line": 1, "text": "...", "tags": [{"label": "positive", "score": 0.91, "index": 1}, ...]}
    stderr: {"report": {"messages": 2, "untagged": 0, "tags": {"positive": 1, ...}, "batch_latency_ms": {...}}}

Exit status: 0 ok, 2 the bundle or an input was refused (message on stderr).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Iterator, TextIO

import edgetext


def read_messages(stream: TextIO, batch_size: int) -> Iterator[list[tuple[int, str]]]:
    """(line number, text) of each non-empty line, in micro-batches of at most `batch_size`."""
    batch: list[tuple[int, str]] = []
    for n, line in enumerate(stream, 1):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        batch.append((n, text))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def run(args: argparse.Namespace, stream: TextIO) -> dict:
    """Tag every message of `stream`, one JSON line each on stdout; the report."""
    with edgetext.Bundle.open(args.bundle) as bundle:
        bundle.verify()  # refuse a corrupted or altered bundle before reading any input
        if not bundle.manifest.multi_label:
            raise edgetext.EdgeTextError(f"{args.bundle} is single-label (one label per text): use "
                                         "samples/embed_app.py, or convert a multi-label model with --multi-label")
        clf = edgetext.TextClassifier(bundle, threads=args.threads, check_golden=False)  # verify() checked them
    d = clf.describe()
    print(json.dumps({"loaded": d["name"], "model": d["model"], "backend": d["backend"], "labels": d["labels"],
                      "thresholds": d["thresholds"]}, ensure_ascii=False), file=sys.stderr)
    latencies: list[float] = []
    given: Counter[str] = Counter()
    messages = untagged = 0
    t0 = time.perf_counter()
    for batch in read_messages(stream, args.batch_size):
        t = time.perf_counter()
        results = clf.classify_batch([text for _, text in batch], top_k=args.top_k, batch_size=args.batch_size,
                                     score_threshold=args.threshold)
        latencies.append(1e3 * (time.perf_counter() - t))
        for (n, text), tags in zip(batch, results):
            print(json.dumps({"line": n, "text": text, "tags": [c._asdict() for c in tags]}, ensure_ascii=False))
            given.update(c.label for c in tags)
            untagged += not tags
        messages += len(batch)
    wall = time.perf_counter() - t0
    return {"messages": messages, "untagged": untagged, "tags": dict(given.most_common()),
            "batches": len(latencies), "wall_s": round(wall, 4),
            "messages_per_s": round(messages / wall, 1) if wall else 0.0,
            "batch_latency_ms": {"p50": round(percentile(latencies, 0.5), 3),
                                 "p95": round(percentile(latencies, 0.95), 3),
                                 "max": round(max(latencies, default=0.0), 3)}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Tag messages with a multi-label bundle: every label above its "
                                            "threshold, JSON lines out.")
    p.add_argument("bundle", help="a multi-label bundle (.etb or folder)")
    p.add_argument("--input", default=None, help="messages, one per line (default: stdin)")
    p.add_argument("--top-k", type=int, default=None, help="at most K tags per message (default: all that apply)")
    p.add_argument("--threshold", type=float, default=None,
                   help="one probability threshold for every label instead of the bundle's (0..1)")
    p.add_argument("--batch-size", type=int, default=32, help="messages per classify_batch call (default 32)")
    p.add_argument("--threads", type=int, default=None, help="tokenizer and engine threads")
    args = p.parse_args(argv)
    try:
        if args.input is None:
            report = run(args, sys.stdin)
        else:
            with open(args.input, encoding="utf-8") as f:
                report = run(args, f)
    except edgetext.EdgeTextError as e:
        print(f"tag_messages: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"report": report}, ensure_ascii=False), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
