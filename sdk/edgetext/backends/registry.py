"""Which model of a bundle runs where: one table (backend x model target x precision x device).

Like FastDeploy's runtime option table: a combination the table does not list is
refused early with the reason, and ``backend="auto"`` takes the best-ranked row
this host can serve. ``TABLE`` and ``REFUSED`` are the one statement of which
target/precision runs where (the converters derive their targets from them).
Backend names come from ``catalog.BACKENDS``; host facts from ``host``.

May import: the standard library, edgetext.errors, edgetext.manifest,
edgetext.backends.host and edgetext.backends.catalog; never a backend module or an
engine (``backend_class`` imports a backend module by its catalog name, on demand).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import BackendUnavailableError, InvalidInputError
from ..manifest import Manifest, ModelSpec
from .catalog import AUTO, BACKEND_CHOICES, BACKENDS, backend_class, engine_installed, spoken_choices
from .host import DEVICES, HOST_ARCH_ALIASES, host_arch, ort_providers, parse_device

# Re-exported: callers and tests reach these through the registry (tests fake this host by
# patching registry.host_arch / engine_installed / ort_providers, which the functions below
# look up as this module's globals).
__all__ = ["AUTO", "BACKENDS", "BACKEND_CHOICES", "DEVICES", "HOST_ARCH_ALIASES", "REFUSED", "TABLE", "Choice",
           "Row", "backend_class", "choose", "engine_installed", "host_arch", "lookup", "ort_providers",
           "parse_device", "why_unavailable"]


@dataclass(frozen=True)
class Row:
    backend: str
    target: str  # the model's target; CPU rows need target == host architecture
    precision: str
    device: str
    rank: int  # lower is preferred by backend="auto"
    why: str
    latency_rank: int | None = None  # the rank for small engine calls (predictor.SMALL_TOKENS), where it differs

    def rank_for(self, latency: bool) -> int:
        return self.latency_rank if latency and self.latency_rank is not None else self.rank


# fmt: off
TABLE: tuple[Row, ...] = (
    # backend       target     precision device rank  why
    Row("onnxruntime", "cuda",    "fp16", "cuda", 10, "ONNX Runtime CUDAExecutionProvider, fp16 model built for GPUs"),
    Row("onnxruntime", "cuda",    "fp32", "cuda", 11, "ONNX Runtime CUDAExecutionProvider, fp32 GPU model"),
    Row("onnxruntime", "x86_64",  "fp32", "cuda", 12, "ONNX Runtime CUDAExecutionProvider running the portable fp32 model"),
    Row("onnxruntime", "aarch64", "fp32", "cuda", 12, "ONNX Runtime CUDAExecutionProvider running the portable fp32 model"),
    Row("openvino",    "x86_64",  "int8", "cpu",  15, "OpenVINO static int8 (NNCF) on x86_64: the fastest measured CPU path on batches (bench/e2e.py)", 25),
    Row("onnxruntime", "x86_64",  "int8", "cpu",  20, "ONNX Runtime int8 (dynamic quantization) on x86_64: smallest and fastest CPU path (VNNI where present)"),
    Row("onnxruntime", "x86_64",  "fp32", "cpu",  30, "ONNX Runtime fp32 on x86_64"),
    Row("openvino",    "x86_64",  "fp32", "cpu",  32, "OpenVINO fp32 on x86_64 (f32 inference precision)"),
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
        return f"{spec.backend} is not installed ({BACKENDS[spec.backend].install_hint})"
    if kind == "cuda" and "CUDAExecutionProvider" not in ort_providers():
        return "ONNX Runtime has no CUDAExecutionProvider here (install onnxruntime-gpu and a CUDA driver)"
    return None


@dataclass(frozen=True)
class Choice:
    spec: ModelSpec
    row: Row
    reason: str
    rejected: tuple[str, ...]  # "file: why" for every model not taken


def choose(manifest: Manifest, backend: str = "auto", device: str = "cpu", model: str | None = None,
           latency: bool = False) -> Choice:
    """Pick the model to run: explicit `model` file, else the best table row for `backend`/`device`
    (``latency``: ranked for small engine calls, ``Row.latency_rank``)."""
    kind, _ = parse_device(device)
    if backend not in BACKEND_CHOICES:
        raise InvalidInputError(f"unknown backend {backend!r}: use {spoken_choices()}")
    viable: list[tuple[Row, ModelSpec]] = []
    rejected: list[str] = []
    for spec in manifest.models:
        if model is not None and spec.file != model:
            continue
        if backend != AUTO and spec.backend != backend:
            rejected.append(f"{spec.file}: not a {backend} model")
            continue
        why = why_unavailable(spec, device)
        row = lookup(spec, device)
        if why or row is None:  # why_unavailable is None only for specs lookup() finds
            rejected.append(f"{spec.file}: {why}")
        else:
            viable.append((row, spec))
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
    viable.sort(key=lambda rs: rs[0].rank_for(latency))
    row, spec = viable[0]
    how = "requested model" if model else ("backend=auto" if backend == AUTO else f"backend={backend}")
    reason = f"{how}, device={kind}, host {host_arch()}: {spec.file} — {row.why}"
    others = [f"{s.file}: ranked lower ({r.rank_for(latency)} vs {row.rank_for(latency)})" for r, s in viable[1:]]
    return Choice(spec, row, reason, tuple(others + rejected))
