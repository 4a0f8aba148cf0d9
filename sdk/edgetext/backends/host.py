"""Facts about this host that the backend table and the backends ask: CPU architecture,
device strings, which engines are importable, ONNX Runtime's execution providers.

May import: the standard library and edgetext.errors; onnxruntime only inside
:func:`ort_providers`. No other backend module (this is the bottom of edgetext.backends).
"""
from __future__ import annotations

import importlib.util
import logging
import platform
from functools import lru_cache

from ..errors import InvalidInputError

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda")
HOST_ARCH_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64",
                     "armv7l": "armv7", "armv7": "armv7", "armv8l": "armv7"}


@lru_cache(maxsize=1)
def host_arch() -> str:
    """This CPU as a manifest target name (x86_64, aarch64, armv7), else platform.machine() lowercased."""
    machine = platform.machine().lower()
    return HOST_ARCH_ALIASES.get(machine, machine)


def parse_device(device: str) -> tuple[str, int]:
    """'cpu' | 'cuda' | 'cuda:N' -> (kind, index)."""
    if not isinstance(device, str):
        raise InvalidInputError(f"device must be a string ('cpu', 'cuda' or 'cuda:N'), not {type(device).__name__}")
    kind, _, index = device.lower().partition(":")
    if kind not in DEVICES or (index and not index.isdigit()) or (index and kind != "cuda"):
        raise InvalidInputError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")
    return kind, int(index or 0)


@lru_cache(maxsize=None)
def module_installed(import_name: str) -> bool:
    """Whether `import_name` can be imported here, without importing it (engines are heavy)."""
    try:
        return importlib.util.find_spec(import_name) is not None
    except (ImportError, ValueError) as e:  # a parent package that fails to import, or a broken __spec__
        log.debug("treating %s as not installed: %s", import_name, e)
        return False


def ort_providers() -> list[str]:
    """ONNX Runtime's execution providers in this build ([] when onnxruntime is not installed)."""
    if not module_installed("onnxruntime"):
        return []
    import onnxruntime

    return list(onnxruntime.get_available_providers())
