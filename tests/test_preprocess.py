"""edgetext.preprocess: input checks, length buckets, row padding and the classifier's pre-processing stage."""
from __future__ import annotations

import numpy as np
import pytest

from edgetext.errors import InputTypeError, InvalidInputError, TokenizerError, VocabError
from edgetext.preprocess import TextPreprocessor, check_text, check_texts, length_buckets, pad_id_of, pad_rows


def old_predictor_feeds(rows, pad_id, inputs):
    """TextClassifier._feeds before the predictor used pad_rows: the reference the new code must match."""
    width = max(1, max(len(r) for r in rows))
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, row in enumerate(rows):
        ids[r, :len(row)] = row
        mask[r, :len(row)] = 1
    arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return {role: arrays[role].astype(dtype, copy=False) for role, dtype in inputs}


@pytest.mark.parametrize("inputs", [
    [("input_ids", np.int64), ("token_type_ids", np.int64)],
    [("input_ids", np.int32), ("attention_mask", np.int32), ("token_type_ids", np.int32)],
    [("attention_mask", np.int64), ("input_ids", np.int64)],
])
def test_pad_rows_matches_the_old_predictor_padding(inputs):
    rows = [[101, 5, 6, 102], [101, 102], [101, 7, 102]]
    got = pad_rows(rows, 3, dtypes=dict(inputs))
    want = old_predictor_feeds(rows, 3, inputs)
    assert list(got) == list(want), "the model's declared input order"
    for role in want:
        assert got[role].dtype == want[role].dtype
        np.testing.assert_array_equal(got[role], want[role])


def test_pad_rows_shapes_masks_and_token_types():
    out = pad_rows([[1, 2, 3], [4]], 0, type_rows=[[0, 0, 1], [0]])
    assert set(out) == {"input_ids", "token_type_ids", "attention_mask"} and out["input_ids"].dtype == np.int64
    np.testing.assert_array_equal(out["input_ids"], [[1, 2, 3], [4, 0, 0]])
    np.testing.assert_array_equal(out["attention_mask"], [[1, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(out["token_type_ids"], [[0, 0, 1], [0, 0, 0]])
    assert pad_rows([[]], 9)["input_ids"].tolist() == [[9]], "at least one column"
    assert pad_rows([], 0)["input_ids"].shape == (0, 1)
    with pytest.raises(ValueError, match="token-type rows"):
        pad_rows([[1]], 0, type_rows=[])
    with pytest.raises(ValueError, match="row 0"):
        pad_rows([[1, 2]], 0, type_rows=[[0]])


def test_length_buckets_sort_stably_and_cut_batches():
    buckets = length_buckets([3, 1, 2, 1, 3], 2)
    assert [b.tolist() for b in buckets] == [[1, 3], [2, 0], [4]]
    assert length_buckets([], 4) == []
    with pytest.raises(ValueError, match="batch_size"):
        length_buckets([1], 0)


def test_length_buckets_cap_padded_tokens_per_batch():
    lengths = [512] * 5 + [10] * 40
    buckets = length_buckets(lengths, 32, max_tokens=2048)
    assert sorted(int(i) for b in buckets for i in b) == list(range(45))  # every row once
    assert all(len(b) * max(lengths[i] for i in b) <= 2048 for b in buckets)
    assert [len(b) for b in buckets] == [32, 8, 4, 1]  # short rows fill 32-row batches; long ones 4 per batch
    assert [len(b) for b in length_buckets([5000, 3], 32, max_tokens=100)] == [1, 1]  # an oversize row alone
    assert [len(b) for b in length_buckets(lengths, 32, max_tokens=None)] == [32, 13]



def test_check_text_and_texts():
    assert check_text("a") == "a" and check_texts(iter(["a", "b"])) == ["a", "b"]
    for bad, error, match in [(None, InvalidInputError, "None"), (b"x", InputTypeError, "decode"),
                              (1, InputTypeError, "must be a str")]:
        with pytest.raises(error, match=match):
            check_text(bad)
    for bad in ("a str", None, {"a": 1}, b"xy", 3):
        with pytest.raises(InputTypeError, match="list of str"):
            check_texts(bad)
    with pytest.raises(InvalidInputError, match=r"texts\[1\] is None"):
        check_texts(["ok", None])


class FakeTokenizer:
    """Ids = one per character (+ [CLS]/[SEP]); records how it was called."""

    def __init__(self, fail: Exception | None = None):
        self.calls: list[dict] = []
        self.fail = fail

    def encode(self, text, text_pair=None, max_length=None, truncation=False):
        return self.encode_batch([text], max_length=max_length, truncation=truncation)[0]

    def encode_batch(self, texts, text_pairs=None, max_length=None, truncation=False, threads=None):
        self.calls.append({"max_length": max_length, "truncation": truncation, "threads": threads})
        if self.fail is not None:
            raise self.fail
        rows = [[101, *(ord(c) for c in t), 102] for t in texts]
        return [r[:max_length - 1] + [102] if max_length and len(r) > max_length else r for r in rows]

    def token_to_id(self, token):
        return {"[PAD]": 0, "<pad>": 1}.get(token)


def test_text_preprocessor_truncates_buckets_and_pads():
    tok = FakeTokenizer()
    pre = TextPreprocessor(tok, 6, pad_id_of(tok, "<pad>"), {"input_ids": np.int32, "attention_mask": np.int32},
                           threads=2)
    rows = pre.encode(["abcdefgh", "a", "abc", ""])
    assert [len(r) for r in rows] == [6, 3, 5, 2] and tok.calls[-1] == {"max_length": 6, "truncation": True,
                                                                       "threads": 2}
    seen = []
    for idx, feeds in pre.batches(rows, 3):
        assert set(feeds) == {"input_ids", "attention_mask"} and feeds["input_ids"].dtype == np.int32
        assert feeds["input_ids"].shape == (len(idx), max(len(rows[i]) for i in idx))
        assert (feeds["input_ids"][feeds["attention_mask"] == 0] == 1).all(), "padded with the pad id"
        seen += idx.tolist()
    assert sorted(seen) == [0, 1, 2, 3] and seen[:3] == [3, 1, 2], "shortest first"
    assert pre.encode([]) == [] and pre.probe() == [[101, 102]]
    assert pad_id_of(tok, "[NOPE]") == 0


def test_text_preprocessor_explains_tokenizer_failures():
    bad = TextPreprocessor(FakeTokenizer(UnicodeEncodeError("utf-8", "x", 0, 1, "surrogate")), 8, 0, {})
    with pytest.raises(InvalidInputError, match=r"texts\[1\] is not valid Unicode: lone surrogate '\\ud800'"):
        bad.encode(["ok", "a\ud800"])
    with pytest.raises(TokenizerError, match="the tokenizer failed"):
        TextPreprocessor(FakeTokenizer(ValueError("boom")), 8, 0, {}).encode(["fine"])
    with pytest.raises(VocabError, match="own error"):  # the SDK's own errors pass through unchanged
        TextPreprocessor(FakeTokenizer(VocabError("own error")), 8, 0, {}).encode(["fine"])
