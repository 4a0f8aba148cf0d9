#!/usr/bin/env python3
"""On-device semantic search with a text-embedding bundle: index a small real corpus, answer queries.

The pattern: one ``edgetext.TextEmbedder`` (the bundle's tokenizer and model, golden embeddings checked at
load), the corpus embedded once into a float32 matrix (unit rows: the bundle normalizes), then each query is
one ``embed`` call and one matrix-vector product (cosine = dot product), top-k by score. Only the public API:
``edgetext.TextEmbedder(path, threads=...)``, ``.embed(texts)``, ``.describe()``, ``edgetext.EdgeTextError``,
and the corpus splits of ``edgetext_converters`` (held-out English tweets by default).

    edgetext convert .cache/assets/minilm --task embedding --targets onnx-x86 --out minilm-embed.etb
    python samples/semantic_search.py minilm-embed.etb "self-driving cars scare me" "I want a Tesla"
    printf 'driverless trucks\\n' | python samples/semantic_search.py minilm-embed.etb --corpus my_texts.txt --json

Exit status: 0 ok, 2 the bundle or an input was refused (message on stderr).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import edgetext

DEFAULT_QUERIES = ("self-driving cars are dangerous", "I can't wait to ride in a driverless car",
                   "Google is building robot cars", "who is responsible when an autonomous car crashes?")


def load_corpus(path: str | None, limit: int) -> list[str]:
    """Non-empty lines of PATH, or the held-out (test split) English tweets; de-duplicated, at most LIMIT."""
    if path is None:
        from edgetext_converters import tweets

        texts = tweets("test").texts
    else:
        with open(path, encoding="utf-8") as f:
            texts = [line.rstrip("\r\n") for line in f]
    return list(dict.fromkeys(t for t in texts if t.strip()))[:limit]


class Index:
    """Unit-row embeddings of a corpus; ``search`` is one embed call and one matrix-vector product."""

    def __init__(self, embedder: edgetext.TextEmbedder, texts: list[str], batch_size: int = 32):
        self.embedder, self.texts = embedder, texts
        t0 = time.perf_counter()
        m = embedder.embed(texts, batch_size=batch_size)
        self.matrix = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)  # no-op when normalized
        self.build_s = time.perf_counter() - t0

    def search(self, query: str, k: int) -> list[tuple[float, int]]:
        q = self.embedder.embed(query)
        scores = self.matrix @ (q / max(float(np.linalg.norm(q)), 1e-12))
        top = np.argsort(-scores, kind="stable")[:k]
        return [(float(scores[i]), int(i)) for i in top]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Semantic search over a small corpus with a text-embedding bundle.")
    p.add_argument("bundle", help="a text-embedding bundle (.etb or folder)")
    p.add_argument("queries", nargs="*", help="queries (default: stdin lines when piped, else built-in queries)")
    p.add_argument("--corpus", default=None, help="texts to search, one per line (default: held-out tweets)")
    p.add_argument("--limit", type=int, default=1000, help="corpus texts at most (default 1000)")
    p.add_argument("--top-k", type=int, default=3, help="results per query (default 3)")
    p.add_argument("--threads", type=int, default=None, help="tokenizer and engine threads")
    p.add_argument("--json", action="store_true", help="one JSON line per query")
    args = p.parse_args(argv)
    piped = [] if args.queries or sys.stdin.isatty() else [line.strip() for line in sys.stdin if line.strip()]
    queries = args.queries or piped or list(DEFAULT_QUERIES)
    try:
        corpus = load_corpus(args.corpus, args.limit)
        with edgetext.TextEmbedder(args.bundle, threads=args.threads) as embedder:
            index = Index(embedder, corpus)
            d = embedder.describe()
            per_text = 1e3 * index.build_s / max(1, len(corpus))
            print(f"indexed {len(corpus)} texts in {index.build_s:.2f} s ({per_text:.2f} ms/text) with {d['model']} ({d['backend']} {d['precision']}, dim {d['embedding']['dim']}, "
                  f"{d['embedding']['pooling']} pooling)", file=sys.stderr)
            for query in queries:
                t0 = time.perf_counter()
                hits = index.search(query, args.top_k)
                ms = 1e3 * (time.perf_counter() - t0)
                if args.json:
                    print(json.dumps({"query": query, "ms": round(ms, 3), "hits": [
                        {"score": round(s, 4), "index": i, "text": corpus[i]} for s, i in hits]}, ensure_ascii=False))
                else:
                    print(f"\n{query}   ({ms:.1f} ms)")
                    for s, i in hits:
                        print(f"  {s:.3f}  {corpus[i][:110]}")
    except edgetext.EdgeTextError as e:
        print(f"semantic_search: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
