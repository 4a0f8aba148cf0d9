"""The one in-memory model description that every reader produces and every pass transforms.

A :class:`ModelDescription` is either in *weights form* (an :class:`ErnieConfig` plus a
``{PaddleNLP name: ndarray}`` dict: PaddleNLP checkpoints and Hugging Face folders) or in
*graph form* (a Paddle inference program plus its parameters: Paddle inference models, and
every weights-form model once lowered). Both carry the tokenizer assets and the labels.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgetext.errors import ConversionError, VocabError
from edgetext.tokenizer_config import SPECIAL_KEYS, read_tokenizer_config
_DEFAULT_SPECIALS = {"unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "mask": "[MASK]"}


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
    special_tokens: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_SPECIALS))
    model_max_length: int | None = None
    source: str = ""

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
        if self._index is None:
            idx: dict[str, int] = {}
            for i, t in enumerate(self.tokens):
                idx.setdefault(t, i)  # the first occurrence wins (as BertTokenizer's vocab loader)
            self._index = idx
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
        }

    def vocab_bytes(self) -> bytes:
        return "".join(t + "\n" for t in self.tokens).encode("utf-8")

    def with_tokens(self, tokens: list[str]) -> "TokenizerAssets":
        return TokenizerAssets(tokens=list(tokens), lowercase=self.lowercase, strip_accents=self.strip_accents,
                               tokenize_chinese_chars=self.tokenize_chinese_chars, clean_text=self.clean_text,
                               max_input_chars_per_word=self.max_input_chars_per_word,
                               wordpieces_prefix=self.wordpieces_prefix, special_tokens=dict(self.special_tokens),
                               model_max_length=self.model_max_length, source=self.source)

    # ------------------------------------------------------------- encoding
    def encoder(self) -> "Encoder":
        return Encoder(self)

    # -------------------------------------------------------------- reading
    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> "TokenizerAssets":
        """vocab.txt (+ tokenizer_config.json, tokenizer.json) in ``folder``."""
        folder = Path(folder)
        settings: dict[str, Any] = {}
        tokens: list[str] | None = None
        tj = folder / "tokenizer.json"
        if tj.is_file():
            tokens, settings = _read_tokenizer_json(tj)
        tc = folder / "tokenizer_config.json"
        if tc.is_file():
            settings.update(_read_tokenizer_config(tc))
        vf = folder / "vocab.txt"
        if vf.is_file():
            tokens = _read_vocab_file(vf)
        if tokens is None:
            raise ConversionError(f"no tokenizer vocabulary in {folder}: expected vocab.txt (or tokenizer.json "
                                  "with a WordPiece model)")
        return cls(tokens=tokens, source=str(folder), **settings)


def _read_vocab_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConversionError(f"{path} is not UTF-8 text: {e}") from None
    tokens = [line.rstrip("\r") for line in text.split("\n")]
    if tokens and tokens[-1] == "":
        tokens.pop()
    if not tokens:
        raise ConversionError(f"{path} is empty")
    if len(tokens) > 1 and all("\t" in t and t.rsplit("\t", 1)[1].isdigit() for t in tokens):
        tokens = [t.rsplit("\t", 1)[0] for t in tokens]  # ERNIE 1.0 style "token<TAB>id" lines
    if any(t == "" for t in tokens):
        raise ConversionError(f"{path} has an empty line at token {tokens.index('')}: not a vocab.txt")
    return tokens


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConversionError(f"{path} is not valid JSON: {e}") from None


def load_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold one object (model configs, tokenizer.json)."""
    data = _load_json(path)
    if not isinstance(data, dict):
        raise ConversionError(f"{path}: expected a JSON object")
    return data


def _read_tokenizer_config(path: Path) -> dict[str, Any]:
    """The runtime's reading of tokenizer_config.json, in this module's settings keys."""
    try:
        opts, _ = read_tokenizer_config(path)
    except VocabError as e:
        raise ConversionError(str(e)) from None
    out: dict[str, Any] = {k: opts[k] for k in ("lowercase", "strip_accents", "tokenize_chinese_chars") if k in opts}
    out["special_tokens"] = {**_DEFAULT_SPECIALS,
                             **{k: opts[f"{k}_token"] for k in SPECIAL_KEYS if f"{k}_token" in opts}}
    if "max_length" in opts:
        out["model_max_length"] = opts["max_length"]
    return out


def _read_tokenizer_json(path: Path) -> tuple[list[str] | None, dict[str, Any]]:
    tj = load_json_object(path)
    out: dict[str, Any] = {}
    model = tj.get("model") or {}
    if model.get("type") not in (None, "WordPiece"):
        raise ConversionError(f"{path}: tokenizer model {model.get('type')!r} is not supported (WordPiece only)")
    tokens = None
    vocab = model.get("vocab")
    if isinstance(vocab, dict) and vocab:
        tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    if "continuing_subword_prefix" in model:
        out["wordpieces_prefix"] = model["continuing_subword_prefix"]
    if "max_input_chars_per_word" in model:
        out["max_input_chars_per_word"] = int(model["max_input_chars_per_word"])
    norm = tj.get("normalizer") or {}
    if norm.get("type") == "BertNormalizer":
        out["lowercase"] = bool(norm.get("lowercase", True))
        out["strip_accents"] = norm.get("strip_accents")
        out["tokenize_chinese_chars"] = bool(norm.get("handle_chinese_chars", True))
        out["clean_text"] = bool(norm.get("clean_text", True))
    trunc = tj.get("truncation") or {}
    if isinstance(trunc.get("max_length"), int):
        out["model_max_length"] = trunc["max_length"]
    return tokens, out


