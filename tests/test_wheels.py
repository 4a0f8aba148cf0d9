"""The installable distributions (scripts/arm/wheels.py, make wheels): what a user or a board installs.

Fast (make test): the sdist and the x86_64 wheel built from it, the way make wheels builds them (pip from
the sdist, auditwheel), hold the runtime package only (every module of sdk/edgetext, its schema JSON
and py.typed, the stable-ABI extension) under a cp310-abi3 manylinux tag.
Slow (make wheels, make test-slow): that wheel installed by pip into a clean venv of each newer CPython
here (3.11-3.13; its dependencies from the index, nothing else) classifies with the committed bundles on
ONNX Runtime exactly as the dev venv does. The aarch64 wheel is tested under qemu by tests/arm.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "arm"))

import wheels  # noqa: E402

TEXTS = {"reviews-zh": ["这家店的菜很好吃，服务也很周到。", "房间太小了，隔音很差，不会再来。", "物流很快", ""],
         "tweets-en": ["I love this so much!", "worst day ever, everything went wrong", "Café déjà vu 😀", ""]}

CHILD = r"""
import json, sys
import edgetext
out = {"python": sys.version.split()[0], "edgetext": edgetext.__file__, "results": {}}
for path, texts in json.loads(sys.stdin.read()).items():
    clf = edgetext.TextClassifier(path, backend="onnxruntime", threads=1)
    out["results"][path] = {"model": clf.describe()["model"],
                            "top": [[c.label, c.score] for c in (clf.classify(t)[0] for t in texts)]}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """The sdist and the x86_64 wheel, built into a temporary dist/ (make wheels' own dist/ untouched)."""
    dist = tmp_path_factory.mktemp("dist")
    old = wheels.DIST
    wheels.DIST = dist
    try:
        sdist = wheels.build_sdist()
        wheel = wheels.build_wheel(sdist, "x86_64")
    finally:
        wheels.DIST = old
    return {"sdist": sdist, "wheel": wheel}


def test_x86_wheel_holds_the_runtime_only_under_an_abi3_manylinux_tag(built):
    report = wheels.check(built["wheel"])  # raises naming every problem
    assert report["tags"] == [built["wheel"].name.split("-", 2)[2][:-len(".whl")]]
    assert report["tags"][0].startswith("cp310-abi3-manylinux_") and report["tags"][0].endswith("_x86_64")
    assert "x86-64" in report["so_file"]
    with zipfile.ZipFile(built["wheel"]) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        schema = [n for n in names if n.startswith("edgetext/schema/") and n.endswith(".json")]
        assert schema and all(json.loads(z.read(n)) for n in schema)  # package data, and valid JSON
    assert not any(n.startswith("edgetext_converters") for n in names)
    assert "Requires-Python: >=3.10" in metadata and "Requires-Dist: onnxruntime" in metadata


def test_sdist_builds_the_runtime_and_carries_the_generated_tables(built):
    import tarfile

    with tarfile.open(built["sdist"]) as t:
        names = [n.split("/", 1)[1] for n in t.getnames() if "/" in n]
    assert "native/src/unicode_tables.h" in names  # another Python needs no regeneration
    assert "native/build_ffi.py" in names and "setup.py" in names and "sdk/edgetext/__init__.py" in names
    assert not [n for n in names if n.startswith(("converters/", "tests/", "bench/", "training/"))]
    assert not [n for n in names if n.endswith((".so", ".o", ".pyc"))]


def newer_pythons() -> list[str]:
    """python3.11-3.13 from PATH or pyenv, one per minor version."""
    found: dict[str, str] = {}
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        root = ""
    for minor in ("3.11", "3.12", "3.13"):
        candidates = [shutil.which(f"python{minor}")]
        if root:
            candidates += sorted(glob.glob(f"{root}/versions/{minor}*/bin/python{minor}"))
        for c in candidates:
            if c and subprocess.run([c, "-V"], capture_output=True).returncode == 0:
                found[minor] = c
                break
    return list(found.values())


@pytest.mark.slow
@pytest.mark.parametrize("python", newer_pythons() or [None])
def test_x86_wheel_in_a_clean_newer_python_classifies_like_the_dev_venv(built, python, tmp_path):
    if python is None:
        pytest.skip("no python3.11-3.13 here (PATH or pyenv)")
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # only the wheel: pip resolves its dependencies (numpy, cffi, onnxruntime, jsonschema) from the index
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(built["wheel"])],
                   check=True, env=env, timeout=900)
    assert subprocess.run([str(py), "-c", "import edgetext_converters"], capture_output=True).returncode != 0
    bundles = {str(ROOT / "bundles" / f"{name}.etb"): texts for name, texts in TEXTS.items()}
    child = subprocess.run([str(py), "-I", "-c", CHILD], input=json.dumps(bundles), capture_output=True,
                           text=True, env=env, cwd=tmp_path, timeout=600)
    assert child.returncode == 0, child.stderr[-3000:]
    theirs = json.loads(child.stdout)
    assert theirs["python"].startswith(Path(python).name.removeprefix("python"))
    assert theirs["edgetext"].startswith(str(venv))

    import edgetext

    for path, texts in bundles.items():
        clf = edgetext.TextClassifier(path, backend="onnxruntime", threads=1)
        ours = [clf.classify(t)[0] for t in texts]
        got = theirs["results"][path]
        assert got["model"] == clf.describe()["model"]
        assert [label for label, _ in got["top"]] == [c.label for c in ours]
        # other ONNX Runtime and numpy releases: the same int8 model, float32 rounding apart
        assert [score for _, score in got["top"]] == pytest.approx([c.score for c in ours], abs=1e-4)
