"""OpenVINO backend: the bundle's ONNX file compiled by OpenVINO's CPU plugin (``pip install edgetext[openvino]``).

It reads the same self-contained ONNX bytes ONNX Runtime would (checked first by
:func:`edgetext.modelcheck.check_onnx_self_contained`; OpenVINO gets bytes, never a path, so it resolves
nothing beside the file). The int8 models written for it are static QDQ (NNCF), which OpenVINO runs as
int8 kernels with the quantize steps fused into the neighbouring ops.

Settings, all explicit so a model behaves the same on every CPU:

- ``INFERENCE_PRECISION_HINT = f32``: OpenVINO's default on CPUs with AVX-512 BF16 / AMX is bf16 for the
  ops left in floating point, which the accuracy gate never measured;
- ``INFERENCE_NUM_THREADS`` from the one ``threads`` knob (None: OpenVINO's default), one stream,
  ``PERFORMANCE_HINT = LATENCY``;
- one infer request per input shape, kept in a small LRU: OpenVINO re-plans a request whenever its input
  shape changes, so the predictor pads sequence lengths to a multiple of ``pad_multiple`` (the pad positions
  are masked: the logits do not change) and the requests see a handful of shapes. A request serves one call
  at a time (a lock per request), so the backend is safe to share between threads.

May import: numpy, the standard library, edgetext.errors, edgetext.manifest, edgetext.modelcheck, .base;
openvino inside the class only.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from ..errors import BackendError, BackendUnavailableError
from ..manifest import ModelSpec
from ..modelcheck import check_onnx_self_contained
from .base import float32_logits, model_bytes

MAX_REQUESTS = 32  # shapes kept planned at once (each request holds its own activation buffers)
PAD_MULTIPLE = 16  # the predictor pads sequence lengths to a multiple of this: few shapes, requests reused


class OpenVinoBackend:
    name = "openvino"
    pad_multiple = PAD_MULTIPLE

    def __init__(self, model: bytes | str, spec: ModelSpec, threads: int | None, device: str = "cpu"):
        if device != "cpu":
            raise BackendUnavailableError(f"the openvino backend runs on device='cpu' only, not {device!r}")
        import openvino as ov

        data = model_bytes(model)
        check_onnx_self_contained(data, spec.file)
        self.spec = spec
        self.threads = threads
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
                                  "NUM_STREAMS": 1}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            core = ov.Core()
            graph = core.read_model(data, b"")
            self._compiled = core.compile_model(graph, "CPU", config)
        except Exception as e:  # noqa: BLE001 (OpenVINO raises RuntimeError subclasses of its own)
            raise BackendError(f"OpenVINO cannot load {spec.file}: {str(e).strip()[:500]}") from None
        self._version = ov.__version__
        self._check_io()
        self._requests: OrderedDict[tuple, tuple[Any, threading.Lock]] = OrderedDict()
        self._table_lock = threading.Lock()

    def _check_io(self) -> None:
        have = {}
        for port in self._compiled.inputs:
            have[port.get_any_name()] = str(port.get_element_type().get_type_name())
        declared = {i.name: i for i in self.spec.inputs}
        if set(have) != set(declared):
            raise BackendError(f"{self.spec.file}: the model's inputs {sorted(have)} differ from the manifest's "
                               f"{sorted(declared)}")
        for name, kind in have.items():
            if kind != declared[name].dtype.replace("int", "i"):
                raise BackendError(f"{self.spec.file}: input {name} is {kind}, the manifest says "
                                   f"{declared[name].dtype}")
        outs = [o.get_any_name() for o in self._compiled.outputs]
        if self.spec.output.name not in outs:
            raise BackendError(f"{self.spec.file}: no output {self.spec.output.name!r} (it has {sorted(outs)})")
        kind = self._compiled.output(self.spec.output.name).get_element_type().get_type_name()
        if kind not in ("f32", "f16", "f64", "bf16"):
            raise BackendError(f"{self.spec.file}: output {self.spec.output.name!r} is {kind}, not floating-point "
                               "logits: refused (integer outputs are not cast)")
        self._feeds = [(i.name, i.role) for i in self.spec.inputs]

    def _request(self, shape: tuple) -> tuple[Any, threading.Lock]:
        with self._table_lock:
            got = self._requests.get(shape)
            if got is not None:
                self._requests.move_to_end(shape)
                return got
            got = (self._compiled.create_infer_request(), threading.Lock())
            self._requests[shape] = got
            while len(self._requests) > MAX_REQUESTS:
                self._requests.popitem(last=False)
            return got

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feeds = {name: inputs[role] for name, role in self._feeds}
        shape = tuple(next(iter(feeds.values())).shape)
        request, lock = self._request(shape)
        try:
            with lock:
                request.infer(feeds)
                out = np.array(request.get_tensor(self.spec.output.name).data, copy=True)
        except Exception as e:  # noqa: BLE001 (any engine failure becomes BackendError)
            raise BackendError(f"OpenVINO failed on {self.spec.file}: {str(e).strip()[:500]}") from None
        return float32_logits(out, self.spec.file)

    def describe(self) -> dict:
        return {
            "engine": f"openvino {self._version}",
            "device": "CPU",
            "threads": self.threads or "openvino default (one per physical core)",
            "threads_how": "INFERENCE_NUM_THREADS (one stream, LATENCY hint)",
            "inference_precision": "f32 (set explicitly: bf16 is OpenVINO's default on AVX-512 BF16 / AMX CPUs)",
        }
