"""The EdgeText tokenizer: Hugging Face ``tokenizers`` BertWordPiece semantics
(BertNormalizer + BertPreTokenizer + WordPiece + [CLS]/[SEP] template),
bit-identical ids and offsets, computed by the native Fast WordPiece library
(``edgetext._native``, C, cffi API mode; the GIL is released during native
calls, batches run on native threads).

    tok = Tokenizer.from_file("vocab.txt", lowercase=False)
    tok.encode("这家店的菜很好吃")                      # [101, ..., 102]
    tok(["a", "bb"], padding=True)["input_ids"]       # 2-D numpy array

May import: numpy, cffi (through edgetext._native), the standard library.
"""
from __future__ import annotations

import os
import stat
import threading
from itertools import accumulate
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import InputTypeError, InvalidInputError, NativeLibraryError, TokenizerError, VocabError
from .limits import check_threads
from .tokenizer_folder import (MAX_INPUT_CHARS_PER_WORD, MAX_VOCAB_BYTES, read_tokenizer_folder,
                               tokens_to_vocab_bytes, vocab_tokens)

try:
    from ._native import ffi, lib
except ImportError as exc:  # pragma: no cover - depends on the build
    raise NativeLibraryError(
        "the compiled extension edgetext._native is missing or was built for another Python: "
        "run `pip install --no-build-isolation -e .` (or `python native/build_ffi.py`) in the "
        f"EdgeText checkout ({exc})"
    ) from exc

__all__ = ["Tokenizer"]

# The C ABI (native/include/edgetext.h) this module is written against: the compiled
# library's et_abi_version() and the header it was compiled from must both say the same.
_ABI_VERSION = 2
_lib_abi = lib.et_abi_version() if hasattr(lib, "et_abi_version") else None
if _lib_abi != _ABI_VERSION or getattr(lib, "ET_ABI_VERSION", None) != _lib_abi:
    raise NativeLibraryError(
        f"edgetext._native has C ABI {_lib_abi} (header {getattr(lib, 'ET_ABI_VERSION', None)}), this "
        f"edgetext needs ABI {_ABI_VERSION}: rebuild it with `pip install --no-build-isolation -e .` "
        "in the EdgeText checkout"
    )
_PADDING = {False: 0, None: 0, "do_not_pad": 0, True: 1, "longest": 1, "max_length": 2}
MAX_LENGTH_LIMIT = 1 << 24  # tokens per encoding (16.7M): far above any model, small enough to allocate
MAX_PADDED_ELEMENTS = 1 << 28  # rows x width of one padded __call__ result (2 GiB of int64 per array)
_encode_ids_call = lib.et_encode_ids_call


def _raise(status: int, err: Any, what: str) -> None:
    msg = ffi.string(err.message).decode("utf-8", "replace") if err is not None else ""
    text = f"{what}: {msg or ffi.string(lib.et_status_string(status)).decode()}"
    if status == lib.ET_ERR_INVALID_UTF8:
        raise InvalidInputError(text)
    if status in (lib.ET_ERR_VOCAB, lib.ET_ERR_IO):
        raise VocabError(text)
    if status == lib.ET_ERR_INVALID_ARGUMENT:
        raise InvalidInputError(text)
    raise TokenizerError(text)


def _utf8(text: Any, what: str = "text") -> bytes:
    """One text as UTF-8 bytes; the only conversion on the per-text path."""
    if type(text) is str:
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(
                f"{what} is not encodable as UTF-8 (lone surrogate at index {exc.start}): "
                "pass well-formed Unicode"
            ) from None
    if isinstance(text, str):
        return _utf8(str(text), what)
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)  # validated by the native code (invalid UTF-8 -> InvalidInputError)
    if text is None:
        raise InvalidInputError(f"{what} is None: pass a str (use '' for an empty text)")
    raise InputTypeError(f"{what} must be str (or UTF-8 bytes), got {type(text).__name__}")


