"""Triton Python-backend model: raw text -> the ONNX model's inputs, tokenized by EdgeText from the bundle.

Copied as ``<name>_tokenizer/1/model.py`` next to ``bundle.etb`` (the exported bundle itself): the tokenizer, its
settings and the golden token ids all come from it, checked at load, so Triton tokenizes exactly as the device.
Input ``TEXT`` (TYPE_STRING, [batch, 1]; a text-pair bundle also ``TEXT_PAIR``, the second text of each row, encoded
with it as ``TextClassifier`` does: token types 0/1, longest-first truncation); outputs: the model's declared inputs
(input_ids, token_type_ids, ...),
[batch, longest] (or [batch, max_length] with parameter pad_to=max, so that Triton's dynamic batcher can merge
requests of different lengths into one engine call).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from edgetext.bundle import Bundle
from edgetext.errors import EdgeTextError, InvalidInputError
from edgetext.preprocess import TextPreprocessor, check_texts, pad_id_of

DTYPES = {"int64": np.int64, "int32": np.int32}


def model_parameters(args: dict[str, Any]) -> tuple[dict[str, str], Path]:
    """(the string parameters of config.pbtxt, this version's folder) from Triton's initialize() args."""
    config = json.loads(args["model_config"])
    params = {k: v["string_value"] for k, v in (config.get("parameters") or {}).items()}
    return params, Path(args["model_repository"]) / str(args["model_version"])


def decode_texts(raw: np.ndarray, name: str = "TEXT") -> list[str]:
    """A TYPE_STRING tensor (bytes objects, any shape) -> the texts, UTF-8 checked (InvalidInputError)."""
    texts = []
    for i, t in enumerate(raw.reshape(-1)):
        try:
            texts.append(t.decode("utf-8") if isinstance(t, bytes) else str(t))
        except UnicodeDecodeError as e:
            raise InvalidInputError(f"{name}[{i}] is not UTF-8: {e}") from None
    return check_texts(texts)


class TritonPythonModel:
    """Triton's Python-backend interface: initialize, execute (a list of requests), finalize."""

    def initialize(self, args: dict[str, Any]) -> None:
        params, folder = model_parameters(args)
        self.bundle = Bundle.open(folder / params.get("bundle", "bundle.etb"))
        manifest = self.bundle.manifest
        spec = manifest.model(params["model_file"])
        threads = int(params.get("threads", "0")) or None
        tokenizer = self.bundle.tokenizer(threads)
        self.bundle.check_golden_ids(tokenizer)  # BundleIntegrityError: Triton marks the model unavailable
        pad = (manifest.tokenizer.get("special_tokens") or {}).get("pad", "[PAD]")
        self.pre = TextPreprocessor(tokenizer, manifest.max_length, pad_id_of(tokenizer, pad),
                                    {i.role: DTYPES[i.dtype] for i in spec.inputs}, threads)
        self.names = [(i.role, i.name) for i in spec.inputs]
        self.max_length = manifest.max_length
        self.pad_to_max = params.get("pad_to", "longest") == "max"
        self.text_pairs = manifest.text_pairs  # the export then wires a TEXT_PAIR input too

    def feeds(self, texts: list[str], pairs: list[str] | None = None) -> dict[str, np.ndarray]:
        """The model's inputs by name for `texts` (and their second texts `pairs`, a text-pair bundle): what
        TextClassifier feeds its engine for one batch."""
        if pairs is None:
            rows, types = self.pre.encode(texts), None
        else:
            rows, types = self.pre.encode_pairs(texts, pairs)
        if self.pad_to_max:  # a full-width row, dropped
            wide = [self.pre.pad_id] * self.max_length
            arrays = self.pre.feeds([*rows, wide], None if types is None else [*types, [0] * self.max_length])
            arrays = {k: v[:-1] for k, v in arrays.items()}
        else:
            arrays = self.pre.feeds(rows, types)
        return {name: arrays[role] for role, name in self.names}

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:  # one response per request, in order; a bad text fails only its request
            try:
                texts = decode_texts(pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy())
                pairs = None
                if self.text_pairs:
                    pairs = decode_texts(pb_utils.get_input_tensor_by_name(request, "TEXT_PAIR").as_numpy(),
                                         "TEXT_PAIR")
                    if len(pairs) != len(texts):
                        raise InvalidInputError(f"{len(pairs)} TEXT_PAIR rows for {len(texts)} TEXT rows: send one "
                                                "second text per text")
                tensors = [pb_utils.Tensor(name, arr) for name, arr in self.feeds(texts, pairs).items()]
                responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            except EdgeTextError as e:
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(e))))
        return responses

    def finalize(self) -> None:
        self.bundle.close()
