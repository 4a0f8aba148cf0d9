"""Every model of the pair bundles against the Paddle model itself (dygraph, one pair per run) on the held-out pairs.

    OMP_NUM_THREADS=2 nice -n 10 .venv/bin/python training/measure_pairs_zh.py .cache/models/pairs-zh \
        .cache/models/pairs-zh/pairs-zh.etb .cache/models/pairs-zh/pairs-zh-fp32.etb

For each model file: top-1 agreement with Paddle, max |logit diff|, accuracy on OUT/test.tsv, file size. Also the
baseline a single-text classifier gives without pairs: "same" when the shipped sentiment student
(bundles/reviews-zh.etb) puts both reviews in the same class. Prints one JSON object.
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle)

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    import paddle

    import edgetext
    from edgetext_converters.paddle_ernie import load_checkpoint

    folder, bundles = Path(argv[0]), [Path(b) for b in argv[1:]]
    rows = [line.split("\t") for line in (folder / "test.tsv").read_text(encoding="utf-8").splitlines()]
    texts, pairs = [r[0] for r in rows], [r[1] for r in rows]
    model = load_checkpoint(folder / "checkpoint")
    labels = model.config.labels
    truth = np.array([labels.index(r[2]) for r in rows])
    out: dict = {"pairs": len(rows), "models": {}}
    with edgetext.TextClassifier(bundles[0], threads=2) as clf:
        ids, types = clf.encode_pairs(texts, pairs)  # the device's encoding (longest-first truncation)
        out["max_length"] = clf.max_length
    ref = []
    with paddle.no_grad():
        for x, t in zip(ids, types):
            ref.append(model(paddle.to_tensor([x], dtype="int64"), paddle.to_tensor([t], dtype="int64")).numpy()[0])
    ref_arr = np.asarray(ref)
    out["paddle_accuracy"] = float((ref_arr.argmax(-1) == truth).mean())
    for path in bundles:
        with edgetext.Bundle.open(path) as b:
            files = [(s.file, s.backend, b.manifest.files[s.file]["size"]) for s in b.manifest.models]
        for file, backend, size in files:
            with edgetext.TextClassifier(path, model=file, threads=2) as clf:
                got = clf.logits(texts, text_pairs=pairs)
            out["models"][file] = {
                "backend": backend, "size_mb": round(size / 1e6, 2),
                "agreement_with_paddle": float((got.argmax(-1) == ref_arr.argmax(-1)).mean()),
                "max_abs_logit_diff": float(np.abs(got - ref_arr).max()),
                "accuracy": float((got.argmax(-1) == truth).mean())}
    with edgetext.TextClassifier(ROOT / "bundles" / "reviews-zh.etb", threads=2) as single:
        a = single.logits(texts).argmax(-1)
        b = single.logits(pairs).argmax(-1)
    out["baseline_same_single_text_class"] = float(((a == b).astype(int) == truth).mean())
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
