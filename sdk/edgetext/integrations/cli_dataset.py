"""``edgetext classify-dataset``: classify (or embed) JSON-lines / Parquet shards on a Ray cluster.

    edgetext classify-dataset BUNDLE --input DIR_OR_GLOB --output DIR [--address local | auto | HOST:PORT |
        ray://HOST:PORT] [--workers N] [--threads T] [--top-k K] [--text-column text] [--pair-column COL]
        [--format jsonl|parquet]

One output shard per input shard (same name); shards already in --output are skipped, so a rerun after a failure
does only what is left. The command registers here and imports Ray only when it runs (extra ``ray``).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from ..errors import EdgeTextError

NAME = "classify-dataset"


def register(sub: Any, positive_int: Callable[[str], int], threads: Callable[[str], int]) -> None:
    """Add the command's parser to the `edgetext` subparsers (the cli passes its argument types)."""
    d = sub.add_parser(NAME, help="classify or embed JSON-lines / Parquet shards on Ray (needs edgetext[ray])",
                       description="Classify (or embed, for a text-embedding bundle) every shard of --input on a "
                                   "Ray actor pool into one output shard each in --output; already written output "
                                   "shards are skipped (resumable). workers x threads never exceeds the cluster's "
                                   "CPUs.")
    d.add_argument("bundle", metavar="BUNDLE", help="bundle .etb file (or folder)")
    d.add_argument("--input", required=True, metavar="DIR_OR_GLOB",
                   help="a folder of .jsonl/.json/.ndjson/.parquet files, a glob, or one file")
    d.add_argument("--output", required=True, metavar="DIR", help="folder for the output shards")
    d.add_argument("--address", default="local",
                   help="local (start Ray here, default), auto (the running cluster), HOST:PORT or ray://HOST:PORT")
    d.add_argument("--workers", type=positive_int, default=None,
                   help="actors (default: as many as fit: cluster CPUs // --threads)")
    d.add_argument("--threads", type=threads, default=1, help="engine threads and CPUs per actor (default 1)")
    d.add_argument("--top-k", type=positive_int, default=None,
                   help="categories per text (default 1; a multi-label bundle: every label at/above its threshold)")
    d.add_argument("--text-column", default="text", help="the column holding the text (default text)")
    d.add_argument("--pair-column", default=None,
                   help="a text-pair bundle: the column holding the second text of each pair")
    d.add_argument("--format", dest="out_format", choices=["jsonl", "parquet"], default=None,
                   help="output format (default: each input's own)")
    d.add_argument("--prefix", default="", help="prefix of the result columns (when the input has a 'label')")
    d.add_argument("--chunk-rows", type=positive_int, default=256,
                   help="rows per unit of work: one classify_batch call (default 256)")
    d.add_argument("--batch-size", type=positive_int, default=32, dest="engine_batch",
                   help="texts per backend run inside a chunk (default 32)")
    d.add_argument("--backend", default="auto", help="inference backend on the workers (default auto)")
    d.add_argument("--via", choices=["object-store", "path"], default="object-store",
                   help="how the bundle reaches the workers: the object store (default) or its path on a shared "
                        "filesystem")
    d.add_argument("--object-store-mb", type=positive_int, default=None,
                   help="object store size of a --address local cluster (default: Ray's)")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.add_argument("--json", action="store_true", help="print the run's numbers as JSON")


def run(args: argparse.Namespace) -> int:
    """The command: 0 when every shard is written (now or by an earlier run)."""
    try:
        from . import ray as er
    except ImportError as e:
        raise EdgeTextError(f"'{NAME}' needs Ray Data ({getattr(e, 'name', None) or e} is not importable): "
                            "pip install edgetext[ray]") from None
    stats = er.classify_files(args.bundle, args.input, args.output, address=args.address, workers=args.workers,
                              threads=args.threads, top_k=args.top_k, text_column=args.text_column,
                              pair_column=args.pair_column,
                              out_format=args.out_format, chunk_rows=args.chunk_rows, engine_batch=args.engine_batch,
                              backend=args.backend, via=args.via, prefix=args.prefix,
                              object_store_bytes=args.object_store_mb and args.object_store_mb * (1 << 20),
                              progress=not args.no_progress and sys.stderr.isatty())
    if args.json:
        print(json.dumps(stats, sort_keys=True))
    else:
        rate = f", {stats['rows_per_s']} rows/s on {stats.get('workers')} x {stats.get('threads')} threads" \
            if stats["written"] else ""
        print(f"{stats['written']} shards written, {stats['skipped']} already done ({stats['shards']} in all); "
              f"{stats['rows']} rows{rate}")
    return 0
