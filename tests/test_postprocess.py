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
