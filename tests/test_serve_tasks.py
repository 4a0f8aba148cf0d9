"""edgetext serve with a multi-label bundle and a text-pair bundle (issue 11): the real server on 127.0.0.1, each
response compared with ``TextClassifier.classify_batch`` on the texts of the engine call it came from (the
``batch`` a response names), as tests/test_serve.py does for the committed single-label bundle.

The bundles are the small ones tests/test_multilabel.py and tests/test_pairs.py build (cached once per machine
under .cache/convert_tests: their builders run in child processes).
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

import edgetext  # noqa: E402
from edgetext.errors import PairInputError  # noqa: E402
from edgetext.serving.config import ServeConfig  # noqa: E402
from edgetext.serving.payload import classify_request  # noqa: E402
from support import task_bundles  # noqa: E402
from support.convert_helpers import ASSETS  # noqa: E402
from test_serve import ENGINE_BATCH, Server  # noqa: E402

pytestmark = pytest.mark.skipif(not (ASSETS / "bert-base-chinese" / "vocab.txt").is_file() or
                                not (ASSETS / "tnews" / "train.json").is_file(),
                                reason="needs the assets (make assets)")


def multilabel_bundle() -> tuple[Path, list[str]]:
    """The tuned multi-label bundle (int8, per-label thresholds) and its held-out message texts."""
    return task_bundles.multilabel("tuned")


def pair_bundle() -> tuple[Path, list[tuple[str, str]]]:
    """The fp32 text-pair bundle and its held-out (text, pair) rows."""
    bundle, rows = task_bundles.pairs("fp32")
    return bundle, [(r[0], r[1]) for r in rows]


def _reference(clf, texts, top_k=None, pairs=None) -> list[list[dict]]:
    return [[c._asdict() for c in cats]
            for cats in clf.classify_batch(texts, top_k=top_k, batch_size=ENGINE_BATCH, text_pairs=pairs)]


def test_a_multi_label_bundle_answers_every_label_at_or_above_its_threshold():
    bundle, texts = multilabel_bundle()
    texts = texts[:24]
    server = Server(bundle=bundle)
    try:
        with edgetext.TextClassifier(bundle, threads=1) as clf:
            status, _, health = server.request("/healthz")
            assert status == 200 and health["multi_label"] is True
            assert health["thresholds"] == list(clf.thresholds) and health["labels"] == list(clf.labels)
            status, _, body = server.request("/v1/classify", {"texts": texts})
            assert status == 200, body
            assert body["multi_label"] is True and body["batch"]["requests"] == 1
            assert body["results"] == _reference(clf, texts)
            # what that is: the labels whose sigmoid probability reaches the bundle's threshold, best first
            probs = clf.scores(texts, batch_size=ENGINE_BATCH)
            for row, p in zip(body["results"], probs):
                want = [j for j in range(len(clf.labels)) if float(p[j]) >= clf.thresholds[j]]
                assert sorted(c["index"] for c in row) == want
                assert [c["score"] for c in row] == sorted((float(p[j]) for j in want), reverse=True)
            sizes = [len(r) for r in body["results"]]
            assert max(sizes) >= 3 and len(set(sizes)) >= 3, sizes  # label sets of several sizes, not one label
            status, _, top = server.request("/v1/classify", {"texts": texts, "top_k": 1})
            assert status == 200 and top["results"] == _reference(clf, texts, top_k=1)
            status, _, one = server.request("/v1/classify", {"text": texts[0]})
            assert status == 200 and one["results"] == _reference(clf, texts[:1])
    finally:
        code, err = server.stop()
    assert code == 0, err


def test_a_text_pair_bundle_takes_text_pairs():
    bundle, rows = pair_bundle()
    texts, pairs = [r[0] for r in rows[:12]], [r[1] for r in rows[:12]]
    server = Server(bundle=bundle)
    try:
        with edgetext.TextClassifier(bundle, threads=1) as clf:
            status, _, health = server.request("/healthz")
            assert status == 200 and health["text_pairs"] is True and health["multi_label"] is False
            status, _, body = server.request("/v1/classify", {"texts": texts, "text_pairs": pairs, "top_k": 2})
            assert status == 200, body
            assert body["results"] == _reference(clf, texts, 2, pairs) and "multi_label" not in body
            # the second texts matter: the same first texts with other second texts score otherwise
            assert body["results"] != _reference(clf, texts, 2, pairs[1:] + pairs[:1])
            status, _, one = server.request("/v1/classify", {"text": texts[0], "text_pair": pairs[0]})
            assert status == 200 and one["results"] == _reference(clf, texts[:1], None, pairs[:1])
            for bad, message in (({"texts": texts}, 'send "text_pairs" with "texts"'),
                                 ({"text": texts[0], "text_pairs": pairs[:1]}, 'send "text_pair" with "text"'),
                                 ({"texts": texts, "text_pairs": pairs[:3]}, '3 "text_pairs" for 12 "texts"')):
                status, _, err = server.request("/v1/classify", bad)
                assert status == 422 and err["error"]["type"] == "PairInputError", err
                assert message in err["error"]["message"]
    finally:
        code, err = server.stop()
    assert code == 0, err


def test_a_single_text_bundle_refuses_pairs_by_name():
    config = ServeConfig(bundle="unused.etb")
    with pytest.raises(PairInputError, match='classifies single texts, not pairs: drop "text_pairs"'):
        classify_request({"texts": ["a"], "text_pairs": ["b"]}, config)
    assert classify_request({"texts": ["a", "b"]}, config).items() == ["a", "b"]
    assert classify_request({"texts": ["a"], "text_pairs": ["b"]}, config, pairs=True).items() == [("a", "b")]
