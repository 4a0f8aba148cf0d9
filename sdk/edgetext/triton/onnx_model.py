"""Triton Python-backend model: the bundle's ONNX model on EdgeText's own ONNX Runtime backend.

The export's default serves ``model.onnx`` with Triton's onnxruntime backend; ``--onnx-backend python`` writes
this instead, for Triton builds without that backend (PyTriton's bundled server has only the Python backend). Same
file, same session options as ``TextClassifier``, so a batch's logits are the library's bit for bit.
Inputs: the model's declared inputs by name; output: its logits output, [batch, labels] float32.
"""
from __future__ import annotations

from typing import Any

import triton_python_backend_utils as pb_utils

from edgetext.backends.onnxruntime import OnnxRuntimeBackend
from edgetext.bundle import Bundle
from edgetext.errors import EdgeTextError
from edgetext.triton.tokenizer_model import model_parameters


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        params, folder = model_parameters(args)
        with Bundle.open(folder / params.get("bundle", "bundle.etb")) as bundle:
            spec = bundle.manifest.model(params["model_file"])
            self.backend = OnnxRuntimeBackend(bundle.read(spec.file), spec, int(params.get("threads", "0")) or None)
        self.inputs = [(i.role, i.name) for i in spec.inputs]
        self.output = spec.output.name

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            try:
                feeds = {role: pb_utils.get_input_tensor_by_name(request, name).as_numpy()
                         for role, name in self.inputs}
                logits = self.backend.run(feeds)
                responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(self.output, logits)]))
            except EdgeTextError as e:
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(e))))
        return responses
