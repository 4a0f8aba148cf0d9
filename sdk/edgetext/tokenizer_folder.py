"""The one reader of Hugging Face / PaddleNLP tokenizer folders and vocabularies.

Both the runtime (``Tokenizer.from_pretrained`` / ``from_file``) and the converters
(``TokenizerAssets.from_folder``) call this module, so a bundle tokenizes on the
device exactly as it did during conversion and gating.

Precedence (what transformers' ``AutoTokenizer`` does with a fast BERT tokenizer):

1. ``tokenizer.json`` defines the pipeline and the vocabulary: a ``WordPiece`` model,
   a ``BertNormalizer`` (or none: identity), a ``BertPreTokenizer``, a
   ``[CLS] $A [SEP]`` post-processor. Anything else is refused (VocabError): EdgeText
   implements exactly the BERT pipeline, and a silent approximation would tokenize
   differently from the framework the model was trained with.
2. ``tokenizer_config.json`` (PaddleNLP's ``init_kwargs`` merged in) overrides
   ``do_lower_case`` / ``strip_accents`` / ``tokenize_chinese_chars`` where it states
   them (transformers' ``BertTokenizerFast`` rebuilds its normalizer from these), sets
   the special tokens and ``model_max_length``, and names the vocab file.
3. Without ``tokenizer.json``: ``vocab.txt`` (or the config's ``vocab_file``, or one
   ``*vocab*.txt``) with the settings of ``tokenizer_config.json``.

Vocabulary rules (those of the C parser, ``native/src/vocab.c``, and HF's
``WordPiece::read_file``): one token per line, ids by line; a final newline ends the
last line; trailing Unicode White_Space is trimmed; invalid UTF-8 is refused; an empty
line is the empty token; of duplicate tokens the last line wins. ERNIE 1.0
``token<TAB>id`` files are read as the tokens in id order.

May import: the standard library and ``edgetext.errors`` only (no native extension).
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import VocabError

log = logging.getLogger(__name__)

SPECIAL_KEYS = ("unk", "cls", "sep", "pad", "mask")
DEFAULT_SPECIALS = {"unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "mask": "[MASK]"}
# Unicode White_Space (what Rust's str::trim_end and the C parser trim); Python's
# str.isspace also counts U+001C..U+001F, which are not White_Space.
_WHITE_SPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                         "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_ERNIE_LINE = re.compile(r"^(.*)\t(\d{1,9})$", re.DOTALL)
_MAX_CONFIG_BYTES = 64 << 20  # a tokenizer.json of a 250k-token vocabulary is ~20 MB
MAX_VOCAB_BYTES = 64 << 20  # a vocab.txt (bert-base-chinese: 110 KB; 250k tokens: ~5 MB)
MAX_VOCAB_TOKENS = 1 << 22  # ids of a vocabulary (4M; the largest real WordPiece vocabularies have ~250k)
MAX_INPUT_CHARS_PER_WORD = 1_000_000  # the manifest schema's bound too


def trim_end(token: str) -> str:
    """``token`` without trailing Unicode White_Space."""
    end = len(token)
    while end and token[end - 1] in _WHITE_SPACE:
        end -= 1
    return token[:end]


def vocab_tokens(data: bytes, where: str = "the vocabulary") -> list[str]:
    """Tokens (index = id) of vocab.txt bytes, by the rules in the module docstring."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = bytes(data)[: exc.start].count(b"\n") + 1
        raise VocabError(f"{where}: line {line} is not valid UTF-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or all(not trim_end(t) for t in lines):
        raise VocabError(f"{where} is empty")
    ernie = [_ERNIE_LINE.match(trim_end(t)) for t in lines] if len(lines) > 1 else [None]
    if all(ernie):
        by_id = {int(m.group(2)): trim_end(m.group(1)) for m in ernie if m}
        if sorted(by_id) != list(range(len(lines))):
            raise VocabError(f"{where}: token<TAB>id lines whose ids are not 0..{len(lines) - 1} each once")
        return [by_id[i] for i in range(len(lines))]
    return [trim_end(t) for t in lines]


def token_index(tokens: list[str]) -> dict[str, int]:
    """token -> id; of duplicates the last one wins (as the C parser and HF)."""
    return {t: i for i, t in enumerate(tokens)}


def tokens_to_vocab_bytes(tokens: list[str], where: str = "the vocabulary") -> bytes:
    """vocab.txt bytes that :func:`vocab_tokens` reads back as ``tokens``."""
    for i, t in enumerate(tokens):
        if "\n" in t or t != trim_end(t):
            raise VocabError(f"{where}: token {i} {t!r} cannot be written as a vocab.txt line "
                             "(newline or trailing whitespace)")
    return "".join(t + "\n" for t in tokens).encode("utf-8")


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold one object; VocabError naming the file otherwise."""
    try:
        if path.stat().st_size > _MAX_CONFIG_BYTES:
            raise VocabError(f"{path} is larger than {_MAX_CONFIG_BYTES >> 20} MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise VocabError(f"{path} is not valid JSON: {str(exc)[:200]}") from None
    except OSError as exc:
        raise VocabError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise VocabError(f"{path} must hold a JSON object")
    return data


def read_tokenizer_config(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(options, raw)`` of a tokenizer_config.json: Tokenizer keyword options
    (lowercase, strip_accents, tokenize_chinese_chars, ``<key>_token``, max_length) and
    the raw config with PaddleNLP's ``init_kwargs`` merged in."""
    cfg = read_json_object(Path(path))
    if isinstance(cfg.get("init_kwargs"), dict):
        cfg = {**cfg["init_kwargs"], **cfg}
    opts: dict[str, Any] = {}
    if "do_lower_case" in cfg:
        opts["lowercase"] = _bool(cfg["do_lower_case"], path, "do_lower_case")
    if "strip_accents" in cfg:
        if cfg["strip_accents"] not in (None, True, False):
            raise VocabError(f"{path}: strip_accents must be true, false or null, got {cfg['strip_accents']!r}")
        opts["strip_accents"] = cfg["strip_accents"]
    if "tokenize_chinese_chars" in cfg:
        opts["tokenize_chinese_chars"] = _bool(cfg["tokenize_chinese_chars"], path, "tokenize_chinese_chars")
    if cfg.get("split_special_tokens"):  # transformers' option: specials typed in a text are plain text
        opts["split_special_tokens"] = _bool(cfg["split_special_tokens"], path, "split_special_tokens")
    for key in SPECIAL_KEYS:
        value = cfg.get(f"{key}_token")
        if isinstance(value, dict):  # AddedToken serialisation
            value = value.get("content")
        if isinstance(value, str) and value:
            opts[f"{key}_token"] = _special(value, path, f"{key}_token")
    mml = cfg.get("model_max_length")
    if _int_in(mml, 1, 1_000_000):  # HF: huge = "no limit"
        opts["max_length"] = mml
    return opts, cfg


def _special(value: str, path: Path, what: str) -> str:
    """A special-token string the native tokenizer can take: no NUL, valid Unicode (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise VocabError(f"{path}: {what} {value!r} is not valid Unicode (a lone surrogate)") from None
    if "\x00" in value:
        raise VocabError(f"{path}: {what} {value!r} has a NUL character")
    return value


def _int_in(value: Any, low: int, high: int) -> bool:
    """`value` is an int (not a bool) with low <= value < high."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < high


def _bool(value: Any, path: Path, key: str) -> bool:
    if not isinstance(value, bool):
        raise VocabError(f"{path}: {key} must be true or false, got {value!r}")
    return value


def read_tokenizer_json(path: Path) -> tuple[list[str], dict[str, Any]]:
    """``(tokens, options)`` of a tokenizer.json holding the BERT WordPiece pipeline."""
    spec = read_json_object(path)
    model = spec.get("model")
    if not isinstance(model, dict) or model.get("type") != "WordPiece":
        kind = model.get("type") if isinstance(model, dict) else model
        raise VocabError(f"{path}: only WordPiece models are supported, got {str(kind)[:100]!r}")
    if not isinstance(model.get("vocab"), dict):
        raise VocabError(f"{path}: model.vocab must be an object of token -> id, not "
                         f"{type(model.get('vocab')).__name__}")
    opts: dict[str, Any] = {}
    norm = spec.get("normalizer")
    if norm is None:  # no normalizer = identity = BertNormalizer with every step off
        opts.update(lowercase=False, strip_accents=False, tokenize_chinese_chars=False, clean_text=False)
    elif isinstance(norm, dict) and norm.get("type") == "BertNormalizer":
        opts["clean_text"] = bool(norm.get("clean_text", True))
        opts["tokenize_chinese_chars"] = bool(norm.get("handle_chinese_chars", True))
        opts["lowercase"] = bool(norm.get("lowercase", True))
        if norm.get("strip_accents") not in (None, True, False):
            raise VocabError(f"{path}: BertNormalizer strip_accents must be true, false or null")
        opts["strip_accents"] = norm.get("strip_accents")
    else:
        raise VocabError(f"{path}: unsupported normalizer {_type_name(norm)} (BertNormalizer expected): "
                         "EdgeText implements the BERT pipeline only")
    pre = spec.get("pre_tokenizer")
    if not (isinstance(pre, dict) and pre.get("type") == "BertPreTokenizer"):
        raise VocabError(f"{path}: unsupported pre_tokenizer {_type_name(pre)} (BertPreTokenizer expected): "
                         "EdgeText implements the BERT pipeline only")
    opts.update(_post_processor_tokens(spec.get("post_processor"), path))
    for key, default, opt in (("unk_token", "[UNK]", "unk_token"), ("continuing_subword_prefix", "##",
                                                                   "wordpieces_prefix")):
        value = model.get(key, default)
        if not isinstance(value, str) or "\x00" in value or (key == "unk_token" and not value):
            raise VocabError(f"{path}: model.{key} must be a{' non-empty' if key == 'unk_token' else ''} string, "
                             f"got {str(value)[:100]!r}")
        opts[opt] = _special(value, path, f"model.{key}")
    mic = model.get("max_input_chars_per_word", 100)
    if not isinstance(mic, int) or isinstance(mic, bool) or not 0 < mic <= MAX_INPUT_CHARS_PER_WORD:
        raise VocabError(f"{path}: max_input_chars_per_word must be an integer in 1..{MAX_INPUT_CHARS_PER_WORD}, "
                         f"got {str(mic)[:40]}")
    opts["max_input_chars_per_word"] = mic
    trunc = spec.get("truncation")
    if isinstance(trunc, dict) and _int_in(trunc.get("max_length"), 1, 1_000_000):  # HF: huge = "no limit"
        opts["max_length"] = trunc["max_length"]
    tokens = _tokens_from_json_vocab(model["vocab"], path)
    index = token_index(tokens)
    added_tokens = spec.get("added_tokens") or []
    if not isinstance(added_tokens, list):
        raise VocabError(f"{path}: added_tokens must be a list, not {type(added_tokens).__name__}")
    for added in added_tokens:
        content, aid = (added.get("content"), added.get("id")) if isinstance(added, dict) else (None, None)
        if not isinstance(content, str) or index.get(content) != aid:
            raise VocabError(f"{path}: added token {content!r} (id {aid}) is not a vocabulary token with that id: "
                             "tokens added outside the WordPiece vocabulary are not supported")
    return tokens, opts


def _type_name(obj: Any) -> str:
    if isinstance(obj, dict):
        return repr(obj.get("type"))
    return "null" if obj is None else repr(type(obj).__name__)


def _post_processor_tokens(post: Any, path: Path) -> dict[str, str]:
    """cls/sep tokens of a ``[CLS] $A [SEP]`` post-processor (BertProcessing or TemplateProcessing)."""
    found = _post_processor_specials(post, path)
    for key, value in found.items():
        if not value:
            raise VocabError(f"{path}: post_processor {key.replace('_token', '')} token {value!r} is empty")
        _special(value, path, f"post_processor {key}")
    return found


def _post_processor_specials(post: Any, path: Path) -> dict[str, str]:
    if post is None:
        return {}
    if isinstance(post, dict) and post.get("type") == "BertProcessing":
        try:
            cls_t, sep_t = post["cls"][0], post["sep"][0]
        except (KeyError, IndexError, TypeError):
            raise VocabError(f"{path}: malformed BertProcessing post-processor") from None
        if not (isinstance(cls_t, str) and isinstance(sep_t, str)):
            raise VocabError(f"{path}: BertProcessing cls/sep tokens must be strings")
        return {"cls_token": cls_t, "sep_token": sep_t}
    if isinstance(post, dict) and post.get("type") == "TemplateProcessing":
        single = post.get("single")
        try:
            first, middle, last = single  # type: ignore[misc]
            cls_t, sep_t = first["SpecialToken"]["id"], last["SpecialToken"]["id"]
            ok = middle["Sequence"]["id"] == "A"
        except (TypeError, ValueError, KeyError):
            ok = False
        if ok and isinstance(cls_t, str) and isinstance(sep_t, str):
            return {"cls_token": cls_t, "sep_token": sep_t}
        raise VocabError(f"{path}: TemplateProcessing {single!r} is not '[CLS] $A [SEP]'")
    raise VocabError(f"{path}: unsupported post_processor {_type_name(post)} (BertProcessing or a "
                     "'[CLS] $A [SEP]' TemplateProcessing expected)")


def _tokens_from_json_vocab(vocab: dict[str, Any], path: Path) -> list[str]:
    if not vocab:
        raise VocabError(f"{path}: empty vocabulary")
    ids = list(vocab.values())
    if not all(_int_in(i, 0, MAX_VOCAB_TOKENS) for i in ids):
        bad = next(i for i in ids if not _int_in(i, 0, MAX_VOCAB_TOKENS))
        raise VocabError(f"{path}: vocabulary ids must be integers in 0..{MAX_VOCAB_TOKENS - 1}, got "
                         f"{str(bad)[:40]} ({type(bad).__name__})")
    if len(set(ids)) != len(ids):
        raise VocabError(f"{path}: two tokens share one vocabulary id")
    if max(ids) + 1 - len(ids) > max(len(ids), 1024):  # unused ids become empty lines: a few, not millions
        raise VocabError(f"{path}: the vocabulary's ids reach {max(ids)} for {len(ids)} tokens: more unused ids "
                         "than tokens (a malformed or hostile tokenizer.json)")
    tokens = [""] * (max(ids) + 1)  # an unused id is an empty line, as HF writes vocab.txt
    for tok, i in vocab.items():
        tokens[i] = tok
    tokens_to_vocab_bytes(tokens, str(path))  # refuse what vocab.txt cannot hold
    return tokens


@dataclass(frozen=True)
class TokenizerFolder:
    """What a tokenizer folder says: the tokens (index = id) and ``Tokenizer`` options."""

    folder: Path
    tokens: list[str]
    options: dict[str, Any]  # keyword options of Tokenizer.from_vocab_bytes
    sources: dict[str, str] = field(default_factory=dict)  # "vocab" / option -> file it came from

    def vocab_bytes(self) -> bytes:
        return tokens_to_vocab_bytes(self.tokens, str(self.folder))


def read_tokenizer_folder(folder: str | os.PathLike) -> TokenizerFolder:
    """Read ``folder`` by the precedence in the module docstring (VocabError on any problem)."""
    try:
        root = Path(folder)
        is_dir = root.is_dir()
    except (TypeError, ValueError, OSError) as exc:
        raise VocabError(f"cannot read the tokenizer folder {folder!r}: {exc}") from None
    if not is_dir:
        raise VocabError(f"tokenizer folder not found: {root}")
    options: dict[str, Any] = {}
    sources: dict[str, str] = {}
    tokens: list[str] | None = None
    tj = root / "tokenizer.json"
    if _is_file(tj):
        tokens, json_opts = read_tokenizer_json(tj)
        options.update(json_opts)
        sources.update({k: tj.name for k in json_opts})
        sources["vocab"] = tj.name
    cfg: dict[str, Any] = {}
    tc = root / "tokenizer_config.json"
    if _is_file(tc):
        cfg_opts, cfg = read_tokenizer_config(tc)
        overridden = {k for k in cfg_opts if k in options and options[k] != cfg_opts[k]}
        if overridden:
            log.info("%s overrides %s of %s (as transformers does)", tc, ", ".join(sorted(overridden)), tj.name)
        if "max_length" in cfg_opts:
            options.pop("max_length", None)
        options.update(cfg_opts)
        sources.update({k: tc.name for k in cfg_opts})
    vocab_file = _vocab_file(root, cfg)
    if tokens is None:
        if vocab_file is None:
            raise VocabError(f"no tokenizer.json or vocab.txt in {root}")
        tokens = vocab_tokens(_read_bytes(vocab_file), str(vocab_file))
        sources["vocab"] = vocab_file.name
    elif vocab_file is not None and vocab_tokens(_read_bytes(vocab_file), str(vocab_file)) != tokens:
        log.warning("%s differs from the vocabulary in %s: using %s (as transformers' fast tokenizer does)",
                    vocab_file, tj, tj.name)
    return TokenizerFolder(folder=root, tokens=tokens, options=options, sources=sources)


def _is_file(path: Path) -> bool:
    """path.is_file(), False (not an exception) for names the OS refuses (too long, NUL bytes, ...)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _vocab_file(root: Path, cfg: dict[str, Any]) -> Path | None:
    named = cfg.get("vocab_file")
    candidates = [root / "vocab.txt"]
    if isinstance(named, str) and named and "\x00" not in named and Path(named).name == named:  # a bare name
        candidates.insert(0, root / named)
    candidates += sorted(root.glob("*vocab*.txt"))
    return next((p for p in candidates if _is_file(p)), None)


def _read_bytes(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_VOCAB_BYTES:
            raise VocabError(f"{path} is larger than {MAX_VOCAB_BYTES >> 20} MiB: not a vocabulary")
        return path.read_bytes()
    except OSError as exc:
        raise VocabError(f"cannot read {path}: {exc.strerror or exc}") from None
