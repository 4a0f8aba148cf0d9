"""The converter targets, derived from the runtime's one statement of what runs where.

A converter target (``onnx-x86`` ...) is a writer (``onnx`` | ``lite``) aimed at one row
group of ``edgetext.backends.registry.TABLE`` (backend x model target x device). What the
target offers is what its writer can produce *and* the table runs; its default is the
best-ranked such row; a refusal quotes ``registry.REFUSED``. So "Lite int8 on x86 is
refused" is said once, in the SDK, and this module only repeats it::

    onnx-x86    onnxruntime x86_64   int8 (dynamic, reduce_range: non-VNNI safe) | fp32 | fp16
    onnx-arm64  onnxruntime aarch64  int8 (dynamic, no reduce_range) | fp32 | fp16
    onnx-cuda   onnxruntime cuda     fp16 | fp32
    lite-x86    paddlelite  x86_64   fp32 (int8/fp16: REFUSED)
    lite-arm    paddlelite  aarch64  int8 (weight-only) | fp32
    openvino-x86 openvino   x86_64   int8 (NNCF static QDQ, needs --calib) | fp32

Adding a target of an existing writer is one line in ``_DECLARED``.

May import: the standard library, edgetext.errors, edgetext.backends.registry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

import edgetext.backends.registry as registry
from edgetext.errors import ConversionError

PRECISIONS = ("int8", "fp16", "fp32")
#: What each writer (with the quantize pass) can produce, in the order a refusal lists them.
WRITABLE: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "onnx": ("int8", "fp32", "fp16"),
    "lite": ("int8", "fp32"),  # opt writes fp32 or weight-only int8; no fp16 .nb from here
    "openvino": ("int8", "fp32"),  # NNCF static int8 (QDQ ONNX) or the fp32 ONNX file
})
#: name, writer, backend, model target (manifest), writer options
_DECLARED: tuple[tuple[str, str, str, str, dict[str, Any]], ...] = (
    ("onnx-x86", "onnx", "onnxruntime", "x86_64", {"reduce_range": True}),
    ("onnx-arm64", "onnx", "onnxruntime", "aarch64", {"reduce_range": False}),
    ("onnx-cuda", "onnx", "onnxruntime", "cuda", {}),
    ("lite-x86", "lite", "paddlelite", "x86_64", {"place": "x86"}),
    ("lite-arm", "lite", "paddlelite", "aarch64", {"place": "arm"}),
    ("openvino-x86", "openvino", "openvino", "x86_64", {}),
)
DEFAULT_TARGETS = ("onnx-x86", "onnx-arm64", "lite-x86", "lite-arm")
_EXTENSIONS = {"onnx": "onnx", "lite": "nb", "openvino": "onnx"}
_FORMATS = {"onnx": "ONNX", "lite": "Paddle Lite", "openvino": "OpenVINO"}


@dataclass(frozen=True)
class Target:
    """One converter target; ``precisions`` (default first) and ``default`` come from the SDK table."""

    name: str
    writer: str  # "onnx" | "lite": the writer module in edgetext_converters.writers
    backend: str  # manifest "backend"
    arch: str  # manifest "target": x86_64 | aarch64 | armv7 | cuda
    device: str  # registry device of its rows: "cpu" | "cuda"
    precisions: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)  # writer options (reduce_range, place)
    refused: Mapping[str, str] = field(default_factory=dict)  # precision -> REFUSED's reason

    @property
    def default(self) -> str:
        return self.precisions[0]

    def precision(self, asked: str | None) -> str:
        """``asked`` (None: the default) if this target offers it, else ConversionError saying why not."""
        p = asked or self.default
        if p not in PRECISIONS:
            raise ConversionError(f"unknown precision {p!r}; choose int8, fp16 or fp32")
        if p not in self.precisions:
            why = self.refused.get(p)
            if why is None:
                why = (f"the converters cannot write {p} {_FORMATS[self.writer]} models" if p not in WRITABLE[self.writer]
                       else f"{self.backend} does not run {p} {self.arch} models")
            raise ConversionError(f"{self.name} supports {', '.join(self.precisions)}, not {p} ({why})")
        return p

    def file_name(self, precision: str) -> str:
        engine = ".openvino" if self.writer == "openvino" else ""  # beside the ONNX Runtime file of a bundle
        return f"model.{self.arch}.{precision}{engine}.{_EXTENSIONS[self.writer]}"


def build_targets(table: Iterable[registry.Row], refused: Mapping[tuple[str, str, str], str],
                  declared: Sequence[tuple[str, str, str, str, dict[str, Any]]] = _DECLARED) -> dict[str, Target]:
    """Targets from a backend table (``registry.TABLE`` / ``REFUSED`` unless a test passes others)."""
    rows = tuple(table)
    out: dict[str, Target] = {}
    for name, writer, backend, arch, options in declared:
        device = "cuda" if arch == "cuda" else "cpu"
        ranks = {r.precision: r.rank for r in rows
                 if (r.backend, r.target, r.device) == (backend, arch, device) and (backend, arch, r.precision)
                 not in refused}
        offered = [p for p in WRITABLE[writer] if p in ranks]
        if not offered:
            raise ConversionError(f"target {name}: the backend table runs nothing this writer can write")
        best = min(offered, key=lambda p: ranks[p])
        out[name] = Target(name=name, writer=writer, backend=backend, arch=arch, device=device,
                           precisions=(best, *[p for p in offered if p != best]),
                           options=MappingProxyType(dict(options)),
                           refused=MappingProxyType({p: why for (b, a, p), why in refused.items()
                                                     if (b, a) == (backend, arch)}))
    return out


TARGETS: Mapping[str, Target] = MappingProxyType(build_targets(registry.TABLE, registry.REFUSED))


def parse_targets(targets: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"onnx-x86,lite-x86"`` or a list -> known target names, in order, without repeats."""
    if targets is None:
        return DEFAULT_TARGETS
    if isinstance(targets, str):
        targets = targets.split(",")
    out: list[str] = []
    for t in targets:
        t = str(t).strip()
        if not t:
            continue
        if t not in TARGETS:
            raise ConversionError(f"unknown target {t!r}; choose from {', '.join(TARGETS)}")
        if t not in out:
            out.append(t)
    if not out:
        raise ConversionError("no targets given")
    return tuple(out)
