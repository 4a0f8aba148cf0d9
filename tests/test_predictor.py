"""TextClassifier on real (tiny, random-weight) models: round trips, backend agreement,
batching, dtype casting, bad inputs, thread safety, backend choice."""
from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from edgetext import Category, TextClassifier
from edgetext.bundle import Bundle
from support.runtime_models import repack

from edgetext.errors import (BackendUnavailableError, BundleIntegrityError, InputTypeError, InvalidInputError,
                             ManifestError)

TEXTS = [
    "这家店的菜很好吃，服务也很周到。",
    "房间太小了，隔音很差，不会再来。",
    "物流很快，包装完好。",
    "Hello world! mixed 中文 and numbers 12345.",
    "",
    "差",
    "酒店的位置不错，早餐一般般，性价比还可以吧。" * 5,
    "手机用了一周就坏了，客服也不理人，非常失望！！！",
    "ÀÉÎ café naïve résumé",
    "🙂👍 表情 emoji",
]


@pytest.fixture(scope="module")
def onnx_fp32(ort_bundle):
    """fp32 ONNX model built without Paddle: these tests also run on Python 3.11-3.13 (ORT only)."""
    return TextClassifier(ort_bundle, backend="onnxruntime", model="model.x86_64.fp32.onnx", threads=1)


def test_round_trip_pack_open_verify_classify_on_both_backends(tiny_bundle, tiny_bundle_dir):
    for path in (tiny_bundle, tiny_bundle_dir):
        with Bundle.open(path) as b:
            report = b.verify(predictions=True)
            assert report["ok"] and not report["skipped"]
            assert any("golden predictions of model.x86_64.fp32.nb" in c for c in report["checks"])
    ort = TextClassifier(tiny_bundle, backend="onnxruntime", model="model.x86_64.fp32.onnx", threads=1)
    lite = TextClassifier(tiny_bundle, backend="paddlelite", threads=1)
    assert lite.describe()["model"] == "model.x86_64.fp32.nb"
    a, b = ort.classify_batch(TEXTS, top_k=3), lite.classify_batch(TEXTS, top_k=3)
    assert [r[0].label for r in a] == [r[0].label for r in b]
    np.testing.assert_allclose(ort.logits(TEXTS), lite.logits(TEXTS), atol=1e-3, rtol=1e-4)
    labels = {r[0].label for r in a}
    assert len(labels) >= 2, "the test model should not predict one label for everything"


def test_classify_returns_sorted_softmaxed_categories(onnx_fp32):
    cats = onnx_fp32.classify("这家店的菜很好吃", top_k=3)
    assert [type(c) for c in cats] == [Category] * 3
    assert sorted(c.index for c in cats) == [0, 1, 2]
    assert [c.score for c in cats] == sorted((c.score for c in cats), reverse=True)
    assert abs(sum(c.score for c in cats) - 1.0) < 1e-5
    assert all(onnx_fp32.labels[c.index] == c.label for c in cats)
    assert onnx_fp32.classify("x", top_k=99)[-1].index in (0, 1, 2), "top_k is capped at the label count"
    assert len(onnx_fp32.classify("x")) == 1


def test_int8_auto_choice_agrees_with_its_golden_vectors(ort_bundle):
    clf = TextClassifier(ort_bundle)  # auto: ORT int8 on x86_64
    d = clf.describe()
    assert (d["backend"], d["precision"], d["model"]) == ("onnxruntime", "int8", "model.x86_64.int8.onnx")
    assert "int8" in d["why"] and d["host"] == "x86_64"
    golden = Bundle.open(ort_bundle).manifest.golden
    for g in golden:
        want = g["per_model"]["model.x86_64.int8.onnx"]["label"]
        assert clf.classify(g["text"])[0].label == want


