"""EdgeText: on-device text classification.

    import edgetext
    clf = edgetext.TextClassifier("reviews.etb")
    clf.classify("这家店的菜很好吃")   # -> [Category(label='positive', score=0.97, index=1)]

Data flows one way: text -> native tokenizer (edgetext.tokenizer) -> backend
(edgetext.backends) -> post-processing (edgetext.predictor). Heavy pieces are
imported lazily so that ``import edgetext`` stays cheap on a device.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from ._version import __version__
from .errors import (
    AccuracyGateError,
    BackendError,
    BackendUnavailableError,
    BundleError,
    BundleIntegrityError,
    BundleNotFoundError,
    ConversionError,
    EdgeTextError,
    InputTypeError,
    InvalidInputError,
    ManifestError,
    NativeLibraryError,
    TokenizerError,
    UnsafeBundleError,
    VocabError,
)

_LAZY = {
    "Tokenizer": "edgetext.tokenizer",
    "Bundle": "edgetext.bundle",
    "TextClassifier": "edgetext.predictor",
    "Category": "edgetext.predictor",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgetext' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "__version__",
    *_LAZY,
    "AccuracyGateError",
    "BackendError",
    "BackendUnavailableError",
    "BundleError",
    "BundleIntegrityError",
    "BundleNotFoundError",
    "ConversionError",
    "EdgeTextError",
    "InputTypeError",
    "InvalidInputError",
    "ManifestError",
    "NativeLibraryError",
    "TokenizerError",
    "UnsafeBundleError",
    "VocabError",
]
