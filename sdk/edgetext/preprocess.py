"""Pre-processing between the tokenizer and a backend: input checks, truncation,
length buckets and row padding.

The one place where token-id rows become the ``[B, L]`` matrices a backend is fed
(the runtime's predictor and the converters' evaluation both call :func:`pad_rows`),
so a model sees the same padding on the device as during conversion and gating.
:class:`TextPreprocessor` composes them for the classifier; the tokenizer is passed in.

May import: numpy, the standard library and edgetext.errors only (no engine, no native
extension, no tokenizer module: a tokenizer is an argument).
"""
from __future__ import annotations

from typing import Iterator, Mapping, Protocol, Sequence

import numpy as np

from .errors import EdgeTextError, InputTypeError, InvalidInputError, PairInputError, TokenizerError

ROLES = ("input_ids", "token_type_ids", "attention_mask")


#: A batch holds at most this many padded tokens (rows x longest row): 32 rows of 512 tokens would make each
#: layer's attention scores a 400 MB tensor (12 heads), and engines keep their peak allocations.
MAX_BATCH_TOKENS = 8192


def length_buckets(lengths: Sequence[int], batch_size: int,
                   max_tokens: int | None = MAX_BATCH_TOKENS) -> list[np.ndarray]:
    """Indices of the rows sorted by length (stable), cut into batches of at most ``batch_size`` rows and
    ``max_tokens`` padded tokens (a row longer than that gets a batch of its own; None: no token limit).

    Padding each batch only to its longest row is what makes sorted batching cheap:
    the rows of a batch have similar lengths."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(lengths)
    lens = np.fromiter(lengths, dtype=np.int64, count=n)
    order = np.argsort(lens, kind="stable")
    if max_tokens is None:
        return [order[i:i + batch_size] for i in range(0, n, batch_size)]
    out, start = [], 0
    while start < n:
        end = start + 1  # sorted ascending: the batch's longest row is its last
        while end < n and end - start < batch_size and (end - start + 1) * max(1, int(lens[order[end]])) <= max_tokens:
            end += 1
        out.append(order[start:end])
        start = end
    return out


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, *,
             type_rows: Sequence[Sequence[int]] | None = None,
             dtypes: Mapping[str, type | np.dtype | str] | None = None,
             multiple: int = 1, max_width: int | None = None) -> dict[str, np.ndarray]:
    """Right-pad token-id rows to the longest one (at least 1 column), rounded up to a ``multiple`` of
    columns (never past ``max_width``): engines that re-plan on every new shape see a few shapes only.

    Returns ``{role: array [B, L]}`` for ``input_ids`` (padded with ``pad_id``),
    ``token_type_ids`` (``type_rows`` or zeros, padded with 0) and
    ``attention_mask`` (1 on tokens, 0 on padding). ``dtypes`` (role -> dtype)
    selects and casts the roles a model declares; without it every role is int64.
    """
    longest = max(1, max((len(r) for r in rows), default=0))
    width = -(-longest // multiple) * multiple if multiple > 1 else longest
    if max_width is not None:
        width = max(longest, min(width, max_width))
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    types = np.zeros((len(rows), width), dtype=np.int64)
    if type_rows is not None and len(type_rows) != len(rows):
        raise ValueError(f"{len(type_rows)} token-type rows for {len(rows)} id rows")
    for r, row in enumerate(rows):
        n = len(row)
        ids[r, :n] = row
        mask[r, :n] = 1
        if type_rows is not None:
            if len(type_rows[r]) != n:
                raise ValueError(f"row {r}: {len(type_rows[r])} token types for {n} ids")
            types[r, :n] = type_rows[r]
    arrays = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
    if dtypes is None:
        return arrays
    return {role: arrays[role].astype(dtype, copy=False) for role, dtype in dtypes.items()}


# -- the classifier's pre-processing stage ------------------------------------------------------
class Encoder(Protocol):
    """What the pre-processor needs of a tokenizer (edgetext.tokenizer.Tokenizer is one)."""

    def encode(self, text: str, text_pair: str | None = None, max_length: int | None = None,
               truncation: bool = False) -> list[int]: ...

    def encode_batch(self, texts: Sequence[str], text_pairs: Sequence[str] | None = None,
                     max_length: int | None = None, truncation: bool = False,
                     threads: int | None = None) -> list[list[int]]: ...

    def encode_batch_with_offsets(self, texts: Sequence[str], text_pairs: Sequence[str] | None = None,
                                  max_length: int | None = None, truncation: bool = False,
                                  threads: int | None = None) -> list[dict]: ...

    def token_to_id(self, token: str) -> int | None: ...


def check_text(text: object, i: int | None = None) -> str:
    """`text` if it is a str, else the error a caller can act on (None, bytes, other types)."""
    where = "text" if i is None else f"texts[{i}]"
    if isinstance(text, str):
        return text
    if text is None:
        raise InvalidInputError(f"{where} is None: pass a str")
    if isinstance(text, (bytes, bytearray, memoryview)):
        raise InputTypeError(f"{where} is bytes: decode it first, e.g. data.decode('utf-8')")
    raise InputTypeError(f"{where} must be a str, not {type(text).__name__}")


def check_texts(texts: object) -> list[str]:
    """A list of str from any iterable of str; a lone str, bytes or dict is refused."""
    if isinstance(texts, str):
        raise InputTypeError("texts must be a list of str; for one text use classify(text)")
    if texts is None or isinstance(texts, (bytes, bytearray, dict)) or not hasattr(texts, "__iter__"):
        raise InputTypeError(f"texts must be a list of str, not {type(texts).__name__}")
    return [check_text(t, i) for i, t in enumerate(texts)]  # type: ignore[attr-defined]


def check_pairs(texts: list[str], pairs: object) -> list[str]:
    """The second texts of `texts`' pairs: a list of str, one per text (PairInputError otherwise)."""
    if isinstance(pairs, str):
        raise PairInputError("text_pairs must be a list of str (one per text), not a str")
    found = check_texts(pairs)
    if len(found) != len(texts):
        raise PairInputError(f"{len(found)} text_pairs for {len(texts)} texts: pass one second text per text")
    return found


