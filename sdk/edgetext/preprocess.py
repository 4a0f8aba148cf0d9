"""Pre-processing between the tokenizer and a backend: length buckets and row padding.

The one place where token-id rows become the ``[B, L]`` matrices a backend is fed
(the runtime's predictor and the converters' evaluation both call :func:`pad_rows`),
so a model sees the same padding on the device as during conversion and gating.

May import: numpy and the standard library only (no engine, no native extension).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

ROLES = ("input_ids", "token_type_ids", "attention_mask")


def length_buckets(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices of the rows sorted by length (stable), cut into batches of ``batch_size``.

    Padding each batch only to its longest row is what makes sorted batching cheap:
    the rows of a batch have similar lengths."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(lengths)
    order = np.argsort(np.fromiter(lengths, dtype=np.int64, count=n), kind="stable")
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, *,
             type_rows: Sequence[Sequence[int]] | None = None,
             dtypes: Mapping[str, type | np.dtype | str] | None = None) -> dict[str, np.ndarray]:
    """Right-pad token-id rows to the longest one (at least 1 column).

    Returns ``{role: array [B, L]}`` for ``input_ids`` (padded with ``pad_id``),
    ``token_type_ids`` (``type_rows`` or zeros, padded with 0) and
    ``attention_mask`` (1 on tokens, 0 on padding). ``dtypes`` (role -> dtype)
    selects and casts the roles a model declares; without it every role is int64.
    """
    width = max(1, max((len(r) for r in rows), default=0))
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
