"""The aarch64 wheel as a board gets it (make test-arm): pip installed dist/'s cp310-abi3 manylinux
aarch64 wheel into a venv of the emulated CPython 3.11 (scripts/arm/arm_emulation.py install_wheel).
What pip recorded, what the package carries, and the installed console script verifying and
classifying with the committed ARM bundle (bundles/reviews-zh-arm.etb: its aarch64 int8 ONNX model)
as the host classifies with the committed x86 bundle of the same weights.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.arm

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["这家店的菜很好吃，服务也很周到。", "房间太小了，隔音很差，不会再来。", "物流很快，包装完好", "太难吃了",
         "Mixed 中文 and English, emoji 😀", ""]

PROBE = r"""
import importlib.metadata as md, importlib.util, json, os, platform, sys
import edgetext
dist = md.distribution("edgetext")
files = {str(f) for f in dist.files}
print(json.dumps({
    "machine": platform.machine(),
    "pythonpath": os.environ.get("PYTHONPATH"),
    "sys_path": sys.path,
    "edgetext": edgetext.__file__,
    "installer": dist.read_text("INSTALLER").strip(),
    "dist_info": str(dist.locate_file(f"edgetext-{dist.version}.dist-info")),
    "tags": [ln.split(":", 1)[1].strip() for ln in dist.read_text("WHEEL").splitlines() if ln.startswith("Tag:")],
    "requires": dist.requires,
    "has_schema": any(f.startswith("edgetext/schema/") and f.endswith(".json") for f in files),
    "has_py_typed": "edgetext/py.typed" in files,
    "converters": importlib.util.find_spec("edgetext_converters") is not None,
    "entry_points": [e.name for e in dist.entry_points],
}))
"""


def test_wheel_was_installed_by_pip_with_its_package_data_only(arm, aarch64_pkg):
    # -I: not the work tree (cwd) on sys.path, whose edgetext.egg-info (the host's editable install) would
    # answer importlib.metadata first
    got = json.loads(arm.guest_python("-I", "-c", PROBE, timeout=300).stdout)
    assert got["machine"] == "aarch64"
    assert got["pythonpath"] is None and not any(p.startswith(str(ROOT / "sdk")) for p in got["sys_path"])
    assert got["edgetext"] == str(aarch64_pkg / "edgetext" / "__init__.py")
    assert got["installer"] == "pip" and got["dist_info"].startswith(str(aarch64_pkg))
    assert len(got["tags"]) == 1 and got["tags"][0].startswith("cp310-abi3-manylinux_")
    assert got["tags"][0].endswith("_aarch64")
    assert got["has_schema"] and got["has_py_typed"]
    assert not got["converters"], "the wheel carries the runtime only"
    assert "edgetext" in got["entry_points"]
    assert any(r.startswith("onnxruntime") for r in got["requires"])


def test_installed_cli_classifies_with_the_committed_arm_bundle_like_the_host(arm, aarch64_pkg):
    cli = aarch64_pkg.parents[2] / "bin" / "edgetext"  # the console script pip wrote into the guest venv
    arm_bundle, host_bundle = ROOT / "bundles" / "reviews-zh-arm.etb", ROOT / "bundles" / "reviews-zh.etb"
    verified = arm.guest_python(str(cli), "verify", str(arm_bundle), "--predictions", timeout=900, check=False)
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
    assert "golden predictions of model.aarch64.int8.onnx" in verified.stdout

    target = arm.guest_python(str(cli), "classify", str(arm_bundle), "--json", "--backend", "onnxruntime",
                              *TEXTS, timeout=900, check=False)
    assert target.returncode == 0, target.stderr[-3000:]
    import edgetext

    clf = edgetext.TextClassifier(str(host_bundle), backend="onnxruntime", threads=1)
    host = [clf.classify(t)[0] for t in TEXTS]
    rows = [json.loads(line) for line in target.stdout.splitlines() if line.strip()]
    assert len(rows) == len(TEXTS), target.stdout
    print(f"\naarch64 wheel, emulated: {rows[0]}", file=sys.stderr)
    for text, row, h in zip(TEXTS, rows, host):
        assert row["text"] == text
        assert row["label"] == h.label, f"{text!r}: arm {row}, host {h}"
        # another file of the same weights (no reduce_range on ARM) on other kernels: labels equal, scores close
        assert row["score"] == pytest.approx(h.score, abs=0.02)