def test_batching_pads_to_the_batch_longest_and_restores_order(onnx_fp32, monkeypatch):
    widths = []
    run = onnx_fp32._backend.run

    def spy(feeds):
        widths.append(feeds["input_ids"].shape)
        return run(feeds)

    monkeypatch.setattr(onnx_fp32._backend, "run", spy)
    texts = TEXTS * 3
    random.Random(1).shuffle(texts)
    ids = onnx_fp32.encode(texts)
    batched = onnx_fp32.logits(texts, batch_size=4)
    lengths = sorted(len(x) for x in ids)
    assert [w for _, w in widths] == [max(lengths[i:i + 4]) for i in range(0, len(lengths), 4)]
    assert max(w for _, w in widths) <= onnx_fp32.max_length < 128
    one_by_one = np.concatenate([onnx_fp32.logits([t]) for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-4)
    assert [r[0].index for r in onnx_fp32.classify_batch(texts, batch_size=3)] == list(batched.argmax(1))


def test_inputs_are_cast_to_declared_int32_dtypes(int32_bundle):
    for backend in ("onnxruntime", "paddlelite"):
        clf = TextClassifier(int32_bundle, backend=backend, threads=1)
        seen = {}
        run = clf._backend.run
        clf._backend.run = lambda feeds, seen=seen, run=run: (seen.update({k: v.dtype for k, v in feeds.items()}), run(feeds))[1]
        assert len(clf.classify_batch(TEXTS)) == len(TEXTS)
        assert seen == {"input_ids": np.int32, "token_type_ids": np.int32, "attention_mask": np.int32}
    assert Bundle.open(int32_bundle).verify(predictions=True)["ok"]


def test_int32_and_int64_models_agree(tiny_bundle, int32_bundle):
    a = TextClassifier(tiny_bundle, model="model.x86_64.fp32.onnx").logits(TEXTS)
    b = TextClassifier(int32_bundle, model="model.x86_64.fp32.onnx").logits(TEXTS)
    np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("bad,error,match", [
    (None, InvalidInputError, "None"),
    (b"bytes", InputTypeError, "decode"),
    (123, InputTypeError, "must be a str"),
])
def test_bad_single_texts_give_clear_errors(onnx_fp32, bad, error, match):
    with pytest.raises(error, match=match):
        onnx_fp32.classify(bad)


@pytest.mark.parametrize("bad,error,match", [
    ("a str", InputTypeError, "list of str"),
    (None, InputTypeError, "list of str"),
    (["ok", None], InvalidInputError, r"texts\[1\] is None"),
    (["ok", b"x"], InputTypeError, r"texts\[1\] is bytes"),
    ({"a": 1}, InputTypeError, "list of str"),
])
def test_bad_batches_give_clear_errors(onnx_fp32, bad, error, match):
    with pytest.raises(error, match=match):
        onnx_fp32.classify_batch(bad)


def test_bad_arguments_give_clear_errors(onnx_fp32, ort_bundle):
    with pytest.raises(InvalidInputError, match="top_k"):
        onnx_fp32.classify("x", top_k=0)
    with pytest.raises(InputTypeError, match="batch_size"):
        onnx_fp32.classify_batch(["x"], batch_size=2.5)
    with pytest.raises(InvalidInputError, match="threads"):
        TextClassifier(ort_bundle, threads=0)
    with pytest.raises(InvalidInputError, match="unknown device"):
        TextClassifier(ort_bundle, device="tpu")
    with pytest.raises(InvalidInputError, match="unknown backend"):
        TextClassifier(ort_bundle, backend="tensorrt")


def test_empty_batches_and_empty_text(onnx_fp32):
    assert onnx_fp32.classify_batch([]) == []
    assert onnx_fp32.logits([]).shape == (0, 3)
    assert len(onnx_fp32.classify("")) == 1
    assert onnx_fp32.classify_batch(iter(["a", "b"]))[1] == onnx_fp32.classify("b")


def test_megabyte_text_is_truncated_to_max_length(onnx_fp32):
    big = "这家店的菜很好吃。" * (1024 * 1024 // 27)
    assert len(big.encode("utf-8")) >= 1_000_000
    ids = onnx_fp32.encode([big])[0]
    assert len(ids) == onnx_fp32.max_length
    head = big[: onnx_fp32.max_length * 2]
    np.testing.assert_allclose(onnx_fp32.logits([big]), onnx_fp32.logits([head]), atol=1e-5)


def test_lone_surrogates_are_refused_or_handled(onnx_fp32):
    text = "ok \ud800 bad"
    try:
        cats = onnx_fp32.classify(text)
    except InvalidInputError as e:
        assert "surrogate" in str(e) or "Unicode" in str(e)
    else:
        assert len(cats) == 1 and 0.0 <= cats[0].score <= 1.0


def assert_concurrent_equals_serial(clf: TextClassifier) -> None:
    work = [TEXTS[i % len(TEXTS)] + str(i) for i in range(48)]
    serial = [clf.classify(t, top_k=3) for t in work]
    start = threading.Barrier(8)

    def job(k):
        start.wait()
        out = [(i, clf.classify(work[i], top_k=3)) for i in range(k, len(work), 8)]
        out.append((-1, clf.classify_batch(work[k::8], top_k=3, batch_size=2)))  # batched calls too
        return k, out

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(job, range(8)))
    for k, chunk in results:
        got = dict(chunk[:-1])
        for i, cats in got.items():
            assert [c.index for c in cats] == [c.index for c in serial[i]]
            np.testing.assert_allclose([c.score for c in cats], [c.score for c in serial[i]], atol=1e-6)
        assert [[c.index for c in r] for r in chunk[-1][1]] == [[c.index for c in serial[i]]
                                                                for i in range(k, len(work), 8)]


def test_concurrent_classify_from_8_threads_equals_serial_onnxruntime(onnx_fp32):
    assert_concurrent_equals_serial(onnx_fp32)


def test_concurrent_classify_from_8_threads_equals_serial_paddlelite(tiny_bundle):
    assert_concurrent_equals_serial(TextClassifier(tiny_bundle, backend="paddlelite", threads=1))


def test_explicit_backend_the_host_cannot_serve_lists_what_is_available(ort_bundle):
    with pytest.raises(BackendUnavailableError) as e:
        TextClassifier(ort_bundle, device="cuda")
    msg = str(e.value)
    assert "Available here" in msg and "model.x86_64.int8.onnx" in msg and "CUDAExecutionProvider" in msg
    with pytest.raises(BackendUnavailableError, match="Available here: .*onnxruntime int8"):
        TextClassifier(ort_bundle, backend="paddlelite")
    with pytest.raises(BackendUnavailableError, match="no model 'nope.onnx'"):
        TextClassifier(ort_bundle, model="nope.onnx")


def test_lite_without_paddlelite_installed_is_unavailable(tiny_bundle, monkeypatch):
    from edgetext.backends import registry

    monkeypatch.setattr(registry, "engine_installed", lambda name: name == "onnxruntime")
    with pytest.raises(BackendUnavailableError, match="paddlelite is not installed"):
        TextClassifier(tiny_bundle, backend="paddlelite")


def test_golden_ids_are_checked_at_load(ort_bundle, tmp_path):
    out = repack(ort_bundle, tmp_path / "bad.etb", lambda m, _: m["golden"][0]["input_ids"].__setitem__(1, 7))
    with pytest.raises(BundleIntegrityError, match="golden.0. token ids differ"):
        TextClassifier(out)
    with pytest.raises(BundleIntegrityError, match="golden.0. token ids differ"):
        Bundle.open(out).verify()
    assert TextClassifier(out, check_golden=False).classify("x")


DESCRIBE_KEYS = ("backend", "model", "precision", "target", "threads", "why", "engine", "not_chosen")


def test_describe_says_what_runs_and_why(onnx_fp32):
    d = onnx_fp32.describe()
    assert all(key in d for key in DESCRIBE_KEYS)
    assert (d["backend"], d["model"], d["precision"], d["target"]) == ("onnxruntime", "model.x86_64.fp32.onnx",
                                                                       "fp32", "x86_64")
    assert d["threads"]["backend"] == 1 and "intra_op" in d["threads"]["how"] and "requested model" in d["why"]
    json.dumps(d)


def test_describe_explains_paddle_lite_threads(tiny_bundle):
    d = TextClassifier(tiny_bundle, backend="paddlelite", threads=1).describe()
    assert all(key in d for key in DESCRIBE_KEYS)
    assert d["threads"]["requested"] == 1 and "OMP_NUM_THREADS" in d["threads"]["how"]
    json.dumps(d)


def test_labels_not_matching_the_real_model_output_are_refused_at_load(ort_bundle, tmp_path):
    """The manifest hides the output width (-1): the load-time probe run catches the mismatch."""
    def two_labels(m, _):
        m["labels"] = ["a", "b"]
        for e in m["models"]:
            e["outputs"][0]["shape"] = [-1, -1]
        for g in m["golden"]:
            g.pop("label"), g.pop("logits"), g.pop("per_model", None)

    out = repack(ort_bundle, tmp_path / "two-labels.etb", two_labels)
    with pytest.raises(ManifestError, match=r"outputs shape \(1, 3\) but the bundle has 2 labels"):
        TextClassifier(out)


def test_classifier_closes_the_bundle_it_opened(ort_bundle):
    with TextClassifier(ort_bundle, threads=1) as clf:
        first = clf.classify("物流很快")
    assert clf.classify("物流很快") == first, "the loaded model keeps working"
    bundle = Bundle.open(ort_bundle)
    TextClassifier(bundle).close()
    assert bundle.read("vocab.txt"), "a bundle the caller passed stays open"
