"""Tokenizer settings from a Hugging Face / PaddleNLP ``tokenizer_config.json``.

Pure Python (no native extension), so the converters read a folder's settings
exactly as the runtime's ``Tokenizer.from_pretrained`` does.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import VocabError

SPECIAL_KEYS = ("unk", "cls", "sep", "pad", "mask")


def read_tokenizer_config(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(options, raw)``: Tokenizer keyword options (lowercase, strip_accents,
    tokenize_chinese_chars, ``<key>_token``, max_length) and the raw config with
    PaddleNLP's ``init_kwargs`` merged in. Malformed files raise VocabError."""
    try:
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise VocabError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise VocabError(f"{path} must hold a JSON object")
    if isinstance(cfg.get("init_kwargs"), dict):
        cfg = {**cfg["init_kwargs"], **cfg}
    opts: dict[str, Any] = {}
    if "do_lower_case" in cfg:
        opts["lowercase"] = bool(cfg["do_lower_case"])
    if "strip_accents" in cfg:
        opts["strip_accents"] = cfg["strip_accents"]
    if "tokenize_chinese_chars" in cfg:
        opts["tokenize_chinese_chars"] = bool(cfg["tokenize_chinese_chars"])
    for key in SPECIAL_KEYS:
        value = cfg.get(f"{key}_token")
        if isinstance(value, dict):  # AddedToken serialisation
            value = value.get("content")
        if isinstance(value, str) and value:
            opts[f"{key}_token"] = value
    mml = cfg.get("model_max_length")
    if isinstance(mml, int) and 0 < mml < 1_000_000:  # HF writes a huge sentinel for "no limit"
        opts["max_length"] = mml
    return opts, cfg
