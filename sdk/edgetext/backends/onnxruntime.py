"""ONNX Runtime backend: CPUExecutionProvider; CUDAExecutionProvider on device="cuda";
XnnpackExecutionProvider on ARM CPUs when the installed build has it.

Threads: `threads` sets intra-op threads (inter-op 1, sequential execution);
None leaves ONNX Runtime's default (one per physical core). Sessions are
thread-safe for concurrent run() calls.

Models are refused before ONNX Runtime sees them when they would make it read anything else
(external data, EPContext files: :func:`edgetext.modelcheck.check_onnx_self_contained`); a path
is read here and handed over as bytes, so nothing is resolved beside it. Outputs must be
floating point (integer outputs are refused, not cast).

May import: numpy, edgetext.errors, edgetext.manifest, edgetext.modelcheck, edgetext.backends.host, .base;
onnxruntime inside the class only (``import edgetext.backends.onnxruntime`` stays cheap).
"""
from __future__ import annotations

import numpy as np

from ..errors import BackendError, BackendUnavailableError
from ..manifest import ModelSpec
from ..modelcheck import check_onnx_self_contained
from . import host
from .base import float32_logits, model_bytes

FLOAT_OUTPUTS = ("tensor(float)", "tensor(float16)", "tensor(double)")


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, model: bytes | str, spec: ModelSpec, threads: int | None, device: str = "cpu"):
        import onnxruntime as ort

        model = model_bytes(model)
        check_onnx_self_contained(model, spec.file)
        self.spec = spec
        self.threads = threads
        kind, index = host.parse_device(device)
        available = ort.get_available_providers()
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.inter_op_num_threads = 1
        if threads:
            so.intra_op_num_threads = threads
        so.log_severity_level = 3
        providers: list = []
        if kind == "cuda":
            if "CUDAExecutionProvider" not in available:
                raise BackendUnavailableError(f"device={device!r} needs ONNX Runtime's CUDAExecutionProvider; "
                                              f"this build has {available}")
            providers.append(("CUDAExecutionProvider", {"device_id": index}))
        elif "XnnpackExecutionProvider" in available and host.host_arch() in ("aarch64", "armv7"):
            providers.append(("XnnpackExecutionProvider", {"intra_op_num_threads": threads or 1}))
        providers.append("CPUExecutionProvider")
        try:
            self.session = ort.InferenceSession(model, so, providers=providers)
        except Exception as e:  # noqa: BLE001 (onnxruntime raises its own Fail/InvalidGraph/...; re-raised)
            raise BackendError(f"ONNX Runtime cannot load {spec.file}: {str(e).strip()[:500]}") from None
        self._version = ort.__version__
        self._check_io()

    def _check_io(self) -> None:
        have = {i.name: i for i in self.session.get_inputs()}
        declared = {i.name for i in self.spec.inputs}
        if set(have) != declared:
            raise BackendError(f"{self.spec.file}: the model's inputs {sorted(have)} differ from the manifest's "
                               f"{sorted(declared)}")
        for i in self.spec.inputs:
            want = f"tensor({i.dtype})"
            if have[i.name].type != want:
                raise BackendError(f"{self.spec.file}: input {i.name} is {have[i.name].type}, the manifest says "
                                   f"{i.dtype}")
        outs = {o.name: o for o in self.session.get_outputs()}
        if self.spec.output.name not in outs:
            raise BackendError(f"{self.spec.file}: no output {self.spec.output.name!r} (it has {sorted(outs)})")
        kind = outs[self.spec.output.name].type
        if kind not in FLOAT_OUTPUTS:
            raise BackendError(f"{self.spec.file}: output {self.spec.output.name!r} is {kind}, not floating-point "
                               "logits: refused (integer outputs are not cast)")
        self._feeds = [(i.name, i.role) for i in self.spec.inputs]
        self._out = [self.spec.output.name]

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feeds = {name: inputs[role] for name, role in self._feeds}
        try:
            out = self.session.run(self._out, feeds)[0]
        except Exception as e:  # noqa: BLE001 (any engine failure becomes BackendError)
            raise BackendError(f"ONNX Runtime failed on {self.spec.file}: {str(e).strip()[:500]}") from None
        return float32_logits(out, self.spec.file)

    def describe(self) -> dict:
        return {
            "engine": f"onnxruntime {self._version}",
            "providers": self.session.get_providers(),
            "threads": self.threads or "onnxruntime default (one per physical core)",
            "threads_how": "SessionOptions.intra_op_num_threads (inter-op 1, sequential)",
        }
