"""Runs tests/convert_paddle_ernie_checks.py in a child pytest process (it imports paddle, whose
zlib and OpenMP must not leak into the runtime tests sharing this process)."""
from __future__ import annotations

from support import convert_helpers as H


def test_paddle_ernie_checks():
    proc = H.run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/convert_paddle_ernie_checks.py"],
                 check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
