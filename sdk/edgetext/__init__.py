"""EdgeText: on-device text classification and sentence embeddings.

    import edgetext
    clf = edgetext.TextClassifier("reviews.etb")
    clf.classify("这家店的菜很好吃")   # -> [Category(label='positive', score=0.97, index=1)]
    emb = edgetext.TextEmbedder("minilm-embed.etb")
    emb.embed(["a text", "another"])  # -> np.ndarray [2, 384] float32

Data flows one way: text -> pre-processing (edgetext.preprocess, with the native
tokenizer of edgetext.tokenizer) -> backend (edgetext.backends) -> post-processing
(edgetext.postprocess), composed by edgetext.predictor.TextClassifier. Heavy pieces
are imported lazily so that ``import edgetext`` stays cheap on a device.

This package root is also where the layers are wired: it installs
edgetext.verify's golden-prediction check into edgetext._hooks, so that
``Bundle.verify(predictions=True)`` works while edgetext.bundle never imports the
predictor. May import: edgetext.errors, edgetext._version, edgetext._hooks eagerly;
the modules named in ``_LAZY`` (and edgetext.verify) on first use.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from . import _hooks
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
    PairInputError,
    TaskMismatchError,
    TokenizerError,
    UnsafeBundleError,
    VocabError,
)

_LAZY = {
    "Tokenizer": "edgetext.tokenizer",
    "Bundle": "edgetext.bundle",
    "TextClassifier": "edgetext.predictor",
    "TextEmbedder": "edgetext.embedder",
    "Category": "edgetext.postprocess",
    "verify_bundle": "edgetext.verify",
}


def _check_predictions(bundle: Any, threads: int | None) -> _hooks.PredictionChecks:
    """The default prediction check of Bundle.verify(predictions=True); imports the predictor on first use."""
    from .verify import check_predictions

    return check_predictions(bundle, threads)


_hooks.prediction_check = _check_predictions


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgetext' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [  # tests/test_architecture.py checks that every _LAZY name is listed
    "__version__",
    "Bundle",
    "Category",
    "TextClassifier",
    "TextEmbedder",
    "Tokenizer",
    "verify_bundle",
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
    "PairInputError",
    "TaskMismatchError",
    "TokenizerError",
    "UnsafeBundleError",
    "VocabError",
]
