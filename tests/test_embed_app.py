"""samples/embed_app.py: one Bundle.open at start-up, closed once the classifier is loaded."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from edgetext.bundle import Bundle

ROOT = Path(__file__).resolve().parent.parent


def _load_sample():
    spec = importlib.util.spec_from_file_location("embed_app_sample", ROOT / "samples" / "embed_app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_embed_app_opens_the_bundle_once_and_closes_it(ort_bundle, tmp_path, monkeypatch, capsys):
    """Regression: the sample opened (and hashed) the bundle twice and never closed the first one."""
    opened: list[Bundle] = []
    closed: list[int] = []
    real_open, real_close = Bundle.open.__func__, Bundle.close

    def counting_open(cls, path):
        bundle = real_open(cls, path)
        if not isinstance(path, Bundle):  # Bundle.open(a_bundle) returns it: not a new open
            opened.append(bundle)
        return bundle

    def counting_close(self):
        closed.append(id(self))
        real_close(self)

    monkeypatch.setattr(Bundle, "open", classmethod(counting_open))
    monkeypatch.setattr(Bundle, "close", counting_close)
    texts = tmp_path / "texts.txt"
    texts.write_text("这家店的菜很好吃\n\n太难吃了\n物流很快\n", encoding="utf-8")

    assert _load_sample().main([str(ort_bundle), "--input", str(texts), "--batch", "2"]) == 0

    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["这家店的菜很好吃", "太难吃了", "物流很快"]
    assert len(opened) == 1, f"the bundle was opened {len(opened)} times"
    assert id(opened[0]) in closed, "the opened bundle was never closed"
