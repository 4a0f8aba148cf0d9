"""The small multi-label and text-pair bundles the task tests share (tests/test_multilabel.py, test_pairs.py and
the serve, Ray, Triton, samples and ARM tests), each converted once per machine with ``edgetext convert`` and cached
(.cache/convert_tests), from the models tests/support/multilabel_models.py and pair_models.py train::

    bundle, texts = multilabel("tuned")     # onnx-x86 int8 + lite-x86, thresholds tuned on dev; held-out texts
    bundle, rows = pairs("fp32")             # onnx-x86 fp32; held-out [text, pair, label] rows
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .convert_helpers import CACHE, cached_folder, convert_cli
from .multilabel_models import cached_multilabel_model
from .pair_models import cached_pair_model

#: variant -> the convert arguments it adds (from the model's files)
MULTILABEL_ARGS = {
    "tuned": lambda m: ("--targets", "onnx-x86,lite-x86", "--eval", m["dev"], "--calib", m["calib"],
                        "--tune-thresholds"),
    "fp32": lambda m: ("--targets", "onnx-x86", "--precision", "fp32", "--eval", m["test"]),
}
PAIR_ARGS = {
    "int8-lite": ("--targets", "onnx-x86,lite-x86"),
    "fp32": ("--targets", "onnx-x86", "--precision", "fp32"),
}


def _converted(model: dict, cache_name: str, name: str, fixed: tuple[str, ...], args: tuple[str, ...]) -> Path:
    """``edgetext convert CHECKPOINT FIXED ARGS`` once per machine, keyed by the model's folder and ARGS."""
    key = hashlib.sha256(" ".join([model["checkpoint"], *args]).encode()).hexdigest()[:12]

    def make(tmp: Path) -> dict:
        tmp.mkdir(parents=True)
        proc = convert_cli(model["checkpoint"], "--out", str(tmp / f"{name}.etb"), *fixed,
                           "--max-length", str(model["max_length"]), "--json", "--quiet", *args)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return {"bundle": str(tmp / f"{name}.etb"), "report": json.loads(proc.stdout.strip().splitlines()[-1])}

    return Path(cached_folder(CACHE / f"{cache_name}-{name}-{key}", "convert.json", make)["bundle"])


def multilabel_bundle(model: dict, name: str, *args: str) -> Path:
    """``edgetext convert CHECKPOINT --multi-label ARGS`` (cached)."""
    return _converted(model, "multilabel-bundle", name, ("--multi-label",), args)


def pair_bundle(model: dict, name: str, *args: str) -> Path:
    """``edgetext convert CHECKPOINT --pairs --eval TEST ARGS`` (cached)."""
    return _converted(model, "pairs-bundle", name, ("--pairs", "--eval", model["test"]), args)


def tsv_rows(path: str) -> list[list[str]]:
    return [line.split("\t") for line in Path(path).read_text(encoding="utf-8").splitlines()]


def multilabel(variant: str = "tuned") -> tuple[Path, list[str]]:
    """A multi-label bundle (MULTILABEL_ARGS) and the held-out message texts."""
    model = cached_multilabel_model()
    texts = [r[0] for r in tsv_rows(model["test"])]
    return multilabel_bundle(model, variant, *MULTILABEL_ARGS[variant](model)), texts


def pairs(variant: str = "fp32") -> tuple[Path, list[list[str]]]:
    """A text-pair bundle (PAIR_ARGS) and the held-out [text, pair, label] rows."""
    model = cached_pair_model()
    return pair_bundle(model, variant, *PAIR_ARGS[variant]), tsv_rows(model["test"])
