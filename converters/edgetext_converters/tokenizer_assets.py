"""The tokenizer of a model description: its vocabulary, its settings, and the one encoder.

Folders are read by the runtime's reader (``edgetext.tokenizer_folder``), and texts are
encoded by the runtime's native ``edgetext.Tokenizer`` built from exactly the settings the
bundle manifest will carry: the gate measures with the tokenizer the device runs. There is
no fallback tokenizer; if the native one cannot be built, conversion stops with the reason.

May import: numpy, edgetext (errors, tokenizer, tokenizer_folder).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from edgetext.errors import ConversionError, EdgeTextError, VocabError
from edgetext.tokenizer_folder import (DEFAULT_SPECIALS, SPECIAL_KEYS, read_json_object, read_tokenizer_folder,
                                       token_index, tokens_to_vocab_bytes)


@dataclass
class TokenizerAssets:
    """A BERT WordPiece tokenizer: the vocabulary and exactly the manifest "tokenizer" settings."""

    tokens: list[str]
    lowercase: bool = True
    strip_accents: bool | None = None
    tokenize_chinese_chars: bool = True
    clean_text: bool = True
    max_input_chars_per_word: int = 100
    wordpieces_prefix: str = "##"
    special_tokens: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SPECIALS))
    model_max_length: int | None = None
    source: str = ""
    split_special_tokens: bool = False  # False: specials typed in a text are matched, as HF

    def __post_init__(self) -> None:
        if not self.tokens:
            raise ConversionError("the vocabulary is empty")
        self._index: dict[str, int] | None = None

    # --------------------------------------------------------------- lookups
    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def index(self) -> dict[str, int]:
        """token -> id; of duplicate tokens the last wins (the C parser's rule)."""
        if self._index is None:
            self._index = token_index(self.tokens)
        return self._index

    def token_id(self, key: str) -> int:
        tok = self.special_tokens.get(key, key)
        if tok not in self.index:
            raise ConversionError(f"the vocabulary has no {key} token {tok!r}")
        return self.index[tok]

    @property
    def pad_id(self) -> int:
        return self.token_id("pad")

    def special_ids(self) -> list[int]:
        return sorted({self.index[t] for t in self.special_tokens.values() if t in self.index})

    # ------------------------------------------------------------- manifest
    def manifest_dict(self, max_length: int, vocab_file: str = "vocab.txt") -> dict[str, Any]:
        return {
            "vocab": vocab_file,
            "lowercase": bool(self.lowercase),
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": bool(self.tokenize_chinese_chars),
            "clean_text": bool(self.clean_text),
            "max_length": int(max_length),
            "max_input_chars_per_word": int(self.max_input_chars_per_word),
            "wordpieces_prefix": self.wordpieces_prefix,
            "special_tokens": dict(self.special_tokens),
            **({"split_special_tokens": True} if self.split_special_tokens else {}),
        }

    def tokenizer_options(self) -> dict[str, Any]:
        """Keyword options of ``edgetext.Tokenizer.from_vocab_bytes`` for these settings."""
        sp = self.special_tokens
        return {"lowercase": self.lowercase, "strip_accents": self.strip_accents,
                "tokenize_chinese_chars": self.tokenize_chinese_chars, "clean_text": self.clean_text,
                "unk_token": sp["unk"], "sep_token": sp["sep"], "cls_token": sp["cls"], "pad_token": sp["pad"],
                "mask_token": sp["mask"], "max_input_chars_per_word": self.max_input_chars_per_word,
                "wordpieces_prefix": self.wordpieces_prefix,
                "split_special_tokens": bool(self.split_special_tokens)}

    def vocab_bytes(self) -> bytes:
        try:
            return tokens_to_vocab_bytes(self.tokens, self.source or "the vocabulary")
        except VocabError as e:
            raise ConversionError(str(e)) from None

    def with_tokens(self, tokens: list[str]) -> "TokenizerAssets":
        return TokenizerAssets(tokens=list(tokens), lowercase=self.lowercase, strip_accents=self.strip_accents,
                               tokenize_chinese_chars=self.tokenize_chinese_chars, clean_text=self.clean_text,
                               max_input_chars_per_word=self.max_input_chars_per_word,
                               wordpieces_prefix=self.wordpieces_prefix, special_tokens=dict(self.special_tokens),
                               model_max_length=self.model_max_length, source=self.source,
                               split_special_tokens=self.split_special_tokens)

    # ------------------------------------------------------------- encoding
    def encoder(self) -> "Encoder":
        return Encoder(self)

    # -------------------------------------------------------------- reading
    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> "TokenizerAssets":
        """A tokenizer folder read exactly as ``edgetext.Tokenizer.from_pretrained`` reads it."""
        try:
            found = read_tokenizer_folder(folder)
        except VocabError as e:
            raise ConversionError(str(e)) from None
        o = found.options
        specials = {k: o.get(f"{k}_token", DEFAULT_SPECIALS[k]) for k in SPECIAL_KEYS}
        settings = {k: o[k] for k in ("lowercase", "strip_accents", "tokenize_chinese_chars", "clean_text",
                                      "max_input_chars_per_word", "wordpieces_prefix", "split_special_tokens")
                    if k in o}
        return cls(tokens=list(found.tokens), special_tokens=specials, model_max_length=o.get("max_length"),
                   source=str(Path(folder)), **settings)


def load_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold one object (model configs)."""
    try:
        return read_json_object(Path(path))
    except VocabError as e:
        raise ConversionError(str(e)) from None


class Encoder:
    """Encode texts with the runtime's native tokenizer configured from the assets."""

    kind = "edgetext"

    def __init__(self, assets: TokenizerAssets):
        self.assets = assets
        try:
            from edgetext.tokenizer import Tokenizer

            self._tok = Tokenizer.from_vocab_bytes(assets.vocab_bytes(), **assets.tokenizer_options())
        except EdgeTextError as e:
            raise ConversionError(f"cannot build the device tokenizer for this vocabulary: {e}") from e

    def encode_batch(self, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
        return [list(x) for x in self._tok.encode_batch(list(texts), max_length=max_length,
                                                        truncation=max_length is not None)]

    def encode_pairs(self, texts: Sequence[str], pairs: Sequence[str],
                     max_length: int | None = None) -> tuple[list[list[int]], list[list[int]]]:
        """Ids and token types of text pairs, truncated longest-first (the runtime's ``encode_pairs``)."""
        enc = self._tok.encode_batch_with_offsets(list(texts), text_pairs=list(pairs), max_length=max_length,
                                                  truncation=max_length is not None)
        return [list(e["input_ids"]) for e in enc], [list(e["token_type_ids"]) for e in enc]
