"""The backends EdgeText knows: one registry, ``BACKENDS``, name -> where its class lives,
which engine it imports and how to install that engine.

Everything that names a backend derives from it: the CLI's ``--backend`` choices,
``registry.choose()``'s validation, ``engine_installed``, ``backend_class`` and the test
that pins the manifest schema's ``backend`` enum. Which model runs where is *not* here:
that is ``registry.TABLE`` / ``REFUSED``.

May import: the standard library, edgetext.errors, edgetext.backends.host. The backend
modules themselves are imported by :func:`backend_class` only, by the name recorded here
(tests/test_architecture.py counts those names as imports of this module).
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from ..errors import BackendUnavailableError
from . import host


@dataclass(frozen=True)
class BackendInfo:
    name: str  # the manifest's "backend" value
    module: str  # the module holding the backend class
    class_name: str
    engine: str  # the engine's import name (checked with find_spec, never imported to check)
    install_hint: str  # what to run when the engine is missing


BACKENDS: dict[str, BackendInfo] = {b.name: b for b in (
    BackendInfo("onnxruntime", "edgetext.backends.onnxruntime", "OnnxRuntimeBackend", "onnxruntime",
                "pip install onnxruntime"),
    BackendInfo("paddlelite", "edgetext.backends.paddlelite", "PaddleLiteBackend", "paddlelite",
                "pip install edgetext[lite] (Python 3.10 x86_64 only)"),
    BackendInfo("openvino", "edgetext.backends.openvino", "OpenVinoBackend", "openvino",
                "pip install edgetext[openvino]"),
)}
AUTO = "auto"
BACKEND_CHOICES: tuple[str, ...] = (AUTO, *BACKENDS)


def spoken_choices() -> str:
    """"'auto', 'onnxruntime' or 'paddlelite'": the choices as an error message lists them."""
    quoted = [repr(c) for c in BACKEND_CHOICES]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def engine_installed(backend: str) -> bool:
    """Whether the engine behind `backend` is importable here (KeyError for an unknown backend)."""
    return host.module_installed(BACKENDS[backend].engine)


def backend_class(name: str) -> type:
    """The backend class for a manifest backend name (imports its module, not yet its engine)."""
    info = BACKENDS.get(name)
    if info is None:
        raise BackendUnavailableError(f"unknown backend {name!r}")
    return getattr(import_module(info.module), info.class_name)
