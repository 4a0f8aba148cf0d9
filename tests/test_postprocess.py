"""edgetext.postprocess: softmax and top-k Categories (and their old import paths)."""
from __future__ import annotations

import numpy as np

import edgetext
from edgetext import postprocess, predictor
from edgetext.postprocess import Category, ClassificationPostprocessor, softmax, top_k_categories


def test_softmax_rows_sum_to_one_without_overflow():
    logits = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0]], dtype=np.float32)
    p = softmax(logits)
    assert p.dtype == np.float32 and p.shape == (2, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(p[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), rtol=1e-6)
    np.testing.assert_allclose(p[1], [0.5, 0.5, 0.0], atol=1e-7)
    assert softmax(np.zeros((0, 3), dtype=np.float32)).shape == (0, 3)


def test_top_k_is_best_first_with_ties_by_index():
    probs = np.array([[0.2, 0.5, 0.3], [0.4, 0.2, 0.4]], dtype=np.float32)
    got = top_k_categories(probs, ("a", "b", "c"), 2)
    assert [[(c.label, c.index) for c in row] for row in got] == [[("b", 1), ("c", 2)], [("a", 0), ("c", 2)]]
    assert all(type(c.score) is float for row in got for c in row)


def test_postprocessor_caps_top_k_at_the_label_count():
    post = ClassificationPostprocessor(["neg", "pos"])
    out = post(np.array([[0.0, 1.0]], dtype=np.float32), top_k=5)
    assert [c.label for c in out[0]] == ["pos", "neg"] and abs(sum(c.score for c in out[0]) - 1) < 1e-6
    assert post(np.zeros((0, 2), dtype=np.float32)) == []


def test_category_and_softmax_keep_their_import_paths():
    assert edgetext.Category is predictor.Category is postprocess.Category is Category
    assert predictor.softmax is softmax
    assert Category("x", 0.5, 1) == ("x", 0.5, 1) and Category("x", 0.5, 1).index == 1


def test_multi_label_postprocessor_returns_every_label_at_or_above_its_threshold():
    logits = np.array([[2.0, -1.0, 0.0], [-3.0, -2.0, -4.0]], dtype=np.float32)
    post = ClassificationPostprocessor(["a", "b", "c"], thresholds=[0.5, 0.2, 0.5])
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))  # hand-checked: sigmoid(0) = 0.5 is kept (>=)
    out = post(logits)
    assert [[c.label for c in row] for row in out] == [["a", "c", "b"], []]  # by score
    np.testing.assert_allclose([c.score for c in out[0]], [p[0, 0], p[0, 2], p[0, 1]], rtol=1e-6)
    assert [c.index for c in post(logits, top_k=2)[0]] == [0, 2]  # best first, at most top_k
    assert [c.label for c in post(logits, score_threshold=0.0)[1]] == ["b", "a", "c"]  # every label, by score
    assert post(logits, score_threshold=0.9)[0] == []
    assert post.decisions(logits).tolist() == [[True, True, True], [False, False, False]]


def test_sigmoid_does_not_overflow_and_softmax_bundles_keep_their_scores():
    x = np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32)
    np.testing.assert_allclose(postprocess.sigmoid(x), [[0.0, 0.5, 1.0]], atol=1e-7)
    single = ClassificationPostprocessor(["neg", "pos"])
    logits = np.array([[0.0, 1.0]], dtype=np.float32)
    assert single(logits) == single(logits, top_k=1) == [[Category("pos", float(softmax(logits)[0, 1]), 1)]]
    assert single(logits, top_k=2, score_threshold=0.5) == single(logits, top_k=1)
