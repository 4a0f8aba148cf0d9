"""Where and how each model of a bundle was verified: the manifest's per-model ``verification``.

``mode``:

- ``native``: the file ran on its own target architecture (and device) with the engine it is for;
- ``emulated``: it ran on its target architecture under an emulator (e.g. qemu-aarch64);
- ``cross``: it ran here, but with another architecture's or device's kernels (an aarch64 ONNX
  model on x86_64 ONNX Runtime; a CUDA model on the CPU provider): the numerics of the graph are
  checked, the target's kernels are not;
- ``not_run``: nothing ran it (no runtime for it here).

``verified`` in the manifest keeps its one meaning: this exact file ran on its own target
architecture (``mode == "native"``).

May import: the standard library, edgetext.backends.registry, .targets.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import edgetext.backends.registry as registry

from .targets import Target

MODES = ("native", "emulated", "cross", "not_run")


def host_arch() -> str:
    """This host as a manifest target name (the runtime's answer)."""
    return registry.host_arch()


def engine_installed(backend: str) -> bool:
    return registry.engine_installed(backend)


@dataclass(frozen=True)
class Verification:
    mode: str
    host_arch: str
    engine: str | None  # the backend that ran the file (None: nothing ran it)
    engine_version: str | None
    note: str

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"verification mode {self.mode!r} is not one of {MODES}")

    @property
    def verified(self) -> bool:
        return self.mode == "native"

    def as_dict(self) -> dict:
        return asdict(self)


def verification_for(target: Target, ran: bool, engine_version: str | None, why_not: str | None = None,
                     arch: str | None = None) -> Verification:
    """The record of a target's file that ran here (``ran``) or not (``why_not``); ``arch``: this host."""
    here = arch or host_arch()
    if not ran:
        return Verification("not_run", here, None, None, why_not or "no runtime for it on this host")
    if target.device != "cpu":
        return Verification("cross", here, target.backend, engine_version,
                            f"built for {target.arch}: ran on the {here} CPU, {target.device.upper()} did not run it")
    if target.arch != here:
        return Verification("cross", here, target.backend, engine_version,
                            f"built for {target.arch}: ran with {here} kernels, {target.arch} kernels not exercised")
    return Verification("native", here, target.backend, engine_version, "ran on its target architecture")
