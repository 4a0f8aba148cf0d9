"""Triton Python-backend model: logits -> the top-k labels, softmax scores and label indices.

EdgeText's own post-processing (``edgetext.postprocess``: float64 softmax, stable top-k), labels from config
parameter ``labels`` (a JSON list, written by the export from the bundle's manifest) and ``top_k``.
Input ``LOGITS`` [batch, labels] float32; outputs ``LABEL`` (TYPE_STRING), ``SCORE`` (FP32), ``INDEX`` (INT64),
each [batch, top_k], best first.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from edgetext.errors import EdgeTextError
from edgetext.postprocess import ClassificationPostprocessor
from edgetext.triton.tokenizer_model import model_parameters


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        params, _ = model_parameters(args)
        self.post = ClassificationPostprocessor(json.loads(params["labels"]))
        self.top_k = int(params.get("top_k", "1"))

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            try:
                logits = pb_utils.get_input_tensor_by_name(request, "LOGITS").as_numpy()
                results = self.post(np.asarray(logits, dtype=np.float32), self.top_k)
                label = np.array([[c.label.encode("utf-8") for c in r] for r in results], dtype=object)
                score = np.array([[c.score for c in r] for r in results], dtype=np.float32)
                index = np.array([[c.index for c in r] for r in results], dtype=np.int64)
                responses.append(pb_utils.InferenceResponse(output_tensors=[
                    pb_utils.Tensor("LABEL", label.reshape(len(results), -1)),
                    pb_utils.Tensor("SCORE", score.reshape(len(results), -1)),
                    pb_utils.Tensor("INDEX", index.reshape(len(results), -1))]))
            except EdgeTextError as e:
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(e))))
        return responses
