"""Triton's Python-backend module for calling exported ``model.py`` files in this process.

``triton_python_backend_utils`` is the real file shipped in PyTriton's wheel (its helpers, e.g.
``get_input_tensor_by_name``, run as in the server); the classes that Triton's stub injects into it from C++
(``Tensor``, ``InferenceRequest``, ``InferenceResponse``, ``TritonError``) are small stand-ins with the same
methods the models call. The slow test runs the same models in the real server.
"""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import numpy as np

from .triton_server import install


class Tensor:
    def __init__(self, name: str, array: np.ndarray):
        if not isinstance(array, np.ndarray):  # the stub refuses anything but numpy arrays
            raise TypeError(f"Tensor {name}: expected a numpy array, got {type(array).__name__}")
        self._name, self._array = name, array

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> np.ndarray:
        return self._array


class InferenceRequest:
    def __init__(self, inputs: list[Tensor]):
        self._inputs = inputs

    def inputs(self) -> list[Tensor]:
        return self._inputs


class TritonError:
    def __init__(self, message: str):
        self._message = message

    def message(self) -> str:
        return self._message


class InferenceResponse:
    def __init__(self, output_tensors: list[Tensor], error: TritonError | None = None):
        self._outputs, self._error = output_tensors, error

    def output_tensors(self) -> list[Tensor]:
        return self._outputs

    def has_error(self) -> bool:
        return self._error is not None

    def error(self) -> TritonError | None:
        return self._error


def load() -> ModuleType:
    """The module as ``triton_python_backend_utils`` in sys.modules (what ``model.py`` imports)."""
    if "triton_python_backend_utils" in sys.modules:
        return sys.modules["triton_python_backend_utils"]
    path = install() / "backends" / "python" / "triton_python_backend_utils.py"
    spec = importlib.util.spec_from_file_location("triton_python_backend_utils", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for cls in (Tensor, InferenceRequest, InferenceResponse, TritonError):
        setattr(mod, cls.__name__, cls)
    sys.modules["triton_python_backend_utils"] = mod
    return mod


def model_args(repository, model: str, config_json: str) -> dict:
    """The ``args`` Triton passes to ``initialize`` (the keys the exported models read)."""
    return {"model_config": config_json, "model_repository": str(repository / model), "model_version": "1",
            "model_name": model, "model_instance_kind": "CPU", "model_instance_name": f"{model}_0"}
