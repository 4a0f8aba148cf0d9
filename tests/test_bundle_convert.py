"""Round trip through the converters: a PaddleNLP-style ERNIE checkpoint -> `edgetext_converters.convert`
(ONNX + Paddle Lite, packed with edgetext.bundle.pack) -> Bundle.open/verify -> classify on both backends.

The conversion runs in a child process (it loads libpaddle, which must stay out of the runtime's
process); the checkpoint is a small random ERNIE-3.0-shaped model with the real bert-base-chinese vocab.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgetext import Bundle, TextClassifier

ROOT = Path(__file__).resolve().parent.parent

CONVERT = r"""
import zlib  # before paddle (libpaddle's own zlib: converters README)
import json, sys
from pathlib import Path
import paddle
from edgetext_converters import convert
from edgetext_converters.paddle_ernie import ErnieConfig, ErnieForSequenceClassification, save_checkpoint

out, vocab = Path(sys.argv[1]), Path(sys.argv[2])
n_vocab = sum(1 for _ in vocab.open(encoding="utf-8"))
cfg = ErnieConfig.preset("nano", num_hidden_layers=1, hidden_size=64, num_attention_heads=2, intermediate_size=128,
                         vocab_size=n_vocab, num_labels=3, id2label={0: "negative", 1: "neutral", 2: "positive"})
paddle.seed(5)
model = ErnieForSequenceClassification(cfg)
model.eval()
with paddle.no_grad():  # random weights give near-ties: standardize the head on random texts so labels vary
    from edgetext import Tokenizer
    tok = Tokenizer.from_file(vocab)
    batch = tok(json.loads(sys.argv[3]), padding=True, truncation=True, max_length=64)
    ids = paddle.to_tensor(batch["input_ids"])
    logits = model(ids, paddle.zeros_like(ids))
    mean, std = paddle.mean(logits, axis=0), paddle.std(logits, axis=0)
    model.classifier.weight.set_value(model.classifier.weight / std * 1.5)
    model.classifier.bias.set_value((model.classifier.bias - mean) / std * 1.5)
save_checkpoint(model, vocab, out / "ckpt", model_max_length=512)
report = convert(out / "ckpt", out / "converted.etb", targets=["onnx-x86", "lite-x86"], precision="fp32",
                 max_length=64, progress=False)
print(json.dumps({"targets": sorted(report["targets"])}))
"""

TEXTS = ["这家店的菜很好吃，服务也很周到。", "房间太小了，隔音很差，不会再来。", "物流很快", "Hello world!", "",
         "一般般吧", "手机用了一周就坏了，客服也不理人，非常失望！！！", "性价比很高，推荐购买"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory, zh_vocab) -> Path:
    for mod in ("paddle", "paddle2onnx", "paddlelite", "onnx"):
        pytest.importorskip(mod, reason=f"the converters need {mod}")
    if not (ROOT / "converters" / "edgetext_converters" / "pipeline.py").is_file():
        pytest.skip("edgetext_converters.convert is not available")
    out = tmp_path_factory.mktemp("convert")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", GLOG_minloglevel="2",
               PYTHONPATH=os.pathsep.join([str(ROOT / "sdk"), str(ROOT / "converters"),
                                           os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-c", CONVERT, str(out), str(zh_vocab), json.dumps(TEXTS)],
                       capture_output=True, text=True,
                       env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    assert json.loads(p.stdout.strip().splitlines()[-1])["targets"] == ["lite-x86", "onnx-x86"]
    return out / "converted.etb"


def test_converted_bundle_opens_verifies_and_classifies_alike_on_both_backends(converted):
    with Bundle.open(converted) as b:
        report = b.verify(predictions=True)
        assert {s.backend for s in b.models} == {"onnxruntime", "paddlelite"}
    assert report["ok"] and not report["skipped"]
    assert sum("golden predictions" in c for c in report["checks"]) == 2
    ort = TextClassifier(converted, backend="onnxruntime", threads=1)
    lite = TextClassifier(converted, backend="paddlelite", threads=1)
    labels = [c[0].label for c in ort.classify_batch(TEXTS)]
    assert labels == [c[0].label for c in lite.classify_batch(TEXTS)]
    assert len(set(labels)) >= 2, labels
    np.testing.assert_allclose(ort.logits(TEXTS), lite.logits(TEXTS), atol=2e-3)  # head scaled up ~100x
    assert TextClassifier(converted).describe()["backend"] == "onnxruntime"
