"""ARM smoke for the fast suite (make test): libedgetext cross-compiled for aarch64 and run under qemu-user.

Two checks, ~30 s with the toolchain installed (scripts/arm/setup.sh toolchain adds ~20 s on a
fresh machine): native/'s C unit tests pass on aarch64, and the C sample (samples/c_app) gives
the host's ids on aarch64. The full emulation suite (Python SDK, armv7, classifier parity) is
tests/arm, run by `make test-arm`. Skipped only when the toolchain cannot be installed because
the Debian mirror is unreachable.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "arm"))

import arm_emulation as arm  # noqa: E402


@pytest.fixture(scope="module")
def toolchain():
    try:
        arm.setup("toolchain")
    except arm.SetupUnavailable as error:
        pytest.skip(f"qemu-user-static / cross gcc cannot be installed (apt unreachable): {error}")


def test_native_c_tests_pass_on_aarch64_under_qemu(toolchain):
    result = arm.native_tests("aarch64")
    assert result.failed == 0 and result.passed > 0, result.output[-4000:]


def test_c_sample_gives_the_host_ids_on_aarch64(toolchain, zh_vocab):
    texts = "这家店的菜很好吃，服务也很周到。\nHello World, naïve café! 😀\n\niPhone14价格是5999元\n"
    host = arm.c_app("host", str(zh_vocab), "--dense", "8", stdin=texts)
    target = arm.c_app("aarch64", str(zh_vocab), "--dense", "8", stdin=texts)
    assert host.returncode == 0, host.stderr
    assert target.returncode == 0, target.stderr
    assert target.stdout == host.stdout
    assert len(target.stdout.splitlines()) == 5  # 4 texts + the dense line
