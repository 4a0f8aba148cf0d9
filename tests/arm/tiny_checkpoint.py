"""Write a tiny PaddleNLP-style ERNIE classifier checkpoint (1 layer, Nano width, random weights).

The input of the cross-compile test: what a user brings to `edgetext convert`, small enough to
run under emulation. Runs in a child process (Paddle must not load into the pytest process).

    python tests/arm/tiny_checkpoint.py OUT_DIR VOCAB
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle: its bundled zlib clashes otherwise, docs/environment.md)
import sys
from pathlib import Path


def main(out: str, vocab: str) -> None:
    import paddle

    from edgetext_converters.paddle_ernie import ErnieConfig, ErnieForSequenceClassification, save_checkpoint

    n_tokens = sum(1 for _ in open(vocab, encoding="utf-8"))
    cfg = ErnieConfig.preset("nano", num_hidden_layers=1, vocab_size=n_tokens,
                             id2label={0: "negative", 1: "positive"})
    paddle.seed(11)
    model = ErnieForSequenceClassification(cfg)
    model.eval()
    save_checkpoint(model, vocab, Path(out), model_max_length=128)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