class Encoder:
    """Encode texts with the project tokenizer (``edgetext.Tokenizer``) when it is available,
    else with Hugging Face ``tokenizers`` configured identically (the parity reference)."""

    def __init__(self, assets: TokenizerAssets):
        self.assets = assets
        self.kind = ""
        self._encode_batch: Callable[[Sequence[str], int], list[list[int]]] = self._build()

    def _build(self):
        a = self.assets
        try:
            from edgetext.tokenizer import Tokenizer  # the project tokenizer (native)

            tok = Tokenizer.from_vocab_bytes(
                a.vocab_bytes(), lowercase=a.lowercase, strip_accents=a.strip_accents,
                tokenize_chinese_chars=a.tokenize_chinese_chars, clean_text=a.clean_text,
                unk_token=a.special_tokens["unk"], sep_token=a.special_tokens["sep"],
                cls_token=a.special_tokens["cls"], pad_token=a.special_tokens["pad"],
                max_input_chars_per_word=a.max_input_chars_per_word, wordpieces_prefix=a.wordpieces_prefix)
            self.kind = "edgetext"

            def enc(texts: Sequence[str], max_length: int | None) -> list[list[int]]:
                return [list(x) for x in tok.encode_batch(list(texts), max_length=max_length,
                                                          truncation=max_length is not None)]
            return enc
        except Exception:  # noqa: BLE001  (not built yet / not importable: fall back to the reference)
            pass
        try:
            from tokenizers import Tokenizer as HFTokenizer, models, normalizers, pre_tokenizers, processors
        except ImportError:
            raise ConversionError("no tokenizer available: build edgetext._native or pip install tokenizers") \
                from None
        vocab = dict(a.index)
        tok = HFTokenizer(models.WordPiece(vocab=vocab, unk_token=a.special_tokens["unk"],
                                           max_input_chars_per_word=a.max_input_chars_per_word,
                                           continuing_subword_prefix=a.wordpieces_prefix))
        tok.normalizer = normalizers.BertNormalizer(clean_text=a.clean_text,
                                                    handle_chinese_chars=a.tokenize_chinese_chars,
                                                    strip_accents=a.strip_accents, lowercase=a.lowercase)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        cls_t, sep_t = a.special_tokens["cls"], a.special_tokens["sep"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls_t} $A {sep_t}", pair=f"{cls_t} $A {sep_t} $B:1 {sep_t}:1",
            special_tokens=[(cls_t, a.token_id("cls")), (sep_t, a.token_id("sep"))])
        self.kind = "hf-tokenizers"

        def enc_hf(texts: Sequence[str], max_length: int | None) -> list[list[int]]:
            if max_length is not None:
                tok.enable_truncation(max_length)
            else:
                tok.no_truncation()
            return [e.ids for e in tok.encode_batch(list(texts))]
        return enc_hf

    def encode_batch(self, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
        return self._encode_batch(texts, max_length)

    def batch_arrays(self, texts: Sequence[str], max_length: int) -> dict[str, np.ndarray]:
        """input_ids / token_type_ids / attention_mask, int64, right-padded to the longest."""
        return pad_batch(self.encode_batch(texts, max_length), self.assets.pad_id)


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int) -> dict[str, np.ndarray]:
    n = max(1, max((len(s) for s in seqs), default=1))
    ids = np.full((len(seqs), n), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), n), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": mask}


@dataclass
class GraphModel:
    """A Paddle inference program (legacy .pdmodel bytes) and its parameters."""

    program_bytes: bytes
    params: dict[str, np.ndarray]
    feed_names: list[str]
    fetch_names: list[str]
    feed_dtypes: dict[str, str] = field(default_factory=dict)  # name -> "int64" | "int32"


@dataclass
class ModelDescription:
    """What a reader produced and what passes transform (see the module docstring)."""

    source_kind: str  # "paddle-inference" | "paddlenlp-checkpoint" | "hf-bert"
    source_path: str
    tokenizer: TokenizerAssets
    labels: list[str]
    num_labels: int
    config: Any = None  # ErnieConfig (weights form)
    weights: dict[str, np.ndarray] | None = None  # PaddleNLP names (weights form)
    graph: GraphModel | None = None  # graph form
    hf_weights: dict[str, np.ndarray] | None = None  # the untouched HF tensors (numpy reference)
    hf_config: dict[str, Any] | None = None
    source_size: int = 0  # bytes of the source's weights file(s)
    notes: list[str] = field(default_factory=list)
    passes: list[str] = field(default_factory=list)
    max_length: int | None = None

    @property
    def form(self) -> str:
        return "graph" if self.graph is not None else "weights"

    @property
    def reference_name(self) -> str:
        return {"paddle-inference": "paddle-inference", "paddlenlp-checkpoint": "paddle-inference",
                "hf-bert": "numpy-bert"}[self.source_kind]
