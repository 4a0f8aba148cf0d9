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
