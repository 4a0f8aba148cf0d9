"""The repository stands alone and explains itself: no citations of files outside it,
a README in every folder, every make target listed by ``make help``."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("sdk/edgetext", "sdk/edgetext/backends", "native", "converters/edgetext_converters", "samples", "tests",
           "bench", "scripts", "docs")


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    return [ROOT / p for p in out if (ROOT / p).is_file()]


def test_no_file_cites_inputs_outside_the_repository():
    outside = ("FACTS" + ".md", "../" + "shared", "ANCHORS" + ".md", "ASSETS" + ".md", "STYLE" + ".md",
               "DESIGN" + ".md")
    found = []
    for path in _tracked():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        found += [f"{path.relative_to(ROOT)}: {name}" for name in outside if name in text]
    assert not found, "cite docs/environment.md (or the project's own docs) instead:\n" + "\n".join(found)


def test_every_folder_has_a_readme():
    missing = [f for f in FOLDERS if not (ROOT / f / "README.md").is_file()]
    assert not missing, f"folders without README.md: {missing}"


def test_make_help_lists_every_target():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = {m.group(1) for m in re.finditer(r"^([a-zA-Z][a-zA-Z0-9_-]*):(?!=)", makefile, re.M)}
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"make ([a-zA-Z0-9_-]+)", shown))
    assert targets and targets <= listed, f"targets missing from make help: {sorted(targets - listed)}"
