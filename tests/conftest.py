"""Shared pytest fixtures: where the real assets live (fetched by `make assets`)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSETS = Path(os.environ.get("EDGETEXT_ASSETS", ROOT / ".cache" / "assets"))


@pytest.fixture(scope="session")
def assets() -> Path:
    """The folder of real vocabularies, models and corpora (see docs/architecture.md)."""
    if not (ASSETS / "bert-base-chinese" / "vocab.txt").is_file():
        pytest.fail(f"assets missing in {ASSETS}: run `make assets`")
    return ASSETS


@pytest.fixture(scope="session")
def zh_vocab(assets: Path) -> Path:
    return assets / "bert-base-chinese" / "vocab.txt"


@pytest.fixture(scope="session")
def en_vocab(assets: Path) -> Path:
    return assets / "minilm" / "vocab.txt"


# --- runtime SDK: real test models and bundles (built by tests/support/runtime_models.py, cached by pytest) ---
def _require_model_toolchain() -> None:
    for mod in ("paddle", "paddle2onnx", "paddlelite", "onnx", "tokenizers"):
        pytest.importorskip(mod, reason=f"building the runtime test models needs {mod}")


@pytest.fixture(scope="session")
def runtime_model_cache(request, tmp_path_factory) -> Path:
    """Built test models live in pytest's cache (keyed by the builder's source), else in the session tmp dir."""
    if getattr(request.config, "cache", None):
        return request.config.cache.mkdir("edgetext-runtime-models")
    return tmp_path_factory.mktemp("runtime-models")


@pytest.fixture(scope="session")
def runtime_models(runtime_model_cache: Path, zh_vocab: Path):
    """{variant: folder of .onnx/.nb files} for the tiny BERT-shaped test classifier."""
    _require_model_toolchain()
    from support import runtime_models as rm

    return {v: rm.build_models(runtime_model_cache, zh_vocab, v) for v in rm.VARIANTS}


@pytest.fixture(scope="session")
def tiny_bundle(runtime_models, zh_vocab: Path, tmp_path_factory) -> Path:
    """A packed .etb bundle: fp32 .nb, fp32 ONNX and int8 ONNX of one model, golden vectors."""
    from support import runtime_models as rm

    return rm.make_bundle(runtime_models["base"], zh_vocab, tmp_path_factory.mktemp("bundles") / "tiny.etb",
                          archive=True)


@pytest.fixture(scope="session")
def tiny_bundle_dir(runtime_models, zh_vocab: Path, tmp_path_factory) -> Path:
    """The same bundle as a folder."""
    from support import runtime_models as rm

    return rm.make_bundle(runtime_models["base"], zh_vocab, tmp_path_factory.mktemp("bundles") / "tiny")


@pytest.fixture(scope="session")
def int32_bundle(runtime_models, zh_vocab: Path, tmp_path_factory) -> Path:
    """A bundle whose models declare int32 input_ids / token_type_ids / attention_mask."""
    from support import runtime_models as rm

    return rm.make_bundle(runtime_models["int32mask"], zh_vocab, tmp_path_factory.mktemp("bundles") / "i32.etb",
                          variant="int32mask", archive=True)


@pytest.fixture(scope="session")
def ort_bundle(runtime_model_cache: Path, zh_vocab: Path, tmp_path_factory) -> Path:
    """A .etb with ONNX fp32 + int8 models built without Paddle (runs on Python 3.11-3.13, ORT only)."""
    for mod in ("onnx", "tokenizers"):
        pytest.importorskip(mod, reason=f"building the ONNX-only test model needs {mod}")
    from support import runtime_models as rm

    models = rm.build_models(runtime_model_cache, zh_vocab, "onnxonly")
    return rm.make_bundle(models, zh_vocab, tmp_path_factory.mktemp("bundles") / "ort.etb", variant="onnxonly",
                          archive=True)
