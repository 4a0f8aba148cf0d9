"""Hostile vocabularies and texts through the Python tokenizer (issue 13),
compared with Hugging Face `tokenizers` where it has an answer:

- the failure-pop memory bomb (`a`, `##a`, `a`*L + `b`): 16 KB of vocabulary
  took 2 GB to load; now a few MB (measured in a child process);
- combining-mark floods under strip_accents: linear time, same ids and
  offsets as HF, also for long runs mixing spacing (Mc) non-starters and
  precomposed characters, whose alignments moved one character early;
- truncation stops tokenizing once the kept tokens exist (a long text with a
  short max_length is cheap) and still equals HF;
- an empty text without special tokens in a batch (the C side read through a
  NULL pointer; UBSan catches it in `make -C native test-sanitize`).

The C regression tests of the same findings are native/tests/test_hostile.c.
"""
from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.tokenizer_reference import hf_tokenizer

from edgetext.tokenizer import Tokenizer

# "a", continuations of spacing non-starters (Mc, kept by strip_accents:
# U+302F ccc 224, U+1D165 ccc 216, U+1D16D ccc 226) and a few others
MARK_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "e", "o", "##a", "##b", "##e",
               "##\u302f", "##\U0001d165", "##\U0001d16d", "\u302f", "x", "##x"]


@pytest.fixture()
def mark_vocab(tmp_path: Path) -> Path:
    p = tmp_path / "vocab.txt"
    p.write_text("\n".join(MARK_TOKENS) + "\n", encoding="utf-8")
    return p


def cpu_time(fn, *args, **kwargs):
    t0 = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - t0


# --- finding 3: the vocabulary memory bomb ------------------------------------