def _pack(texts: Sequence[Any], what: str) -> tuple[bytes, Any]:
    """All texts as one UTF-8 buffer + n + 1 bounds (one native argument each)."""
    parts = None
    if all(type(t) is str for t in texts):
        try:
            parts = [t.encode() for t in texts]
        except UnicodeEncodeError:
            pass
    if parts is None:  # the slow path names the offending text
        parts = [_utf8(t, f"{what}[{i}]") for i, t in enumerate(texts)]
    return b"".join(parts), ffi.new("size_t[]", [0, *accumulate(map(len, parts))])


class _Scratch:
    """Per-thread output buffers, reused across calls (grown on demand)."""

    __slots__ = ("cap", "ids", "ids_view", "types", "offs", "enc", "err", "length", "call")

    def __init__(self, cap: int, handle: Any, default_opts: Any) -> None:
        self.cap = cap
        backing = bytearray(4 * cap)
        self.ids_view = memoryview(backing).cast("i")  # ids as Python ints: ids_view[:n].tolist()
        self.ids = ffi.from_buffer("int32_t[]", backing)
        self.length = ffi.new("size_t *")
        self.types = ffi.new("int32_t[]", cap)
        self.offs = ffi.new("int32_t[]", 2 * cap)
        self.enc = ffi.new("EtEncoding *")
        self.enc.ids = self.ids
        self.enc.type_ids = self.types
        self.enc.attention_mask = ffi.NULL
        self.enc.offsets = self.offs
        self.enc.capacity = cap
        self.err = ffi.new("EtError *")
        # et_encode_ids_call's argument block (3 native arguments per call instead of 8);
        # the tokenizer and options outlive it (the Tokenizer owns both and this scratch)
        self.call = ffi.new("EtIdsCall *")
        self.call.tokenizer = handle
        self.call.options = default_opts
        self.call.ids = self.ids
        self.call.capacity = cap
        self.call.err = self.err


