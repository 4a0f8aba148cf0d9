"""One tokenizer-folder reader: the runtime and the converters read every folder alike.

Each case is a folder whose files disagree or go beyond the BERT pipeline; the runtime's
``Tokenizer.from_pretrained`` and the converters' ``TokenizerAssets.from_folder`` (whose
vocabulary and settings become the bundle) must agree on the settings and on the ids of
real texts, and the reference is Hugging Face ``tokenizers`` configured the way
transformers' fast BERT tokenizer configures itself from the same folder.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgetext import Tokenizer, VocabError
from edgetext.errors import ConversionError
from edgetext.tokenizer_folder import read_tokenizer_folder, vocab_tokens
from edgetext_converters.description import TokenizerAssets

TEXTS = ["Hello World!", "HÉLLO wörld, it's ¡Great!", "这家店的菜很好吃", "x y x", "MiXeD CaSe 123", ""]


def _minilm_folder(tmp_path: Path, assets: Path, *, config: dict | None = None, edit=None, vocab: bool = True) -> Path:
    d = tmp_path / "tok"
    d.mkdir()
    spec = json.loads((assets / "minilm" / "tokenizer.json").read_text(encoding="utf-8"))
    if edit is not None:
        edit(spec)
    (d / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    if vocab:
        shutil.copyfile(assets / "minilm" / "vocab.txt", d / "vocab.txt")
    if config is not None:
        (d / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return d


def _both(folder: Path) -> tuple[Tokenizer, Tokenizer, TokenizerAssets]:
    runtime = Tokenizer.from_pretrained(folder)
    assets = TokenizerAssets.from_folder(folder)
    converted = Tokenizer.from_vocab_bytes(assets.vocab_bytes(), **assets.tokenizer_options())
    return runtime, converted, assets


def _hf(path: Path):
    from tokenizers import Tokenizer as HF

    hf = HF.from_file(str(path))
    hf.no_padding()
    hf.no_truncation()
    return hf


def _ids(tok: Tokenizer) -> list[list[int]]:
    return [tok.encode(t) for t in TEXTS]


def test_tokenizer_config_overrides_tokenizer_json_lowercase_on_both_sides(tmp_path, assets):
    from tokenizers import normalizers

    folder = _minilm_folder(tmp_path, assets, config={"do_lower_case": False, "tokenizer_class": "BertTokenizer"})
    runtime, converted, a = _both(folder)
    assert runtime.config["lowercase"] is False and a.lowercase is False
    # transformers' BertTokenizerFast rebuilds the normalizer from tokenizer_config.json
    hf = _hf(folder / "tokenizer.json")
    hf.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                               lowercase=False)
    want = [e.ids for e in hf.encode_batch(TEXTS)]
    assert _ids(runtime) == want
    assert _ids(converted) == want
    assert a.encoder().encode_batch(TEXTS) == want


def test_tokenizer_json_vocabulary_wins_over_a_different_vocab_txt(tmp_path, assets, zh_vocab):
    folder = _minilm_folder(tmp_path, assets, vocab=False)
    shutil.copyfile(zh_vocab, folder / "vocab.txt")  # a wrong vocab.txt beside tokenizer.json
    runtime, converted, a = _both(folder)
    assert runtime.vocab_size == a.vocab_size == 30522
    assert _ids(runtime) == _ids(converted)
    assert read_tokenizer_folder(folder).sources["vocab"] == "tokenizer.json"


def test_ernie_token_tab_id_vocabulary_is_read_alike(tmp_path, zh_vocab):
    tokens = vocab_tokens(zh_vocab.read_bytes())
    d = tmp_path / "ernie"
    d.mkdir()
    (d / "vocab.txt").write_text("".join(f"{t}\t{i}\n" for i, t in enumerate(tokens)), encoding="utf-8")
    (d / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}), encoding="utf-8")
    runtime, converted, a = _both(d)
    plain = Tokenizer.from_file(zh_vocab)
    assert a.tokens == tokens and runtime.vocab_size == len(tokens)
    assert _ids(runtime) == _ids(converted) == _ids(plain)
    assert Tokenizer.from_file(d / "vocab.txt").encode("这家店") == plain.encode("这家店")


def test_trailing_whitespace_duplicate_tokens_follow_the_c_rules(tmp_path):
    d = tmp_path / "dup"
    d.mkdir()
    lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "x ", "y", "x", "##z", "\u3000", ""]
    (d / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    runtime, converted, a = _both(d)
    assert a.vocab_size == len(lines)  # ids by line: the embedding rows
    assert runtime.vocab_size == len(a.index) == 9  # distinct tokens, as HF counts them
    assert a.index["x"] == 7  # trimmed "x " and "x" are one token; the last line wins
    text = "x y x yz x"
    assert runtime.encode(text) == converted.encode(text) == a.encoder().encode_batch([text])[0]
    assert runtime.encode(text).count(7) == 3


@pytest.mark.parametrize("edit, what", [
    (lambda s: s.update(pre_tokenizer={"type": "Whitespace"}), "pre_tokenizer"),
    (lambda s: s.update(pre_tokenizer=None), "pre_tokenizer"),
    (lambda s: s.update(normalizer={"type": "Sequence", "normalizers": [{"type": "NFKC"}]}), "normalizer"),
    (lambda s: s.update(post_processor={"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                                        "trim_offsets": True, "add_prefix_space": False}), "post_processor"),
    (lambda s: s["model"].update(type="BPE"), "WordPiece"),
    (lambda s: s["added_tokens"].append({"id": 30522, "content": "<new>", "special": False}), "added token"),
])
def test_non_bert_pipelines_are_refused_on_both_sides(tmp_path, assets, edit, what):
    folder = _minilm_folder(tmp_path, assets, edit=edit)
    with pytest.raises(VocabError, match=what):
        Tokenizer.from_pretrained(folder)
    with pytest.raises(ConversionError, match=what):
        TokenizerAssets.from_folder(folder)


def test_missing_normalizer_is_the_identity(tmp_path, assets):
    folder = _minilm_folder(tmp_path, assets, edit=lambda s: s.update(normalizer=None))
    runtime, converted, a = _both(folder)
    want = [e.ids for e in _hf(folder / "tokenizer.json").encode_batch(TEXTS)]
    assert not a.lowercase and not a.clean_text and a.strip_accents is False
    assert _ids(runtime) == _ids(converted) == want


def test_folder_errors_are_clear(tmp_path):
    with pytest.raises(VocabError, match="not found"):
        read_tokenizer_folder(tmp_path / "missing")
    with pytest.raises(VocabError, match="no tokenizer.json or vocab.txt"):
        read_tokenizer_folder(tmp_path)
    (tmp_path / "vocab.txt").write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(VocabError, match="line 2 is not valid UTF-8"):
        read_tokenizer_folder(tmp_path)
    (tmp_path / "vocab.txt").write_text("a\t0\nb\t5\n")
    with pytest.raises(VocabError, match="ids are not"):
        read_tokenizer_folder(tmp_path)
    (tmp_path / "vocab.txt").write_text("[UNK]\n")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": "yes"}))
    with pytest.raises(VocabError, match="do_lower_case must be true or false"):
        read_tokenizer_folder(tmp_path)


def test_converters_never_measure_with_a_tokenizer_the_device_does_not_run(monkeypatch, zh_vocab):
    """The gate's encoder is the native tokenizer; when it cannot be built, conversion stops."""
    from edgetext import tokenizer as runtime_tokenizer

    a = TokenizerAssets(tokens=vocab_tokens(zh_vocab.read_bytes()))
    assert a.encoder().kind == "edgetext"

    def broken(*args, **kwargs):
        raise VocabError("simulated: the native tokenizer refuses this vocabulary")

    monkeypatch.setattr(runtime_tokenizer.Tokenizer, "from_vocab_bytes", classmethod(lambda cls, *a, **k: broken()))
    with pytest.raises(ConversionError, match="device tokenizer.*simulated"):
        a.encoder()


