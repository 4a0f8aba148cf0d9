"""samples/demo.py (`make demo`) runs end to end on the committed bundles and prints what it promises."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_classifies_held_out_text_with_the_committed_bundles():
    out = subprocess.run([sys.executable, "samples/demo.py", "--sample", "40"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    for name in ("reviews-zh", "tweets-en"):
        assert f"{name}:" in text and f"{name}.etb" in text
    assert text.count("held-out accuracy on 40 texts:") >= 2
    assert "| variant" in text or "| model" in text, "the measured comparison table is printed"
    assert '"label"' in text, "the CLI's JSON output is shown"