class Tokenizer:
    """A BERT WordPiece tokenizer equal to Hugging Face ``tokenizers`` (see module doc)."""

    def __init__(self, _handle: Any, config: dict, _token: object = None) -> None:
        if _token is not _CREATE:
            raise TokenizerError("use Tokenizer.from_file / from_pretrained / from_vocab_bytes")
        self._h = ffi.gc(_handle, lib.et_tokenizer_delete)
        self._config = config
        self._tls = threading.local()
        self._opts: dict[tuple, Any] = {}
        self._default_opts = self._options(None, False, 0, True)
        self.threads = config.pop("_threads", None)
        self.max_length = config.get("max_length")
        self.unk_token_id = lib.et_tokenizer_unk_id(self._h)
        self.cls_token_id = lib.et_tokenizer_cls_id(self._h)
        self.sep_token_id = lib.et_tokenizer_sep_id(self._h)
        pad = lib.et_tokenizer_pad_id(self._h)
        self.pad_token_id = pad if pad >= 0 else None

    # ---------------------------------------------------------------- creation
    @classmethod
    def from_vocab_bytes(
        cls,
        data: bytes,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        clean_text: bool = True,
        unk_token: str = "[UNK]",
        sep_token: str = "[SEP]",
        cls_token: str = "[CLS]",
        pad_token: str = "[PAD]",
        max_input_chars_per_word: int = 100,
        wordpieces_prefix: str = "##",
        threads: int | None = None,
        mask_token: str = "[MASK]",
        max_length: int | None = None,
        split_special_tokens: bool = False,
    ) -> "Tokenizer":
        """A tokenizer from the bytes of a vocab.txt (one token per line, id = line number).

        ``split_special_tokens=False`` (default, as Hugging Face): the special tokens
        (unk/cls/sep/pad/mask) of the vocabulary typed in a text are matched in the raw
        text (case-sensitive, before lowercasing) and encoded as their ids;
        ``True``: they are tokenized as ordinary text."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InputTypeError(f"vocabulary data must be bytes, got {type(data).__name__}")
        data = bytes(data)
        if not data.strip():
            raise VocabError("the vocabulary is empty")
        if strip_accents not in (None, True, False):
            raise InputTypeError("strip_accents must be None, True or False")
        if not isinstance(max_input_chars_per_word, int) or isinstance(max_input_chars_per_word, bool) \
                or not 0 < max_input_chars_per_word <= MAX_INPUT_CHARS_PER_WORD:
            raise InvalidInputError(f"max_input_chars_per_word must be an int in 1..{MAX_INPUT_CHARS_PER_WORD}, got "
                                    f"{max_input_chars_per_word!r}")
        threads = check_threads(threads, "threads", allow_zero=True)
        if max_length is not None and (not isinstance(max_length, int) or isinstance(max_length, bool)
                                       or not 0 <= max_length <= MAX_LENGTH_LIMIT):
            raise InvalidInputError(f"max_length must be an int in 0..{MAX_LENGTH_LIMIT} or None, got {max_length!r}")
        specials = {"unk": unk_token, "cls": cls_token, "sep": sep_token, "pad": pad_token, "mask": mask_token}
        for key, tok in specials.items():
            if not isinstance(tok, str) or not tok or "\x00" in tok:
                raise InputTypeError(f"{key}_token must be a non-empty str without NUL characters")
        if not isinstance(wordpieces_prefix, str) or "\x00" in wordpieces_prefix:
            raise InputTypeError("wordpieces_prefix must be a str")
        for what, value in [*((f"{k}_token", t) for k, t in specials.items()), ("wordpieces_prefix",
                                                                                wordpieces_prefix)]:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInputError(f"{what} {value!r} is not valid Unicode (a lone surrogate)") from None
        keep = []  # keep the C strings alive during creation
        opts = ffi.new("EtTokenizerOptions *")
        lib.et_tokenizer_options_init(opts)
        opts.lowercase = bool(lowercase)
        opts.strip_accents = -1 if strip_accents is None else int(bool(strip_accents))
        opts.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        opts.clean_text = bool(clean_text)
        for field, value in (("unk_token", unk_token), ("cls_token", cls_token), ("sep_token", sep_token),
                             ("pad_token", pad_token), ("continuing_subword_prefix", wordpieces_prefix)):
            c = ffi.new("char[]", value.encode("utf-8"))
            keep.append(c)
            setattr(opts, field, c)
        opts.max_input_chars_per_word = max_input_chars_per_word
        if split_special_tokens not in (True, False):
            raise InputTypeError("split_special_tokens must be True or False")
        mask_c = ffi.new("char[]", mask_token.encode("utf-8"))
        keep.append(mask_c)
        opts.mask_token = mask_c
        opts.split_special_tokens = int(split_special_tokens)
        out = ffi.new("EtTokenizer **")
        err = ffi.new("EtError *")
        st = lib.et_tokenizer_create_from_buffer(data, len(data), opts, out, err)
        if st != lib.ET_OK:
            _raise(st, err, "cannot build the tokenizer")
        config = {
            "lowercase": bool(lowercase),
            "strip_accents": strip_accents,
            "tokenize_chinese_chars": bool(tokenize_chinese_chars),
            "clean_text": bool(clean_text),
            "max_length": max_length,
            "max_input_chars_per_word": max_input_chars_per_word,
            "wordpieces_prefix": wordpieces_prefix,
            "special_tokens": specials,
            "_threads": threads,
        }
        if split_special_tokens:  # the manifest's optional key (default false): only when set
            config["split_special_tokens"] = True
        return cls(out[0], config, _CREATE)

    @classmethod
    def from_file(cls, vocab_path: str | os.PathLike, **options: Any) -> "Tokenizer":
        """A tokenizer from a vocab.txt file (ERNIE 1.0 ``token<TAB>id`` lines too);
        options as :meth:`from_vocab_bytes`."""
        if not isinstance(vocab_path, (str, os.PathLike)):
            raise InputTypeError(f"vocab_path must be a path, got {type(vocab_path).__name__}")
        path = Path(vocab_path)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise VocabError(f"vocabulary file not found: {path}") from None
        except (OSError, ValueError) as e:
            raise VocabError(f"cannot read the vocabulary {path}: {getattr(e, 'strerror', None) or e}") from None
        if stat.S_ISDIR(st.st_mode):
            raise VocabError(f"{path} is a folder, not a vocabulary file (for a tokenizer folder use "
                             "Tokenizer.from_pretrained)")
        if not stat.S_ISREG(st.st_mode):
            raise VocabError(f"{path} is not a regular file (a device, fifo or socket): pass a vocab.txt file")
        if st.st_size > MAX_VOCAB_BYTES:
            raise VocabError(f"{path} is {st.st_size:,} bytes, over the {MAX_VOCAB_BYTES >> 20} MiB a vocabulary may "
                             "have")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise VocabError(f"cannot read the vocabulary {path}: {e.strerror or e}") from None
        if b"\t" in data:  # maybe token<TAB>id lines: the folder reader's rules turn them into vocab.txt form
            data = tokens_to_vocab_bytes(vocab_tokens(data, str(path)), str(path))
        return cls.from_vocab_bytes(data, **options)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, **overrides: Any) -> "Tokenizer":
        """A tokenizer from a Hugging Face or PaddleNLP tokenizer folder.

        Read by :func:`edgetext.tokenizer_folder.read_tokenizer_folder` (the converters
        use the same reader): ``tokenizer.json`` defines the pipeline and vocabulary,
        ``tokenizer_config.json`` overrides lowercasing / accents / CJK handling and sets
        the special tokens and ``model_max_length``; without ``tokenizer.json``,
        ``vocab.txt`` (or ``*vocab*.txt``). ``overrides`` win over both."""
        found = read_tokenizer_folder(folder)
        return cls.from_vocab_bytes(found.vocab_bytes(), **{**found.options, **overrides})

    # ---------------------------------------------------------------- encoding
    def _options(self, max_length: int | None, truncation: Any, padding: int, add_special: bool) -> Any:
        # the types are part of the key: True == 1 and hash(True) == hash(1), so a cached
        # max_length=1 must not let max_length=True through unchecked (nor truncation=1 pass as True)
        key = (type(max_length), max_length, type(truncation), truncation, padding, bool(add_special))
        o = self._opts.get(key)
        if o is None:
            if max_length is not None and (not isinstance(max_length, int) or isinstance(max_length, bool)
                                           or not 0 <= max_length <= MAX_LENGTH_LIMIT):
                raise InvalidInputError(f"max_length must be an int in 0..{MAX_LENGTH_LIMIT} or None, got "
                                        f"{max_length!r}")
            if not (truncation is None or isinstance(truncation, bool)
                    or (isinstance(truncation, str) and truncation in ("longest_first", "do_not_truncate"))):
                raise InvalidInputError(
                    f"truncation={truncation!r} is not supported: use True/'longest_first' or False")
            if truncation in (True, "longest_first") and max_length is None:
                raise InvalidInputError("truncation needs max_length")
            o = ffi.new("EtEncodeOptions *")
            lib.et_encode_options_init(o)
            o.max_length = max_length or 0
            o.truncation = truncation in (True, "longest_first")
            o.padding = padding
            o.add_special_tokens = bool(add_special)
            self._opts[key] = o
        return o

    def _scratch(self, need: int = 0) -> _Scratch:
        try:
            s = self._tls.s
        except AttributeError:
            s = self._tls.s = _Scratch(512, self._h, self._default_opts)
        if need > s.cap:
            s = self._tls.s = _Scratch(max(need, 2 * s.cap), self._h, self._default_opts)
        return s

    def _encode_one(self, text: Any, text_pair: Any, opts: Any) -> _Scratch:
        b = _utf8(text)
        s = self._scratch()
        if text_pair is None:
            st = lib.et_encode(self._h, b, len(b), ffi.NULL, 0, opts, s.enc, s.err)
        else:
            p = _utf8(text_pair, "text_pair")
            st = lib.et_encode(self._h, b, len(b), p, len(p), opts, s.enc, s.err)
        if st == lib.ET_ERR_BUFFER_TOO_SMALL:
            s = self._scratch(s.enc.length)
            if text_pair is None:
                st = lib.et_encode(self._h, b, len(b), ffi.NULL, 0, opts, s.enc, s.err)
            else:
                st = lib.et_encode(self._h, b, len(b), p, len(p), opts, s.enc, s.err)
        if st != lib.ET_OK:
            _raise(st, s.err, "cannot encode the text")
        return s

    def encode(self, text: str, text_pair: str | None = None, max_length: int | None = None,
               truncation: bool | str = False, add_special_tokens: bool = True) -> list[int]:
        """Token ids of one text (or pair): [CLS] A [SEP] (B [SEP])."""
        if (type(text) is str and text_pair is None and max_length is None and truncation is False
                and add_special_tokens is True):
            # the per-text hot path: one encode, one native call, one list
            try:
                b = text.encode()
                s = self._tls.s
            except (UnicodeEncodeError, AttributeError):
                pass
            else:
                n = _encode_ids_call(s.call, b, len(b))
                if n >= 0:
                    return s.ids_view[:n].tolist()
        if max_length is None and not truncation and add_special_tokens:
            opts = self._default_opts
        else:
            opts = self._options(max_length, truncation, 0, add_special_tokens)
        s = self._encode_one(text, text_pair, opts)
        return ffi.unpack(s.ids, s.enc.length)

    def encode_with_offsets(self, text: str, text_pair: str | None = None, max_length: int | None = None,
                            truncation: bool | str = False, add_special_tokens: bool = True) -> dict:
        """ids, type ids and character offsets of one text (or pair)."""
        opts = self._options(max_length, truncation, 0, add_special_tokens)
        s = self._encode_one(text, text_pair, opts)
        n = s.enc.length
        flat = ffi.unpack(s.offs, 2 * n)
        return {"input_ids": ffi.unpack(s.ids, n), "token_type_ids": ffi.unpack(s.types, n),
                "offsets": list(zip(flat[0::2], flat[1::2]))}

    def _batch(self, texts: Any, text_pairs: Any, max_length: int | None, truncation: Any,
               add_special: bool, threads: int | None) -> Any:
        if isinstance(texts, (str, bytes)) or texts is None:
            raise InputTypeError("texts must be a list of str (got a single text; use encode or wrap it in a list)")
        if not isinstance(texts, (list, tuple)):
            try:
                texts = list(texts)
            except TypeError:
                raise InputTypeError(f"texts must be a list of str, got {type(texts).__name__}") from None
        n = len(texts)
        data, bounds = _pack(texts, "texts")
        pdata, pbounds = ffi.NULL, ffi.NULL
        if text_pairs is not None:
            if isinstance(text_pairs, (str, bytes)) or len(text_pairs) != n:
                raise InvalidInputError("text_pairs must be a list with one pair per text")
            pdata, pbounds = _pack(text_pairs, "text_pairs")
        opts = self._options(max_length, truncation, 0, add_special)
        if threads is None:
            threads = self.threads
        threads = check_threads(threads, "threads", allow_zero=True)
        out = ffi.new("EtBatch **")
        err = ffi.new("EtError *")
        st = lib.et_encode_batch_packed(self._h, n, data, bounds, pdata, pbounds, opts, threads or 0, out, err)
        if st != lib.ET_OK:
            _raise(st, err, "cannot encode the batch")
        return ffi.gc(out[0], lib.et_batch_delete)

    def encode_batch(self, texts: Sequence[str], text_pairs: Sequence[str] | None = None,
                     max_length: int | None = None, truncation: bool | str = False,
                     threads: int | None = None, add_special_tokens: bool = True) -> list[list[int]]:
        """Token ids of many texts, encoded on native threads (GIL released)."""
        b = self._batch(texts, text_pairs, max_length, truncation, add_special_tokens, threads)
        n = lib.et_batch_size(b)
        flat = ffi.unpack(lib.et_batch_all_ids(b), lib.et_batch_total_tokens(b))
        starts = ffi.unpack(lib.et_batch_row_starts(b), n + 1)
        return [flat[starts[i]:starts[i + 1]] for i in range(n)]

    def encode_batch_with_offsets(self, texts: Sequence[str], text_pairs: Sequence[str] | None = None,
                                  max_length: int | None = None, truncation: bool | str = False,
                                  threads: int | None = None, add_special_tokens: bool = True) -> list[dict]:
        """Per text: input_ids, token_type_ids and character offsets [(start, end), ...]."""
        b = self._batch(texts, text_pairs, max_length, truncation, add_special_tokens, threads)
        n = lib.et_batch_size(b)
        out = []
        ids_p = ffi.new("int32_t **")
        types_p = ffi.new("int32_t **")
        offs_p = ffi.new("int32_t **")
        for i in range(n):
            k = lib.et_batch_row(b, i, ids_p, types_p, offs_p)
            flat = ffi.unpack(offs_p[0], 2 * k)
            out.append({"input_ids": ffi.unpack(ids_p[0], k), "token_type_ids": ffi.unpack(types_p[0], k),
                        "offsets": list(zip(flat[0::2], flat[1::2]))})
        return out

    def __call__(self, texts: str | Sequence[str], text_pair: str | Sequence[str] | None = None,
                 max_length: int | None = None, padding: bool | str = False, truncation: bool | str = False,
                 return_offsets_mapping: bool = False, dtype: Any = np.int64, threads: int | None = None,
                 add_special_tokens: bool = True) -> dict[str, np.ndarray]:
        """HF-like call returning 2-D numpy arrays (a single str is a batch of one)."""
        if isinstance(texts, (str, bytes)):
            texts = [texts]  # type: ignore[list-item]
            if text_pair is not None:
                text_pair = [text_pair]  # type: ignore[list-item]
        elif isinstance(text_pair, (str, bytes)):
            raise InvalidInputError("text_pair must be a list when texts is a list")
        try:
            mode = _PADDING[padding]
        except (KeyError, TypeError):
            raise InvalidInputError(
                f"padding={padding!r} is not supported: use False, True, 'longest' or 'max_length'") from None
        if mode == 2 and max_length is None:
            raise InvalidInputError("padding='max_length' needs max_length")
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise InputTypeError(f"dtype must be a numpy integer dtype, got {dtype!r}") from None
        if dt.kind not in "iu":
            raise InputTypeError(f"dtype must be an integer type, got {dt}")
        need = self.vocab_size - 1
        if return_offsets_mapping:  # offsets are character positions: they reach the longest text's length
            if not isinstance(texts, (list, tuple)) and hasattr(texts, "__iter__"):
                texts = list(texts)
            for seq in (texts, text_pair or ()):
                if isinstance(seq, (list, tuple)):
                    need = max(need, 0, *(len(t) for t in seq if isinstance(t, (str, bytes))))
        if need > np.iinfo(dt).max:
            raise InputTypeError(f"dtype {dt} holds values up to {np.iinfo(dt).max}, but this tokenizer's ids (vocabulary "
                                 f"of {self.vocab_size}){' and offsets' if return_offsets_mapping else ''} reach "
                                 f"{need}: the values would wrap; use int32 or int64")
        b = self._batch(texts, text_pair, max_length, truncation, add_special_tokens, threads)
        n = lib.et_batch_size(b)
        longest = lib.et_batch_max_length(b)
        if mode == 0:
            starts = ffi.unpack(lib.et_batch_row_starts(b), n + 1)
            lengths = {starts[i + 1] - starts[i] for i in range(n)}
            if len(lengths) > 1:
                raise InvalidInputError(
                    f"the texts encode to different lengths ({min(lengths)}..{max(lengths)} tokens) and "
                    "padding=False: pass padding=True (pad to the longest) or padding='max_length' "
                    "with max_length to get rectangular arrays")
            width = longest
        elif mode == 1:
            width = longest
        else:
            width = max(max_length, longest)
        if n * width > MAX_PADDED_ELEMENTS:
            raise InvalidInputError(f"padding {n} texts to {width} tokens makes {n * width:,} elements per array, over "
                                    f"the limit of {MAX_PADDED_ELEMENTS:,}: pad to the longest (padding=True) or "
                                    "encode in smaller batches")
        wide = np.dtype(np.int32) if dt == np.int32 else np.dtype(np.int64)
        ids = np.empty((n, width), wide)
        types = np.empty((n, width), wide)
        mask = np.empty((n, width), wide)
        offs = np.empty((n, width, 2), wide) if return_offsets_mapping else None
        fill = lib.et_batch_fill_i32 if wide == np.int32 else lib.et_batch_fill_i64
        ctype = "int32_t *" if wide == np.int32 else "int64_t *"
        fill(b, width, ffi.cast(ctype, ids.ctypes.data), ffi.cast(ctype, types.ctypes.data),
             ffi.cast(ctype, mask.ctypes.data),
             ffi.cast(ctype, offs.ctypes.data) if offs is not None else ffi.NULL)
        out = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
        if offs is not None:
            out["offset_mapping"] = offs
        if wide != dt:
            out = {k: v.astype(dt) for k, v in out.items()}
        return out

    # ---------------------------------------------------------------- vocabulary
    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of a text, without special tokens."""
        ids = self.encode(text, add_special_tokens=False)
        return [t for t in map(self.id_to_token, ids) if t is not None]  # ids come from this vocabulary

    @property
    def vocab_size(self) -> int:
        """Number of distinct tokens (as HF's get_vocab_size)."""
        return int(lib.et_tokenizer_vocab_size(self._h))

    def token_to_id(self, token: str) -> int | None:
        if not isinstance(token, str):
            raise InputTypeError(f"token must be str, got {type(token).__name__}")
        b = _utf8(token, "token")
        i = lib.et_tokenizer_token_to_id(self._h, b, len(b))
        return None if i < 0 else int(i)

    def id_to_token(self, i: int) -> str | None:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise InputTypeError(f"id must be int, got {type(i).__name__}")
        if not -(2 ** 31) <= int(i) < 2 ** 31:
            return None
        size = ffi.new("size_t *")
        p = lib.et_tokenizer_id_to_token(self._h, int(i), size)
        return None if p == ffi.NULL else ffi.unpack(p, size[0]).decode("utf-8")

    def get_vocab(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(2 ** 31):
            size = ffi.new("size_t *")
            p = lib.et_tokenizer_id_to_token(self._h, i, size)
            if p == ffi.NULL and len(out) >= self.vocab_size:
                break
            if p != ffi.NULL:
                out[ffi.unpack(p, size[0]).decode("utf-8")] = i
        return out

    @property
    def config(self) -> dict:
        """The manifest "tokenizer" settings (without the vocab file name)."""
        c = dict(self._config)
        c["special_tokens"] = dict(c["special_tokens"])
        return c

    def __repr__(self) -> str:
        c = self._config
        return (f"Tokenizer(vocab_size={self.vocab_size}, lowercase={c['lowercase']}, "
                f"strip_accents={c['strip_accents']}, tokenize_chinese_chars={c['tokenize_chinese_chars']})")


_CREATE = object()

