"""Which model of a bundle runs where: one table (backend x model target x precision x device).

Like FastDeploy's runtime option table: a combination the table does not list is
refused early with the reason, and ``backend="auto"`` takes the best-ranked row
this host can serve. Nothing here imports an engine except to ask ONNX Runtime
for its execution providers.
"""
from __future__ import annotations

import importlib.util
import platform
from dataclasses import dataclass
from functools import lru_cache

from ..errors import BackendUnavailableError, InvalidInputError
from ..manifest import Manifest, ModelSpec

DEVICES = ("cpu", "cuda")
HOST_ARCH_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64",
                     "armv7l": "armv7", "armv7": "armv7", "armv8l": "armv7"}


@dataclass(frozen=True)
class Row:
    backend: str
    target: str  # the model's target; CPU rows need target == host architecture
    precision: str
    device: str
    rank: int  # lower is preferred by backend="auto"
    why: str


# fmt: off
TABLE: tuple[Row, ...] = (
    # backend       target     precision device rank  why
    Row("onnxruntime", "cuda",    "fp16", "cuda", 10, "ONNX Runtime CUDAExecutionProvider, fp16 model built for GPUs"),
    Row("onnxruntime", "cuda",    "fp32", "cuda", 11, "ONNX Runtime CUDAExecutionProvider, fp32 GPU model"),
    Row("onnxruntime", "x86_64",  "fp32", "cuda", 12, "ONNX Runtime CUDAExecutionProvider running the portable fp32 model"),
    Row("onnxruntime", "aarch64", "fp32", "cuda", 12, "ONNX Runtime CUDAExecutionProvider running the portable fp32 model"),
    Row("onnxruntime", "x86_64",  "int8", "cpu",  20, "ONNX Runtime int8 (dynamic quantization) on x86_64: smallest and fastest CPU path (VNNI where present)"),
    Row("onnxruntime", "x86_64",  "fp32", "cpu",  30, "ONNX Runtime fp32 on x86_64"),
    Row("paddlelite",  "x86_64",  "fp32", "cpu",  40, "Paddle Lite x86 fp32 (correct, slower than ONNX Runtime on x86)"),
    Row("onnxruntime", "x86_64",  "fp16", "cpu",  50, "ONNX Runtime fp16 on an x86 CPU (emulated: slow)"),
    Row("onnxruntime", "aarch64", "int8", "cpu",  20, "ONNX Runtime int8 on aarch64 (NEON/dot-product kernels; XNNPACK when built in)"),
    Row("paddlelite",  "aarch64", "int8", "cpu",  25, "Paddle Lite ARM int8"),
    Row("onnxruntime", "aarch64", "fp32", "cpu",  30, "ONNX Runtime fp32 on aarch64"),
    Row("paddlelite",  "aarch64", "fp16", "cpu",  32, "Paddle Lite ARM fp16 (ARMv8.2 cores)"),
    Row("paddlelite",  "aarch64", "fp32", "cpu",  35, "Paddle Lite ARM fp32"),
    Row("onnxruntime", "aarch64", "fp16", "cpu",  50, "ONNX Runtime fp16 on aarch64"),
    Row("paddlelite",  "armv7",   "int8", "cpu",  20, "Paddle Lite armv7 int8"),
    Row("paddlelite",  "armv7",   "fp32", "cpu",  30, "Paddle Lite armv7 fp32"),
    Row("onnxruntime", "armv7",   "int8", "cpu",  25, "ONNX Runtime int8 on armv7"),
    Row("onnxruntime", "armv7",   "fp32", "cpu",  35, "ONNX Runtime fp32 on armv7"),
)
# combinations refused on purpose, with the reason (anything else missing from TABLE is simply unsupported)
REFUSED: dict[tuple[str, str, str], str] = {
    ("paddlelite", "x86_64", "int8"): "Paddle Lite int8 on x86 outputs NaN or crashes (Lite 2.13); use the ONNX int8 model",
    ("paddlelite", "x86_64", "fp16"): "Paddle Lite has no x86 fp16 kernels",
}
# fmt: on


@lru_cache(maxsize=1)
def host_arch() -> str:
    machine = platform.machine().lower()
    return HOST_ARCH_ALIASES.get(machine, machine)