@pytest.mark.parametrize("length", [8_000, 16_000, 64_000])
def test_failure_pop_bomb_loads_in_linear_memory(tmp_path, length):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[UNK]\n[CLS]\n[SEP]\na\n##a\n" + "a" * length + "b\n", encoding="utf-8")
    # a child process: its peak RSS is the tokenizer's (before: 490 MB at 8 KB, 2 GB at 16 KB)
    code = ("import resource, sys\n"
            "from edgetext.tokenizer import Tokenizer\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "tok = Tokenizer.from_file(sys.argv[1])\n"
            "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
            "print(grown, tok.encode('a' * 50, add_special_tokens=False) == [3] + [4] * 49)\n")
    out = subprocess.run([sys.executable, "-c", code, str(vocab)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    grown_kb, same = out.stdout.split()
    assert same == "True"
    assert int(grown_kb) < 64 * 1024, f"loading a {length}-byte bomb vocabulary grew RSS by {grown_kb} KB"


def test_failure_pop_bomb_tokens_equal_hf(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[UNK]\n[CLS]\n[SEP]\na\n##a\n" + "a" * 300 + "b\n", encoding="utf-8")
    et, hf = Tokenizer.from_file(vocab), hf_tokenizer(vocab)
    texts = ["a" * k for k in (1, 2, 3, 50, 99, 100, 101)] + ["a" * 99 + "b", "a" * 300 + "b", "aab ab ba"]
    for text in texts:
        e = hf.encode(text)
        r = et.encode_with_offsets(text)
        assert (r["input_ids"], r["offsets"]) == (e.ids, e.offsets), text[:40]


# --- finding 4: combining-mark floods ---------------------------------------

def test_mark_flood_is_linear_and_equals_hf(en_vocab):
    et, hf = Tokenizer.from_file(en_vocab), hf_tokenizer(en_vocab)
    n = 80_000  # 320 KB: 6.1 s before (quadratic), HF 0.05 s
    text = "a" + "\u0301" * n + "\u0316" * n
    r, dt = cpu_time(et.encode_with_offsets, text)
    e = hf.encode(text)
    assert (r["input_ids"], r["offsets"]) == (e.ids, e.offsets)
    assert dt < 1.0, f"{len(text.encode())} bytes of marks took {dt:.2f} s CPU"
    # a larger one: linear, so 4x the text costs ~4x, far below the old 6.1 s * 16
    _, dt4 = cpu_time(et.encode, "a" + "\u0301" * (4 * n) + "\u0316" * (4 * n) + " x")
    assert dt4 < 2.0
    # in a batch and with a pair
    rows = et.encode_batch([text, "b", text], [text, text, "c"])
    assert rows == [x.ids for x in hf.encode_batch([(text, text), ("b", text), (text, "c")])]


MARKS = ["\u0301", "\u0316", "\u0300", "\u0327", "\u0345", "\u302f", "\U0001d165", "\U0001d16d", "\u05b0",
         "\u0e38", "\u0f71", "\u0f72", "\u0344", "\u0f73"]  # ccc 230 220 230 202 240 224 216 226 10 103 129 130 230+230 129+130
BASES = ["a", "e", "o", "b", "\u00e1", "\u00e9", "\u1e17", "\u01fa", " ", "x"]  # precomposed ones decompose (NFD inserts marks)


def random_mark_text(rng: random.Random, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(rng.choice(BASES) if rng.random() < 0.15 else rng.choice(MARKS))
    return "".join(out)


def test_mark_runs_equal_hf_ids_and_offsets(mark_vocab):
    """Random runs of non-starters (short: insertion sort; long: counting
    sort), with Mc marks that survive strip_accents and precomposed bases whose
    NFD inserts marks: ids and offsets equal HF (the offsets of inserted marks
    that moved were one character early)."""
    et = Tokenizer.from_file(mark_vocab, max_input_chars_per_word=10_000)
    hf = hf_tokenizer(mark_vocab)
    hf._tokenizer.model.max_input_chars_per_word = 10_000
    rng = random.Random(13)
    texts = [random_mark_text(rng, rng.choice([3, 8, 20, 40, 100, 400])) for _ in range(300)]
    texts += ["\u00e1\u302f", "a\u0301\u302f", "a\u0316\u0301\u302f", "b \u00e1\u302f", "\u00e1" + "\u302f" * 40,
              "\u00e1\u302f\u0301", "\u1e17\u302f\U0001d165" * 20]
    bad = []
    for text, e in zip(texts, hf.encode_batch(texts)):
        r = et.encode_with_offsets(text)
        if (r["input_ids"], r["offsets"]) != (e.ids, e.offsets):
            bad.append((text, r["input_ids"], r["offsets"], e.ids, e.offsets))
    assert not bad, f"{len(bad)} of {len(texts)} differ, e.g. {bad[:2]}"


def test_offsets_of_a_with_acute_and_tone_mark(mark_vocab):
    """Finding 11: "á\\u302f" under strip_accents: ids were equal, the
    offsets of ##\\u302f ended one character early."""
    et, hf = Tokenizer.from_file(mark_vocab), hf_tokenizer(mark_vocab)
    for text in ["\u00e1\u302f", "x \u00e1\u302f", "\u00e1\u302f\u00e1\u302f"]:
        e = hf.encode(text)
        r = et.encode_with_offsets(text)
        assert (r["input_ids"], r["offsets"]) == (e.ids, e.offsets), text
    assert et.encode_with_offsets("\u00e1\u302f")["offsets"] == [(0, 0), (0, 1), (1, 2), (0, 0)]


# --- truncation stops early ------------------------------------------------------

def test_truncation_stops_tokenizing_and_equals_hf(en_vocab):
    et, hf = Tokenizer.from_file(en_vocab), hf_tokenizer(en_vocab)
    hf.enable_truncation(128)
    text = "the quick brown fox jumps over the lazy dog, again and again. " * 40_000  # 2.5 MB
    _, full = cpu_time(et.encode, text)
    r, short = cpu_time(et.encode_with_offsets, text, max_length=128, truncation=True)
    e = hf.encode(text[:20_000])  # HF on a prefix long enough for 128 tokens: the same row
    assert (r["input_ids"], r["offsets"]) == (e.ids, e.offsets)
    assert short < full / 5, f"truncated encode took {short:.3f} s, full {full:.3f} s"
    # pairs: each sequence stops at the budget + 1, and equals HF
    pairs = [(text[:5_000], text[:300]), (text[:301], text[:5_000]), (text[:999], text[:1_000]),
             (text[:1_000], text[:999])]
    for ml in (7, 8, 128):
        hf.enable_truncation(ml)
        got = et.encode_batch_with_offsets([a for a, _ in pairs], [b for _, b in pairs], max_length=ml,
                                           truncation=True)
        want = hf.encode_batch(pairs)
        assert [(g["input_ids"], g["offsets"]) for g in got] == [(w.ids, w.offsets) for w in want]


def test_truncated_text_with_bad_utf8_after_the_kept_part_is_still_an_error(en_vocab):
    from edgetext.errors import InvalidInputError

    et = Tokenizer.from_file(en_vocab)
    with pytest.raises(InvalidInputError, match="UTF-8"):
        et.encode(b"hello world " * 1000 + b"\xc3(", max_length=8, truncation=True)


# --- finding 11: an empty row without special tokens -----------------------------

def test_empty_rows_without_special_tokens(en_vocab):
    et = Tokenizer.from_file(en_vocab)
    assert et.encode_batch([""], add_special_tokens=False) == [[]]
    assert et.encode_batch(["", "hello", "", " "], add_special_tokens=False) == [[], [7592], [], []]
    assert et.encode_batch_with_offsets([""], add_special_tokens=False)[0]["input_ids"] == []
    assert et.encode("", add_special_tokens=False) == []
