"""Triton Python-backend model: logits -> the top-k labels, their scores and label indices.

EdgeText's own post-processing (``edgetext.postprocess.ClassificationPostprocessor``), labels from config parameter
``labels`` (a JSON list, written by the export from the bundle's manifest) and ``top_k``. Single-label: float64
softmax, stable top-k. A multi-label bundle's config also has ``thresholds`` (a JSON list, one per label, the
manifest's): a sigmoid per label, every label whose probability is >= its threshold, best first, at most ``top_k``.
Input ``LOGITS`` [batch, labels] float32; outputs ``LABEL`` (TYPE_STRING), ``SCORE`` (FP32), ``INDEX`` (INT64),
each [batch, top_k], best first; a multi-label row with fewer labels is padded with ``b""``, 0.0 and index -1.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from edgetext.errors import EdgeTextError
from edgetext.postprocess import ClassificationPostprocessor
from edgetext.triton.tokenizer_model import model_parameters

PAD = (b"", 0.0, -1)  # (label, score, index) of an empty slot in a multi-label row


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        params, _ = model_parameters(args)
        thresholds = json.loads(params["thresholds"]) if "thresholds" in params else None
        self.post = ClassificationPostprocessor(json.loads(params["labels"]), thresholds)
        self.top_k = int(params.get("top_k", "1"))

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            try:
                logits = pb_utils.get_input_tensor_by_name(request, "LOGITS").as_numpy()
                results = self.post(np.asarray(logits, dtype=np.float32), self.top_k)
                rows = [[(c.label.encode("utf-8"), c.score, c.index) for c in r] + [PAD] * (self.top_k - len(r))
                        for r in results]
                label = np.array([[x[0] for x in r] for r in rows], dtype=object).reshape(len(rows), self.top_k)
                score = np.array([[x[1] for x in r] for r in rows], dtype=np.float32).reshape(len(rows), self.top_k)
                index = np.array([[x[2] for x in r] for r in rows], dtype=np.int64).reshape(len(rows), self.top_k)
                responses.append(pb_utils.InferenceResponse(output_tensors=[
                    pb_utils.Tensor("LABEL", label), pb_utils.Tensor("SCORE", score),
                    pb_utils.Tensor("INDEX", index)]))
            except EdgeTextError as e:
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(e))))
        return responses
