"""Readers: a source folder -> one :class:`ModelDescription`, through a small registry.

Each reader module defines ``READER = Reader(kind, matches, read)``; :data:`READERS` lists them
in the order they are asked (the first whose ``matches(path)`` is true reads the source):

(a) ``paddle_inference``: ``*.pdmodel`` + ``*.pdiparams`` + tokenizer files (or the .pdmodel itself)
(b) ``paddlenlp``: ``model_config.json``/``config.json`` + ``model_state.pdparams`` + tokenizer files
(c) ``hf_bert``: ``config.json`` + ``model.safetensors`` + tokenizer files

Adding a reader is one module with a ``READER`` and one line in :data:`READERS`. Every problem
is a :class:`ConversionError` naming the file and what to do.

May import: the standard library, edgetext.errors, .description, the reader modules.
"""
from __future__ import annotations

import os
from pathlib import Path

from edgetext.errors import ConversionError

from ..description import ModelDescription
from . import hf_bert, paddle_inference, paddlenlp
from .common import Reader, apply_labels, apply_multi_label, apply_task

__all__ = ["READERS", "Reader", "apply_labels", "apply_multi_label", "apply_task", "detect", "read"]

READERS: tuple[Reader, ...] = (paddle_inference.READER, paddlenlp.READER, hf_bert.READER)


def _reader(src: str | os.PathLike) -> Reader:
    p = Path(src)
    if not p.exists():
        raise ConversionError(f"{src}: no such file or folder")
    if p.is_file() and p.suffix != ".pdmodel":
        raise ConversionError(f"{src}: expected a model folder (Paddle inference model, PaddleNLP checkpoint or "
                              "Hugging Face folder), or a .pdmodel file")
    for reader in READERS:
        if reader.matches(p):
            return reader
    if (p / "pytorch_model.bin").is_file():
        raise ConversionError(f"{src}: only pytorch_model.bin found; torch checkpoints are not read (no torch): "
                              "save the model with safetensors (model.safetensors)")
    raise ConversionError(f"{src}: not a recognised model folder: expected *.pdmodel + *.pdiparams, "
                          "model_state.pdparams + model_config.json, or config.json + model.safetensors")


def detect(src: str | os.PathLike) -> str:
    """The kind of source (``paddle-inference`` | ``paddlenlp-checkpoint`` | ``hf-bert``)."""
    return _reader(src).kind


def read(src: str | os.PathLike, labels: list[str] | None = None, task: str | None = None,
         pooling: str | None = None, normalize: bool | None = None,
         multi_label: bool | None = None) -> ModelDescription:
    """Read ``src`` with the first matching reader; ``labels`` (model output order) override the source's;
    ``task``/``pooling``/``normalize`` as in :func:`apply_task`, ``multi_label`` as in :func:`apply_multi_label`
    (None: what the source is)."""
    desc = apply_task(_reader(src).read(Path(src)), task, pooling, normalize)
    desc = apply_multi_label(desc, multi_label)
    if desc.is_embedding:
        if labels is not None:
            raise ConversionError("--labels: an embedding model has no labels")
        return desc
    return apply_labels(desc, labels)
