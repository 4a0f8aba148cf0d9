"""The ONNX-only runtime on a newer Python (3.13): no paddle, no paddlelite.

A virtual environment with only the runtime's light dependencies
(requirements/runtime-only.txt) is built once under .cache/venv-py313; the
abi3 wheel built here by 3.10 (cp310-abi3) is installed into it, and
a bundle packed here on 3.10 is verified and used there. Token ids must be
identical and labels equal; logits agree to float32 tolerance (the two sides
run different ONNX Runtime releases).
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".cache" / "venv-py313"
TEXTS = ["这家店的菜很好吃，服务也很周到。", "房间太小了，隔音很差，不会再来。", "",
         "Mixed 中文 and English, emoji 😀 and accents: Café déjà vu", "差" * 5000]

CHILD = r"""
import json, sys
import edgetext
bundle = edgetext.Bundle.open(sys.argv[1])
bundle.verify(predictions=True)
texts = json.loads(sys.stdin.read())
clf = edgetext.TextClassifier(bundle, backend="onnxruntime", threads=1)
tok = clf.tokenizer
print(json.dumps({
    "python": sys.version.split()[0],
    "ids": [tok.encode(t, max_length=64, truncation=True) for t in texts],
    "labels": [clf.classify(t)[0].label for t in texts],
    "logits": clf.logits(texts).tolist(),
}))
"""


def find_python313() -> str | None:
    candidates = [shutil.which("python3.13")]
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
        candidates += sorted(glob.glob(f"{root}/versions/3.13*/bin/python3.13"))
    except (OSError, subprocess.CalledProcessError):
        pass
    for c in candidates:
        if c and subprocess.run([c, "-V"], capture_output=True).returncode == 0:
            return c
    return None


def ensure_venv(python: str) -> Path:
    """Create/refresh the 3.13 venv when the requirements or the native sources change."""
    key_src = b"".join((ROOT / f).read_bytes() for f in ("requirements/runtime-only.txt", "setup.py"))
    key_src += Path(__file__).read_bytes()
    for f in (sorted((ROOT / "native").rglob("*")) + sorted((ROOT / "sdk").rglob("*.py"))
              + sorted((ROOT / "converters").rglob("*.py"))):
        if f.is_file() and "build" not in f.parts:
            key_src += f.read_bytes()
    key = hashlib.sha256(key_src).hexdigest()
    stamp = VENV / ".stamp"
    py = VENV / "bin" / "python"
    if stamp.is_file() and stamp.read_text() == key and py.exists():
        return py
    shutil.rmtree(VENV, ignore_errors=True)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "setuptools", "wheel",
                    "-r", str(ROOT / "requirements" / "runtime-only.txt")], check=True, env=env)
    # The abi3 wheel built here by 3.10 is what a 3.13 user installs: one wheel serves 3.10-3.13.
    wheelhouse = VENV / "wheelhouse"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheelhouse), str(ROOT)], check=True, env=env)
    wheels = sorted(wheelhouse.glob("edgetext-*-cp310-abi3-*.whl"))
    assert wheels, f"no abi3 wheel in {wheelhouse}: {list(wheelhouse.iterdir())}"
    _assert_wheel_has_every_module(wheels[-1])
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheels[-1])], check=True, env=env)
    stamp.write_text(key)
    return py


def _assert_wheel_has_every_module(wheel: Path) -> None:
    """Every .py of the runtime package is in the wheel (a hand-kept package list once dropped subpackages),
    and nothing of the converters: they are host tooling, the wheel is the runtime (setup.py)."""
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    want = {f"edgetext/{p.relative_to(ROOT / 'sdk' / 'edgetext').as_posix()}"
            for p in (ROOT / "sdk" / "edgetext").rglob("*.py")}
    missing = sorted(w for w in want if w not in names and "__pycache__" not in w)
    assert not missing, f"{wheel.name} lacks {missing}"
    assert not [n for n in names if n.startswith("edgetext_converters/")], f"{wheel.name} carries the converters"


def test_onnx_only_runtime_on_python313_matches_python310(tiny_bundle: Path) -> None:
    python = find_python313()
    if python is None:
        pytest.skip("no Python 3.13 on this machine (python3.13 on PATH or pyenv 3.13.x)")
    py = ensure_venv(python)
    probe = subprocess.run([str(py), "-c", "import paddle"], capture_output=True)
    assert probe.returncode != 0, "the 3.13 venv must not have paddle: it tests the ONNX-only runtime"
    child = subprocess.run([str(py), "-c", CHILD, str(tiny_bundle)], input=json.dumps(TEXTS),
                           capture_output=True, text=True, cwd=str(VENV), timeout=600)
    assert child.returncode == 0, child.stderr[-3000:]
    theirs = json.loads(child.stdout)
    assert theirs["python"].startswith("3.13")

    import numpy as np
    import edgetext

    bundle = edgetext.Bundle.open(tiny_bundle)
    clf = edgetext.TextClassifier(bundle, backend="onnxruntime", threads=1)
    tok = clf.tokenizer
    assert theirs["ids"] == [tok.encode(t, max_length=64, truncation=True) for t in TEXTS]
    assert theirs["labels"] == [clf.classify(t)[0].label for t in TEXTS]
    np.testing.assert_allclose(np.array(theirs["logits"]), clf.logits(TEXTS), atol=1e-4)
