#!/usr/bin/env python3
"""bench/e2e.py's child processes: what must not run in the timing process (libpaddle, torch).

    python bench/e2e_side.py export-paddle SRC OUT.onnx    # a PaddleNLP user's export: jit.save + paddle2onnx
    python bench/e2e_side.py export-torch SRC OUT.onnx     # a Hugging Face user's export: torch.onnx.export
    python bench/e2e_side.py reference SRC TEXTS OUT.npy   # the source framework's logits on TEXTS (one per line)

``export-paddle`` follows PaddleNLP's deployment guide: the checkpoint exported as a static inference model
(PaddleNLP's own pad-mask graph) and converted with ``paddle2onnx`` (opset 14, its optimizer on).
``export-torch`` is what the transformers docs show: ``BertForSequenceClassification.from_pretrained`` and
``torch.onnx.export`` with dynamic batch/sequence axes (opset 17); it needs torch + transformers, i.e. the
bench venv (``make bench-e2e`` makes ``.venv-bench``, Python 3.11 with the CPU torch wheel).
``reference`` is what the converters gate against (edgetext_converters.runners.reference_runner: Paddle
Inference for Paddle sources, the float64 numpy forward pass of the safetensors for HF folders), on the
bundle tokenizer's ids (identical to HF tokenizers', tests/test_tokenizer_parity.py).
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle)
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MAX_LENGTH = 128


def export_paddle(src: str, out: str) -> None:
    import paddle

    from edgetext_converters import readers
    from edgetext_converters.paddle_ernie import ErnieForSequenceClassification, export_inference_model
    from edgetext_converters.writers.onnx import paddle_to_onnx

    desc = readers.read(src)
    paddle.disable_static()
    model = ErnieForSequenceClassification(desc.config)
    model.load_numpy_state_dict(desc.weights or {})
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        files = export_inference_model(model, Path(tmp) / "model", scalar_mask=True)
        paddle_to_onnx(files["model"], files["params"], out)


def export_torch(src: str, out: str) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(src).eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), out,
                          input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "logits": {0: "batch"}}, opset_version=17, dynamo=False)


def reference(src: str, texts_file: str, out: str) -> None:
    from edgetext.preprocess import length_buckets, pad_rows
    from edgetext_converters import passes, readers
    from edgetext_converters.passes import PassContext
    from edgetext_converters.runners import reference_runner

    texts = Path(texts_file).read_text(encoding="utf-8").split("\n")[:-1]
    desc = readers.read(src)
    ctx = PassContext()
    desc = passes.run_passes(desc, ctx, (passes.lower_to_graph, passes.normalize_io))
    with tempfile.TemporaryDirectory() as tmp:
        run = reference_runner(desc, Path(tmp))
        ids = desc.tokenizer.encoder().encode_batch(texts, MAX_LENGTH)
        logits = np.zeros((len(texts), desc.num_labels), np.float32)
        for idx in length_buckets([len(x) for x in ids], 32):
            logits[idx] = run(pad_rows([ids[i] for i in idx], desc.tokenizer.pad_id))
    np.save(out, logits)


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "converters"), str(ROOT / "sdk")]
    cmd, *args = sys.argv[1:]
    {"export-paddle": export_paddle, "export-torch": export_torch, "reference": reference}[cmd](*args)
