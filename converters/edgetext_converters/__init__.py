"""EdgeText converters: read a trained student (Paddle inference model, PaddleNLP checkpoint,
Hugging Face BERT-family folder), run passes (vocabulary trimming, quantization), write
targets (ONNX, Paddle Lite .nb), gate them against a reference and pack a bundle.

Heavy dependencies (paddle, paddle2onnx, onnx) are imported lazily by the submodules.
"""
from __future__ import annotations

from typing import Any

__all__ = ["convert"]


def convert(*args: Any, **kwargs: Any) -> Any:
    """See :func:`edgetext_converters.pipeline.convert`."""
    from .pipeline import convert as _convert

    return _convert(*args, **kwargs)
