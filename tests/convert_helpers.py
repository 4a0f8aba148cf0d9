"""Helpers shared by the converter tests (tests/test_convert*.py).

Makes ``edgetext_converters`` and ``edgetext`` importable from the source tree when the
distribution is not installed (editable install pending), and builds small real models.
"""
from __future__ import annotations

import zlib  # noqa: F401  (before any paddle import: FACTS.md)
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _name, _path in (("edgetext_converters", ROOT / "converters"), ("edgetext", ROOT / "sdk")):
    if importlib.util.find_spec(_name) is None:
        sys.path.insert(0, str(_path))