# -- issue 13, finding 11: malformed tokenizer.json is a VocabError, cleanly ----------------------------
def _wordpiece(vocab) -> dict:
    return {"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": vocab},
            "normalizer": {"type": "BertNormalizer"}, "pre_tokenizer": {"type": "BertPreTokenizer"}}


BASE_VOCAB = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4}


@pytest.mark.parametrize("spec,match", [
    (_wordpiece({**BASE_VOCAB, "a": -1}), "ids must be integers"),
    (_wordpiece({**BASE_VOCAB, "a": 3}), "share one vocabulary id"),
    (_wordpiece({**BASE_VOCAB, "a": 4.0}), "ids must be integers"),
    (_wordpiece({**BASE_VOCAB, "a": 1e8}), "ids must be integers"),
    (_wordpiece({**BASE_VOCAB, "a": 100_000_000}), "ids must be integers"),
    (_wordpiece({**BASE_VOCAB, "a": 2_000_000}), "more unused ids than tokens"),
    (_wordpiece({**BASE_VOCAB, "a": True}), "ids must be integers"),
    ([1, 2, 3], "must hold a JSON object"),
    (_wordpiece([["a", 0]]), "model.vocab must be an object"),
    ({**_wordpiece(BASE_VOCAB), "added_tokens": 5}, "added_tokens must be a list"),
    ({**_wordpiece(BASE_VOCAB), "model": {**_wordpiece(BASE_VOCAB)["model"], "unk_token": {"x": 1}}},
     "unk_token must be a non-empty string"),
    ({**_wordpiece(BASE_VOCAB), "model": {**_wordpiece(BASE_VOCAB)["model"], "max_input_chars_per_word": 2 ** 64}},
     "max_input_chars_per_word must be an integer in"),
    ({**_wordpiece(BASE_VOCAB), "post_processor": {"type": "BertProcessing", "cls": [None, 2], "sep": ["", 3]}},
     "must be strings"),
])
def test_malformed_tokenizer_json_is_a_vocab_error(tmp_path, spec, match):
    (tmp_path / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.raises(VocabError, match=match):
        Tokenizer.from_pretrained(tmp_path)


def test_deeply_nested_or_oversized_names_are_vocab_errors(tmp_path):
    (tmp_path / "tokenizer.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(VocabError, match="not valid JSON"):
        Tokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").unlink()
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"vocab_file": "x" * 5000, "unk_token": "a\u0000"}))
    with pytest.raises(VocabError, match="NUL"):
        Tokenizer.from_pretrained(tmp_path)
