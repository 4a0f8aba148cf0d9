"""Bounds on what callers may ask for: thread counts (the tokenizer, the backends, the CLI).

A thread count far above the CPUs this process may use only costs: ``threads=1000`` took
17-35 s to load a classifier on 2 cores, and ONNX Runtime's setup grows by ~75 MB/s with
``--threads 100000``. So a request above ``MAX_THREADS_PER_CPU`` x the usable CPUs is an error
that says the limit, never a silent clamp.

May import: the standard library and edgetext.errors only.
"""
from __future__ import annotations

import os

from .errors import InputTypeError, InvalidInputError

MAX_THREADS_PER_CPU = 4


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def max_threads() -> int:
    """The largest thread count accepted: MAX_THREADS_PER_CPU x cpu_count()."""
    return MAX_THREADS_PER_CPU * cpu_count()


def check_threads(value: object, what: str = "threads", *, allow_zero: bool = False) -> int | None:
    """`value` as an int (None stays None): an int >= 1 (>= 0 with allow_zero, 0 meaning "the
    library's default") and <= max_threads(); InputTypeError / InvalidInputError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InputTypeError(f"{what} must be an int or None, not {type(value).__name__}")
    n = int(value.__index__())  # type: ignore[attr-defined]
    low = 0 if allow_zero else 1
    if n < low:
        raise InvalidInputError(f"{what} must be >= {low} (or None for the default), got {n}")
    limit = max_threads()
    if n > limit:
        raise InvalidInputError(f"{what}={n} is more than {MAX_THREADS_PER_CPU} x the {cpu_count()} CPUs this "
                                f"process may use ({limit}): more threads only add setup time and memory; "
                                f"pass at most {limit} (or None for the default)")
    return n