@lru_cache(maxsize=None)
def engine_installed(backend: str) -> bool:
    module = {"onnxruntime": "onnxruntime", "paddlelite": "paddlelite"}[backend]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def ort_providers() -> list[str]:
    if not engine_installed("onnxruntime"):
        return []
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def parse_device(device: str) -> tuple[str, int]:
    """'cpu' | 'cuda' | 'cuda:N' -> (kind, index)."""
    if not isinstance(device, str):
        raise InvalidInputError(f"device must be a string ('cpu', 'cuda' or 'cuda:N'), not {type(device).__name__}")
    kind, _, index = device.lower().partition(":")
    if kind not in DEVICES or (index and not index.isdigit()) or (index and kind != "cuda"):
        raise InvalidInputError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")
    return kind, int(index or 0)


def lookup(spec: ModelSpec, device: str) -> Row | None:
    kind, _ = parse_device(device)
    for row in TABLE:
        if (row.backend, row.target, row.precision, row.device) == (spec.backend, spec.target, spec.precision, kind):
            return row
    return None


def why_unavailable(spec: ModelSpec, device: str = "cpu") -> str | None:
    """None when this host can run `spec` on `device`, else the reason."""
    kind, _ = parse_device(device)
    refused = REFUSED.get((spec.backend, spec.target, spec.precision))
    if refused:
        return refused
    row = lookup(spec, device)
    if row is None:
        return f"{spec.backend} does not run {spec.precision} {spec.target} models on {kind}"
    if kind == "cpu" and row.target != host_arch():
        return f"built for {row.target}, this host is {host_arch()}"
    if not engine_installed(spec.backend):
        extra = "pip install edgetext[lite] (Python 3.10 x86_64 only)" if spec.backend == "paddlelite" else \
            "pip install onnxruntime"
        return f"{spec.backend} is not installed ({extra})"
    if kind == "cuda" and "CUDAExecutionProvider" not in ort_providers():
        return "ONNX Runtime has no CUDAExecutionProvider here (install onnxruntime-gpu and a CUDA driver)"
    return None


@dataclass(frozen=True)
class Choice:
    spec: ModelSpec
    row: Row
    reason: str
    rejected: tuple[str, ...]  # "file: why" for every model not taken


def choose(manifest: Manifest, backend: str = "auto", device: str = "cpu", model: str | None = None) -> Choice:
    """Pick the model to run: explicit `model` file, else the best table row for `backend`/`device`."""
    kind, _ = parse_device(device)
    if backend not in ("auto", "onnxruntime", "paddlelite"):
        raise InvalidInputError(f"unknown backend {backend!r}: use 'auto', 'onnxruntime' or 'paddlelite'")
    viable: list[tuple[Row, ModelSpec]] = []
    rejected: list[str] = []
    for spec in manifest.models:
        if model is not None and spec.file != model:
            continue
        if backend != "auto" and spec.backend != backend:
            rejected.append(f"{spec.file}: not a {backend} model")
            continue
        why = why_unavailable(spec, device)
        if why:
            rejected.append(f"{spec.file}: {why}")
        else:
            viable.append((lookup(spec, device), spec))
    if model is not None and not any(s.file == model for s in manifest.models):
        raise BackendUnavailableError(f"the bundle has no model {model!r}; it has "
                                      f"{[s.file for s in manifest.models]}")
    if not viable:
        def servable(dev: str) -> str:
            return ", ".join(s.summary() for s in manifest.models if why_unavailable(s, dev) is None) or "none"

        asked = f"backend={backend!r}, device={device!r}" + (f", model={model!r}" if model else "")
        available = f"Available here: {servable(device)}"
        if kind != "cpu":
            available += f" (on device='cpu': {servable('cpu')})"
        raise BackendUnavailableError(f"nothing in this bundle can run with {asked} on this {host_arch()} host. "
                                      f"{available}. Why not: {'; '.join(rejected)}")
    viable.sort(key=lambda rs: rs[0].rank)
    row, spec = viable[0]
    how = "requested model" if model else ("backend=auto" if backend == "auto" else f"backend={backend}")
    reason = f"{how}, device={kind}, host {host_arch()}: {spec.file} — {row.why}"
    others = [f"{s.file}: ranked lower ({r.rank} vs {row.rank})" for r, s in viable[1:]]
    return Choice(spec, row, reason, tuple(others + rejected))


def backend_class(name: str):
    if name == "onnxruntime":
        from .onnxruntime import OnnxRuntimeBackend

        return OnnxRuntimeBackend
    if name == "paddlelite":
        from .paddlelite import PaddleLiteBackend

        return PaddleLiteBackend
    raise BackendUnavailableError(f"unknown backend {name!r}")
