"""The runtime and the converters read a tokenizer_config.json through one reader."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgetext import Tokenizer, VocabError
from edgetext.errors import ConversionError
from edgetext_converters.description import TokenizerAssets


def _folder(tmp_path: Path, vocab: Path, config) -> Path:
    shutil.copyfile(vocab, tmp_path / "vocab.txt")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return tmp_path


def test_paddlenlp_init_kwargs_are_read_alike_by_runtime_and_converters(tmp_path, en_vocab):
    folder = _folder(tmp_path, en_vocab, {"init_class": "BertTokenizer",
                                          "init_kwargs": {"do_lower_case": False, "model_max_length": 64}})
    tok = Tokenizer.from_pretrained(folder)
    settings = TokenizerAssets.from_folder(folder).manifest_dict(max_length=64)
    assert tok.config["lowercase"] is False and settings["lowercase"] is False
    assert tok.tokenize("Hello") != Tokenizer.from_file(en_vocab, lowercase=True).tokenize("Hello")


def test_malformed_tokenizer_config_is_a_clear_error_on_both_sides(tmp_path, en_vocab):
    folder = _folder(tmp_path, en_vocab, ["not", "an", "object"])
    with pytest.raises(VocabError, match="must hold a JSON object"):
        Tokenizer.from_pretrained(folder)
    with pytest.raises(ConversionError, match="must hold a JSON object"):
        TokenizerAssets.from_folder(folder)