def pad_id_of(tokenizer: Encoder, pad_token: str = "[PAD]") -> int:
    """The id `input_ids` rows are padded with: the pad token's, else 0 (attention_mask hides it)."""
    pad_id = tokenizer.token_to_id(pad_token)
    return 0 if pad_id is None else int(pad_id)


class TextPreprocessor:
    """Texts -> token ids truncated to `max_length` -> length-bucketed ``[B, L]`` feeds
    (tflite-support's BertPreprocessor, plus batching).

    `dtypes` maps each input role the model declares to its dtype, in the model's order.
    """

    def __init__(self, tokenizer: Encoder, max_length: int, pad_id: int,
                 dtypes: Mapping[str, type | np.dtype | str], threads: int | None = None, pad_multiple: int = 1):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pad_id = pad_id
        self.dtypes = dict(dtypes)
        self.threads = threads
        self.pad_multiple = pad_multiple  # the backend's wish (Backend.pad_multiple); 1: pad to the longest

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, truncated to max_length."""
        if not texts:
            return []
        try:
            return self.tokenizer.encode_batch(texts, max_length=self.max_length, truncation=True,
                                               threads=self.threads)
        except EdgeTextError:
            raise
        except (UnicodeError, TypeError, ValueError) as e:
            for i, text in enumerate(texts):  # diagnose only on failure: no extra pass on the hot path
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as u:
                    raise InvalidInputError(f"texts[{i}] is not valid Unicode: lone surrogate "
                                            f"{text[u.start]!r} at character {u.start}") from None
            raise TokenizerError(f"the tokenizer failed: {e}") from e

    def encode_pairs(self, texts: list[str], pairs: list[str]) -> tuple[list[list[int]], list[list[int]]]:
        """Token ids and token types (0: [CLS] A [SEP], 1: B [SEP]) of each pair, truncated longest-first to
        max_length. The types come from the tokenizer, never from [SEP] positions: a text may hold a typed
        [SEP] that the tokenizer matches as the special token."""
        if not texts:
            return [], []
        try:
            enc = self.tokenizer.encode_batch_with_offsets(texts, text_pairs=pairs, max_length=self.max_length,
                                                           truncation=True, threads=self.threads)
        except EdgeTextError:
            raise
        except (UnicodeError, TypeError, ValueError) as e:
            raise TokenizerError(f"the tokenizer failed: {e}") from e
        return [e["input_ids"] for e in enc], [e["token_type_ids"] for e in enc]

    def probe(self) -> list[list[int]]:
        """One row, the empty text's ids: what the classifier runs at load to warm up and check widths."""
        return [self.tokenizer.encode("", max_length=self.max_length, truncation=True)]

    def feeds(self, rows: Sequence[Sequence[int]],
              types: Sequence[Sequence[int]] | None = None) -> dict[str, np.ndarray]:
        """The model's declared inputs for `rows` (token types `types`, else zeros), padded to the longest
        (rounded up to ``pad_multiple``) and cast."""
        return pad_rows(rows, self.pad_id, type_rows=types, dtypes=self.dtypes, multiple=self.pad_multiple,
                        max_width=self.max_length)

    def batches(self, rows: Sequence[Sequence[int]], batch_size: int,
                types: Sequence[Sequence[int]] | None = None) -> Iterator[tuple[np.ndarray, dict]]:
        """(row indices, feeds) per length bucket: similar lengths together, each padded to its longest."""
        for idx in length_buckets([len(r) for r in rows], batch_size):
            yield idx, self.feeds([rows[i] for i in idx], None if types is None else [types[i] for i in idx])
