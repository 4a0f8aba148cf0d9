"""Fuzzing Bundle.open / verify, the manifest reader and tokenizer-folder reading: every outcome of a
mutated input is success or an EdgeTextError (issue 13, finding 8), never NotImplementedError,
UnicodeDecodeError, OverflowError, struct.error, a traceback or a crash.

The fast tests (seconds, seeded) mutate the header bytes (local headers, central directory, end
record) of a real .etb written by edgetext.bundle.pack, the manifest's bytes and its JSON values;
``-m slow`` runs many more mutations, also on the real model bundle. Outcome counts are printed
(``pytest -s``).
"""
from __future__ import annotations

import copy
import hashlib
import json
import random
import struct
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from edgetext import Tokenizer
from edgetext.bundle import Bundle, pack
from edgetext.errors import (BundleIntegrityError, EdgeTextError, ManifestError, UnsafeBundleError, VocabError)

VOCAB = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n中\n文\n"
ONNX_MINIMAL = b"\x08\x07\x3a\x00"  # ir_version 7 and an empty graph: passes the self-containment check


def manifest_obj() -> dict:
    tok = Tokenizer.from_vocab_bytes(VOCAB.encode())
    texts = ["hello worlds", "中文", ""]
    return {
        "format": "edgetext-bundle", "format_version": 1, "name": "fuzz", "task": "text-classification",
        "labels": ["neg", "pos"],
        "tokenizer": {"vocab": "vocab.txt", "lowercase": True, "strip_accents": None, "tokenize_chinese_chars": True,
                      "clean_text": True, "max_length": 16, "max_input_chars_per_word": 100,
                      "wordpieces_prefix": "##",
                      "special_tokens": {"unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]",
                                         "mask": "[MASK]"}},
        "models": [{"file": "model.onnx", "backend": "onnxruntime", "target": "x86_64", "precision": "fp32",
                    "inputs": [{"name": "input_ids", "role": "input_ids", "dtype": "int64", "shape": [-1, -1]}],
                    "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 2]}]}],
        "golden": [{"text": t, "text_pair": None, "input_ids": tok.encode(t, max_length=16, truncation=True),
                    "label": "pos", "score": 0.9, "logits": [0.1, 1.2]} for t in texts],
    }


def write_source(folder: Path, manifest: dict | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text(VOCAB, encoding="utf-8")
    (folder / "model.onnx").write_bytes(ONNX_MINIMAL)
    data = manifest if isinstance(manifest, bytes) else json.dumps(manifest, ensure_ascii=False).encode()
    (folder / "manifest.json").write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def small_etb(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    return pack(write_source(root / "src", manifest_obj()), root / "small.etb")


def header_ranges(etb: Path) -> list[tuple[int, int]]:
    """Byte ranges of the zip's metadata: each local header (+ name, extra), the central directory, the end."""
    data = etb.read_bytes()
    with zipfile.ZipFile(etb) as zf:
        ranges = []
        for info in zf.infolist():
            at = info.header_offset
            n, m = struct.unpack_from("<HH", data, at + 26)
            ranges.append((at, at + 30 + n + m))
        ranges.append((zf.start_dir, len(data)))  # central directory + end record(s)
    return ranges


def outcome(run) -> str:
    try:
        run()
    except EdgeTextError as e:
        return type(e).__name__
    except Exception as e:  # noqa: BLE001 (what the fuzzer is looking for)
        raise AssertionError(f"escaped the EdgeTextError hierarchy: {type(e).__name__}: {e}") from e
    return "ok"


def open_and_verify(path: Path) -> None:
    with Bundle.open(path) as b:
        b.verify()
        b.tokenizer().encode("hello 中文")


def mutate(data: bytearray, ranges: list[tuple[int, int]], rng: random.Random) -> str:
    start, end = rng.choice(ranges)
    pos = rng.randrange(start, end)
    kind = rng.randrange(5)
    if kind == 0:
        data[pos] ^= 1 << rng.randrange(8)
    elif kind == 1:
        data[pos] = rng.randrange(256)
    elif kind == 2:
        data[pos] = rng.choice((0x00, 0xFF, 0x7F, 0x80))
    elif kind == 3:  # a 16/32-bit field set to an edge value (sizes, offsets, counts, versions, flags)
        width = rng.choice((2, 4))
        value = rng.choice((0, 1, 0x20, 0x40, 0x800, 0x2000, 63, 99, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF))
        data[pos:pos + width] = (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")
    else:  # several flips at once
        for _ in range(rng.randrange(2, 6)):
            data[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
    return f"{kind}@{pos}"


def fuzz_archive(etb: Path, tmp: Path, n: int, seed: int) -> Counter:
    clean = etb.read_bytes()
    ranges = header_ranges(etb)
    rng = random.Random(seed)
    counts: Counter = Counter()
    target = tmp / "m.etb"
    for i in range(n):
        data = bytearray(clean)
        what = mutate(data, ranges, rng)
        target.write_bytes(bytes(data))
        try:
            counts[outcome(lambda: open_and_verify(target))] += 1
        except AssertionError as e:
            raise AssertionError(f"mutation {i} ({what}, seed {seed}): {e}") from None
    return counts


def test_fuzz_zip_headers_of_a_real_etb(small_etb, tmp_path):
    counts = fuzz_archive(small_etb, tmp_path, 3000, seed=13)
    print(f"\nzip header mutations: {sum(counts.values())}: {dict(counts)}")
    assert sum(counts.values()) == 3000 and len(counts) >= 3, counts


HOSTILE_VALUES = [None, True, False, 0, -1, 1, 2 ** 31, 2 ** 63, 2 ** 64, 2 ** 80, -2 ** 64, 1e308, -1e308, 1.5, 1e-300,
                  "", "x", "\x00", "../../etc/passwd", "/abs", "a" * 300, "\ud800", "[UNK]", [], [1], [None], {},
                  {"a": 1}, [[[]]], "中文", 65536, 65537, 1_000_001, 256]


def paths_of(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths_of(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths_of(v, prefix + (i,))


def set_path(obj, path, value):
    if not path:
        return value
    target = obj
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return obj


def fuzz_manifest_values(tmp: Path, n: int, seed: int) -> Counter:
    base = manifest_obj()
    paths = list(paths_of(base))
    rng = random.Random(seed)
    counts: Counter = Counter()
    folder = write_source(tmp / "b", base)
    for i in range(n):
        m = copy.deepcopy(base)
        for _ in range(rng.randrange(1, 3)):
            p = rng.choice(paths)
            try:
                m = set_path(m, p, rng.choice(HOSTILE_VALUES))
            except (KeyError, IndexError, TypeError):  # an earlier change removed the parent
                pass
        if rng.random() < 0.7 and isinstance(m, dict):  # keep the checksums right most of the time
            m["files"] = {name: {"sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(),
                                 "size": (folder / name).stat().st_size} for name in ("vocab.txt", "model.onnx")}
        try:
            data = json.dumps(m, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError):
            continue
        (folder / "manifest.json").write_bytes(data)
        try:
            counts[outcome(lambda: open_and_verify(folder))] += 1
        except AssertionError as e:
            raise AssertionError(f"manifest mutation {i} (seed {seed}): {json.dumps(m)[:300]}: {e}") from None
    return counts


def fuzz_manifest_bytes(tmp: Path, n: int, seed: int) -> Counter:
    clean = bytearray(json.dumps(manifest_obj(), ensure_ascii=False).encode())
    rng = random.Random(seed)
    counts: Counter = Counter()
    folder = write_source(tmp / "c", bytes(clean))
    for i in range(n):
        data = bytearray(clean)
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(data))
            data[pos] = rng.choice(b'{}[]",:0123456789-+eE.\\nulltruefalse \xff\x00') if rng.random() < 0.6 \
                else rng.randrange(256)
        (folder / "manifest.json").write_bytes(bytes(data))
        try:
            counts[outcome(lambda: open_and_verify(folder))] += 1
        except AssertionError as e:
            raise AssertionError(f"manifest byte mutation {i} (seed {seed}): {e}") from None
    return counts


def test_fuzz_manifest_values_and_bytes(tmp_path):
    values = fuzz_manifest_values(tmp_path, 1500, seed=7)
    raw = fuzz_manifest_bytes(tmp_path, 1500, seed=8)
    print(f"\nmanifest value mutations: {sum(values.values())}: {dict(values)}")
    print(f"manifest byte mutations: {sum(raw.values())}: {dict(raw)}")
    assert sum(values.values()) > 1000 and sum(raw.values()) == 1500


def fuzz_tokenizer_folder(tmp: Path, n: int, seed: int) -> Counter:
    base = {"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100,
                      "vocab": {t: i for i, t in enumerate(VOCAB.splitlines())}},
            "normalizer": {"type": "BertNormalizer", "lowercase": True, "strip_accents": None,
                           "handle_chinese_chars": True, "clean_text": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "BertProcessing", "cls": ["[CLS]", 2], "sep": ["[SEP]", 3]},
            "added_tokens": [{"id": 0, "content": "[PAD]"}], "truncation": None}
    config = {"do_lower_case": True, "model_max_length": 512, "unk_token": "[UNK]", "vocab_file": "vocab.txt"}
    paths = list(paths_of(base))
    cpaths = list(paths_of(config))
    rng = random.Random(seed)
    counts: Counter = Counter()
    folder = tmp / "tok"
    folder.mkdir()
    for i in range(n):
        spec, cfg = copy.deepcopy(base), copy.deepcopy(config)
        for _ in range(rng.randrange(1, 3)):
            try:
                if rng.random() < 0.75:
                    spec = set_path(spec, rng.choice(paths), rng.choice(HOSTILE_VALUES))
                else:
                    cfg = set_path(cfg, rng.choice(cpaths), rng.choice(HOSTILE_VALUES))
            except (KeyError, IndexError, TypeError):
                pass
        try:
            (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=rng.random() < 0.5),
                                                   encoding="utf-8", errors="surrogatepass")
            (folder / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8", errors="surrogatepass")
        except (TypeError, ValueError):
            continue
        if rng.random() < 0.3:
            (folder / "vocab.txt").write_bytes(VOCAB.encode() + bytes([rng.randrange(256)]) * rng.randrange(3))
        try:
            counts[outcome(lambda: Tokenizer.from_pretrained(folder).encode("hello 中文"))] += 1
        except AssertionError as e:
            raise AssertionError(f"tokenizer folder mutation {i} (seed {seed}): {json.dumps(spec)[:300]} "
                                 f"{cfg}: {e}") from None
    return counts


def test_fuzz_tokenizer_folder_reading(tmp_path):
    counts = fuzz_tokenizer_folder(tmp_path, 1500, seed=3)
    print(f"\ntokenizer folder mutations: {sum(counts.values())}: {dict(counts)}")
    assert counts["ok"] and counts["VocabError"], counts


# -- the named cases of finding 8 (each failed with a non-EdgeText exception before) --------------------
def patch_zip(etb: Path, out: Path, name: str, *, local: dict | None = None, central: dict | None = None) -> Path:
    """Copy `etb` with fields of `name`'s local header / central directory entry overwritten.

    Fields: offset within the header -> bytes (local: 4 version, 6 flags, 26 name length, 30 name;
    central: 6 version needed, 8 flags, 46 name)."""
    data = bytearray(etb.read_bytes())
    with zipfile.ZipFile(etb) as zf:
        info = zf.getinfo(name)
        cd = data.find(b"PK\x01\x02" + data[zf.start_dir + 4:zf.start_dir + 6], zf.start_dir)
        while cd >= 0:
            n = struct.unpack_from("<H", data, cd + 28)[0]
            if bytes(data[cd + 46:cd + 46 + n]) == name.encode():
                break
            cd = data.find(b"PK\x01\x02", cd + 46)
        for off, value in (local or {}).items():
            data[info.header_offset + off:info.header_offset + off + len(value)] = value
        for off, value in (central or {}).items():
            data[cd + off:cd + off + len(value)] = value
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("field,value,error,match", [
    ("version", struct.pack("<H", 99), UnsafeBundleError, "zip feature"),
    ("flags", struct.pack("<H", 0x20), UnsafeBundleError, "patched data"),
    ("flags", struct.pack("<H", 0x40), UnsafeBundleError, "strong"),
    ("flags", struct.pack("<H", 0x2000), UnsafeBundleError, "reserved bits|flags"),
    ("utf8name", b"\xff\xfe", UnsafeBundleError, "not valid UTF-8"),
])
def test_named_zip_quirks_are_edgetext_errors(small_etb, tmp_path, field, value, error, match):
    central = {"version": {6: value}, "flags": {8: value},
               "utf8name": {8: struct.pack("<H", 0x800), 46: value}}[field]
    out = patch_zip(small_etb, tmp_path / "q.etb", "vocab.txt", central=central)
    with pytest.raises(error, match=match):
        open_and_verify(out)


@pytest.mark.parametrize("local", [{6: struct.pack("<H", 0x0800), 30: b"\xff"}, {6: struct.pack("<H", 0x0040)},
                                   {4: struct.pack("<H", 99)}, {8: struct.pack("<H", 99)}])
def test_local_header_quirks_are_caught_at_read(small_etb, tmp_path, local):
    out = patch_zip(small_etb, tmp_path / "l.etb", "vocab.txt", local=local)
    with pytest.raises((BundleIntegrityError, UnsafeBundleError)):
        open_and_verify(out)


def test_a_nul_in_a_member_name_is_refused(small_etb, tmp_path):
    out = patch_zip(small_etb, tmp_path / "nul.etb", "vocab.txt", central={46 + 5: b"\x00"})
    with pytest.raises((UnsafeBundleError, BundleIntegrityError)):
        open_and_verify(out)


@pytest.mark.parametrize("key,value", [("max_input_chars_per_word", 2 ** 64), ("max_input_chars_per_word", 10 ** 7),
                                       ("max_length", 2 ** 64)])
def test_huge_tokenizer_integers_are_manifest_errors(tmp_path, key, value):
    m = manifest_obj()
    m["tokenizer"][key] = value
    folder = pack(write_source(tmp_path / "s", {**m}), tmp_path / "never.etb") if False else None
    src = write_source(tmp_path / "s", m)
    with pytest.raises(ManifestError, match=f"tokenizer/{key}"):
        pack(src, tmp_path / "o.etb")
    assert folder is None


@pytest.mark.parametrize("where,value", [
    (("golden", 0, "input_ids", 0), 2 ** 40), (("golden", 0, "logits", 0), 1e300),
    (("models", 0, "outputs", 0, "shape", 1), 2 ** 63), (("models", 0, "inputs", 0, "shape", 0), 2 ** 64),
])
def test_every_schema_integer_is_bounded(tmp_path, where, value):
    m = set_path(manifest_obj(), where, value)
    with pytest.raises(ManifestError, match="schema"):
        pack(write_source(tmp_path / "s", m), tmp_path / "o.etb")


def test_schema_bounds_every_number():
    """Walk the schema: every integer and number has a maximum (or is a const/enum)."""
    schema = json.loads((Path(__file__).resolve().parent.parent / "sdk/edgetext/schema/manifest.schema.json")
                        .read_text())
    unbounded = []

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("type") in ("integer", "number") and "maximum" not in node:
                unbounded.append(where)
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")
    walk(schema, "")
    assert not unbounded, unbounded


def test_reading_a_closed_bundle_says_closed(small_etb, tmp_path):
    b = Bundle.open(small_etb)
    b.close()
    with pytest.raises(EdgeTextError, match="is closed") as e:
        b.read("vocab.txt")
    assert "corrupt" not in str(e.value)
    folder = Bundle.open(write_source(tmp_path / "f", manifest_obj()) if False else small_etb)
    folder.close()
    with pytest.raises(EdgeTextError, match="is closed"):
        folder.verify()


def test_vocab_error_is_a_tokenizer_error():
    assert issubclass(VocabError, EdgeTextError)


# -- long runs ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_fuzz_long_small_archive(small_etb, tmp_path):
    counts = fuzz_archive(small_etb, tmp_path, 40_000, seed=101)
    print(f"\nzip header mutations (long): {sum(counts.values())}: {dict(counts)}")


@pytest.mark.slow
def test_fuzz_long_real_model_bundle(tiny_bundle, tmp_path):
    counts = fuzz_archive(tiny_bundle, tmp_path, 3000, seed=202)
    print(f"\nzip header mutations of the real model bundle: {sum(counts.values())}: {dict(counts)}")


@pytest.mark.slow
def test_fuzz_long_manifest_and_tokenizer_folder(tmp_path):
    v = fuzz_manifest_values(tmp_path, 20_000, seed=303)
    r = fuzz_manifest_bytes(tmp_path, 20_000, seed=304)
    t = fuzz_tokenizer_folder(tmp_path, 20_000, seed=305)
    print(f"\nlong: manifest values {dict(v)}; manifest bytes {dict(r)}; tokenizer folder {dict(t)}")
