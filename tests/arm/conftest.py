"""Fixtures of the ARM emulation suite (make test-arm): the helpers of scripts/arm/arm_emulation.py.
The emulated Python runs the SDK from the aarch64 wheel (make wheels), installed there with pip.

Every test here needs qemu-user and the cross toolchains (scripts/arm/setup.sh), so this folder's
tests carry ``@pytest.mark.arm`` and run only under ``make test-arm``, which sets everything up
first. tests/test_arm_smoke.py is the short part of this that ``make test`` runs.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "arm"))

import arm_emulation  # noqa: E402


@pytest.fixture(scope="session")
def arm():
    """The helper module, with the toolchain, the aarch64 sysroot and the aarch64 wheels in place."""
    arm_emulation.setup("all")
    return arm_emulation


@pytest.fixture(scope="session")
def aarch64_pkg(arm) -> Path:
    """site-packages of the emulated venv into which pip installed the aarch64 wheel of make wheels
    (dist/); the guest Python finds edgetext there, with no PYTHONPATH."""
    return arm.install_wheel()
