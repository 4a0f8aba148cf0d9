"""Hostile and broken bundles are refused with a clear error, and nothing is written outside.

These bundles are crafted by hand (malicious zips and folders); they need no model
toolchain, so this suite also runs on Python 3.11-3.13 with ONNX Runtime only.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import warnings
import zipfile
from pathlib import Path

import pytest

from edgetext.bundle import Bundle, pack
from edgetext.errors import (BundleError, BundleIntegrityError, BundleNotFoundError, ManifestError,
                             UnsafeBundleError)

MODEL_BYTES = b"not-a-real-model-but-open-does-not-load-it" * 10
VOCAB = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n"


def manifest_obj(labels=("neg", "pos"), n_out=2, version=1) -> dict:
    return {
        "format": "edgetext-bundle", "format_version": version, "name": "crafted", "task": "text-classification",
        "labels": list(labels),
        "tokenizer": {"vocab": "vocab.txt", "lowercase": True, "max_length": 16,
                      "special_tokens": {"unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]"}},
        "models": [{"file": "model.onnx", "backend": "onnxruntime", "target": "x86_64", "precision": "fp32",
                    "inputs": [{"name": "input_ids", "role": "input_ids", "dtype": "int64", "shape": [-1, -1]}],
                    "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, n_out]}]}],
        "golden": [],
    }


def files_of(members: dict[str, bytes]) -> dict:
    return {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items()}


def good_members() -> dict[str, bytes]:
    return {"vocab.txt": VOCAB.encode(), "model.onnx": MODEL_BYTES}


def write_zip(path: Path, entries: list[tuple], manifest: dict | bytes | None = None) -> Path:
    """entries: (name, data[, unix_mode[, compress_type]]). The manifest goes first unless None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names: we want them
        with zipfile.ZipFile(path, "w") as zf:
            if manifest is not None:
                data = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
                zf.writestr("manifest.json", data)
            for entry in entries:
                name, data = entry[0], entry[1]
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.create_system = 3
                info.external_attr = (entry[2] if len(entry) > 2 else (stat.S_IFREG | 0o644)) << 16
                info.compress_type = entry[3] if len(entry) > 3 else zipfile.ZIP_STORED
                zf.writestr(info, data)
    return path


def good_zip(path: Path, extra: list[tuple] = (), members: dict | None = None, files: dict | None = None,
             **manifest_kw) -> Path:
    members = good_members() if members is None else members
    m = manifest_obj(**manifest_kw)
    m["files"] = files_of(good_members()) if files is None else files
    return write_zip(path, [(n, d) for n, d in members.items()] + list(extra), m)


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def area(tmp_path: Path) -> Path:
    """A folder whose listing must not change except for the crafted bundle itself."""
    d = tmp_path / "area"
    d.mkdir()
    return d


def open_refused(path: Path, error: type, match: str, area: Path) -> None:
    before = listing(area.parent)
    with pytest.raises(error, match=match):
        Bundle.open(path)
    assert listing(area.parent) == before, "opening a refused bundle wrote files"


def test_a_well_formed_crafted_archive_opens(area):
    b = Bundle.open(good_zip(area / "ok.etb"))
    assert b.labels == ("neg", "pos") and b.read("model.onnx") == MODEL_BYTES
    b.close()


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt",
                                  "a\\..\\evil.txt", "./vocab.txt"])
def test_hostile_archive_member_paths_are_refused(area, name):
    open_refused(good_zip(area / "b.etb", extra=[(name, b"pwned")]), UnsafeBundleError, "name", area)
    assert not (area.parent.parent / "evil.txt").exists()


def test_hostile_archive_symlink_member_is_refused(area):
    z = good_zip(area / "b.etb", extra=[("link", b"/etc/passwd", stat.S_IFLNK | 0o777)])
    open_refused(z, UnsafeBundleError, "symbolic link", area)


@pytest.mark.parametrize("mode", [stat.S_IFCHR | 0o666, stat.S_IFBLK | 0o666, stat.S_IFIFO | 0o644])
def test_hostile_archive_device_member_is_refused(area, mode):
    open_refused(good_zip(area / "b.etb", extra=[("dev", b"", mode)]), UnsafeBundleError, "not a regular file", area)


def test_hostile_archive_duplicate_member_is_refused(area):
    z = good_zip(area / "b.etb", extra=[("model.onnx", MODEL_BYTES)])
    open_refused(z, UnsafeBundleError, "two members named", area)


def test_hostile_archive_duplicate_manifest_is_refused(area):
    z = good_zip(area / "b.etb", extra=[("manifest.json", b"{}")])
    open_refused(z, UnsafeBundleError, "two members named 'manifest.json'", area)


def test_archive_member_not_in_manifest_is_refused(area):
    open_refused(good_zip(area / "b.etb", extra=[("payload.so", b"\x7fELF")]), UnsafeBundleError,
                 "does not list", area)


def test_archive_member_missing_is_refused(area):
    members = good_members()
    del members["model.onnx"]
    open_refused(good_zip(area / "b.etb", members=members), BundleNotFoundError, "lacks files", area)


def test_archive_truncated_member_is_refused(area):
    members = good_members()
    members["model.onnx"] = MODEL_BYTES[:-7]
    open_refused(good_zip(area / "b.etb", members=members), BundleIntegrityError, "truncated or altered", area)


def test_archive_oversized_member_is_refused(area):
    members = good_members()
    members["model.onnx"] = MODEL_BYTES + b"trailing payload"
    open_refused(good_zip(area / "b.etb", members=members), BundleIntegrityError, "truncated or altered", area)


def test_zip_bomb_member_is_refused(area):
    bomb = b"\0" * (20 * 1024 * 1024)
    members = {**good_members(), "model.onnx": bomb}
    z = write_zip(area / "bomb.etb", [("vocab.txt", members["vocab.txt"]),
                                       ("model.onnx", bomb, stat.S_IFREG | 0o644, zipfile.ZIP_DEFLATED)],
                  dict(manifest_obj(), files=files_of(members)))
    assert z.stat().st_size < 1024 * 1024
    open_refused(z, UnsafeBundleError, "zip bomb", area)


def test_truncated_archive_file_is_refused(area):
    z = good_zip(area / "b.etb")
    data = z.read_bytes()
    z.write_bytes(data[: len(data) // 2])
    open_refused(z, BundleIntegrityError, "not a valid .etb", area)


def test_not_a_zip_is_refused(area):
    p = area / "junk.etb"
    p.write_bytes(os.urandom(4096))
    open_refused(p, BundleIntegrityError, "not a valid .etb", area)


def test_checksum_mismatch_is_caught_on_read_and_verify(area):
    members = good_members()
    files = files_of(members)
    members["model.onnx"] = b"X" + MODEL_BYTES[1:]  # same size, different bytes
    b = Bundle.open(good_zip(area / "b.etb", members=members, files=files))
    with pytest.raises(BundleIntegrityError, match="checksum mismatch for 'model.onnx'"):
        b.read("model.onnx")
    with pytest.raises(BundleIntegrityError, match="checksum mismatch"):
        b.verify()


def test_unknown_manifest_version_is_refused(area):
    open_refused(good_zip(area / "b.etb", version=4), ManifestError, "format_version 4 .*upgrade edgetext", area)


def test_labels_not_matching_model_output_are_refused(area):
    open_refused(good_zip(area / "b.etb", labels=("a", "b", "c"), n_out=2), ManifestError,
                 "outputs 2 classes but the bundle has 3 labels", area)


@pytest.mark.parametrize("payload,match", [
    (b"not json at all", "not valid UTF-8 JSON"),
    (b"\xff\xfe{}", "not valid UTF-8 JSON"),
    (b"[1, 2, 3]", "must be a JSON object"),
    (b'{"format": "edgetext-bundle", "format": "x"}', "twice"),
    (b'{"format": "edgetext-bundle", "format_version": NaN}', "not valid UTF-8 JSON"),
])
def test_malformed_manifest_is_refused(area, payload, match):
    z = write_zip(area / "b.etb", list(good_members().items()), payload)
    open_refused(z, ManifestError, match, area)


def test_huge_manifest_is_refused_unread(area):
    m = manifest_obj()
    m["report"] = {"padding": "x" * (9 * 1024 * 1024)}
    open_refused(write_zip(area / "b.etb", list(good_members().items()), m), ManifestError, "over the", area)


def test_missing_manifest_is_refused(area):
    open_refused(write_zip(area / "b.etb", list(good_members().items()), None), ManifestError, "no manifest.json",
                 area)


def test_manifest_without_files_is_refused(area):
    z = write_zip(area / "b.etb", list(good_members().items()), manifest_obj())
    open_refused(z, ManifestError, "no 'files'", area)


def test_manifest_naming_a_parent_path_is_refused(area):
    m = manifest_obj()
    m["models"][0]["file"] = "../model.onnx"
    m["files"] = files_of(good_members())
    open_refused(write_zip(area / "b.etb", list(good_members().items()), m), UnsafeBundleError, "'..'", area)


def test_schema_violations_say_where(area):
    m = manifest_obj()
    m["models"][0]["backend"] = "tensorrt"
    m["files"] = files_of(good_members())
    open_refused(write_zip(area / "b.etb", list(good_members().items()), m), ManifestError, "models/0/backend", area)


def test_missing_bundle_is_not_found(tmp_path):
    with pytest.raises(BundleNotFoundError, match="not found"):
        Bundle.open(tmp_path / "nope.etb")


# -- folder bundles --------------------------------------------------------------------------------
@pytest.fixture
def good_dir(tmp_path: Path) -> Path:
    d = tmp_path / "bundle"
    d.mkdir()
    for n, data in good_members().items():
        (d / n).write_bytes(data)
    (d / "manifest.json").write_text(json.dumps(manifest_obj()))
    pack(d)
    return d


def test_a_packed_folder_opens(good_dir):
    b = Bundle.open(good_dir)
    assert set(b.manifest.files) == {"vocab.txt", "model.onnx"}
    assert b.read("vocab.txt") == VOCAB.encode()


def test_folder_symlink_member_is_refused(good_dir, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_bytes(MODEL_BYTES)
    (good_dir / "model.onnx").unlink()
    os.symlink(outside, good_dir / "model.onnx")
    with pytest.raises(UnsafeBundleError, match="symbolic link"):
        Bundle.open(good_dir)


def test_folder_hardlink_member_is_refused(good_dir, tmp_path):
    os.link(good_dir / "model.onnx", tmp_path / "elsewhere")
    with pytest.raises(UnsafeBundleError, match="hard link"):
        Bundle.open(good_dir)


def test_folder_fifo_member_is_refused(good_dir):
    os.mkfifo(good_dir / "pipe")
    with pytest.raises(UnsafeBundleError, match="not a regular file"):
        Bundle.open(good_dir)


def test_folder_extra_file_is_refused(good_dir):
    (good_dir / "extra.bin").write_bytes(b"x")
    with pytest.raises(UnsafeBundleError, match="does not list"):
        Bundle.open(good_dir)


def test_folder_missing_file_is_refused(good_dir):
    (good_dir / "model.onnx").unlink()
    with pytest.raises(BundleNotFoundError, match="lacks files"):
        Bundle.open(good_dir)


def test_folder_truncated_file_is_refused(good_dir):
    (good_dir / "model.onnx").write_bytes(MODEL_BYTES[:10])
    with pytest.raises(BundleIntegrityError, match="truncated or altered"):
        Bundle.open(good_dir)


def test_folder_altered_file_fails_verify(good_dir):
    (good_dir / "model.onnx").write_bytes(MODEL_BYTES.upper())
    b = Bundle.open(good_dir)
    with pytest.raises(BundleIntegrityError, match="checksum mismatch"):
        b.verify()


# -- pack ------------------------------------------------------------------------------------------
def test_pack_validates_before_writing(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    for n, data in good_members().items():
        (d / n).write_bytes(data)
    (d / "manifest.json").write_text(json.dumps(manifest_obj(labels=("a", "b", "c"), n_out=2)))
    with pytest.raises(ManifestError, match="3 labels"):
        pack(d, tmp_path / "out.etb")
    assert not (tmp_path / "out.etb").exists()
    assert "files" not in json.loads((d / "manifest.json").read_text())


def test_pack_refuses_missing_members(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    (d / "vocab.txt").write_text(VOCAB)
    (d / "manifest.json").write_text(json.dumps(manifest_obj()))
    with pytest.raises(BundleError, match="model.onnx"):
        pack(d, tmp_path / "out.etb")


def test_pack_to_archive_and_folder_roundtrip(good_dir, tmp_path):
    etb = Bundle.pack(good_dir, tmp_path / "x.etb")
    copy = pack(good_dir, tmp_path / "copy")
    for p in (etb, copy):
        with Bundle.open(p) as b:
            assert b.manifest.files == Bundle.open(good_dir).manifest.files
            assert b.read("model.onnx") == MODEL_BYTES
    with zipfile.ZipFile(etb) as zf:
        assert zf.namelist()[0] == "manifest.json"
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    assert pack(good_dir, tmp_path / "y.etb").read_bytes() == etb.read_bytes(), "pack is deterministic"


def test_paths_that_are_not_bundles_are_refused_without_walking_them(tmp_path):
    with pytest.raises(ManifestError, match="not a bundle: it has no manifest.json"):
        Bundle.open(tmp_path)
    fifo = tmp_path / "fifo.etb"
    os.mkfifo(fifo)
    with pytest.raises(BundleError, match="neither a bundle folder nor a .etb file"):
        Bundle.open(fifo)


def test_folder_member_over_the_size_limit_is_refused_unread(good_dir, monkeypatch):
    import edgetext.bundle as bundle_module

    monkeypatch.setattr(bundle_module, "MAX_MEMBER_BYTES", 100)
    with pytest.raises(UnsafeBundleError, match="over the size limit"):
        Bundle.open(good_dir)


def test_local_header_name_differing_from_the_directory_is_caught(area):
    """A zip whose local header names '../a.onnxx' while the central directory says 'model.onnx'."""
    z = good_zip(area / "b.etb")
    with zipfile.ZipFile(z) as zf:
        at = zf.getinfo("model.onnx").header_offset + 30  # the name field of its local header
    data = z.read_bytes()
    assert data[at:at + 10] == b"model.onnx"
    z.write_bytes(data[:at] + b"../a.onnxx" + data[at + 10:])
    b = Bundle.open(z)  # the central directory is fine
    before = listing(area.parent)
    with pytest.raises(BundleIntegrityError, match="corrupt or truncated"):
        b.read("model.onnx")
    with pytest.raises(BundleIntegrityError):
        b.verify()
    assert listing(area.parent) == before


def test_pack_refuses_to_write_inside_the_source_folder(good_dir):
    with pytest.raises(BundleError, match="inside the folder being packed"):
        pack(good_dir, good_dir / "out.etb")
    assert not (good_dir / "out.etb").exists()


# -- issue 13, finding 11: written files follow the umask; a closed bundle says so --------------------------
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_packed_files_follow_the_umask(good_dir, tmp_path, umask):
    old = os.umask(umask)
    try:
        etb = pack(good_dir, tmp_path / f"u{umask:o}.etb")
        pack(good_dir)  # the manifest rewritten in place
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    assert stat.S_IMODE(etb.stat().st_mode) == want
    assert stat.S_IMODE((good_dir / "manifest.json").stat().st_mode) == want


def test_reading_a_closed_bundle_says_it_is_closed(good_dir, area):
    for path in (good_dir, good_zip(area / "c.etb")):
        b = Bundle.open(path)
        b.close()
        with pytest.raises(BundleError, match="is closed") as e:
            b.read("model.onnx")
        assert "corrupt" not in str(e.value)


# -- format_version 2: the task and the embedding settings (issue 11) ------------------------------------
def embedding_manifest(dim=4, n_out=4, **embedding) -> dict:
    m = manifest_obj(n_out=n_out, version=2)
    del m["labels"]
    m["task"] = "text-embedding"
    m["embedding"] = {"pooling": "mean", "normalize": True, "dim": dim, **embedding}
    m["models"][0]["outputs"][0]["name"] = "embeddings"
    return m


def crafted(path: Path, m: dict) -> Path:
    m["files"] = files_of(good_members())
    return write_zip(path, list(good_members().items()), m)


def test_an_embedding_manifest_and_a_v2_classifier_without_task_open(area):
    with Bundle.open(crafted(area / "e.etb", embedding_manifest())) as b:
        assert b.manifest.task == "text-embedding" and b.manifest.labels == ()
        assert b.manifest.embedding is not None and b.manifest.embedding.as_dict() == \
            {"pooling": "mean", "normalize": True, "dim": 4}
        assert b.info()["embedding"] == {"pooling": "mean", "normalize": True, "dim": 4}
    m = manifest_obj(version=2)
    del m["task"]
    with Bundle.open(crafted(area / "c.etb", m)) as b:
        assert b.manifest.task == "text-classification" and b.manifest.embedding is None
    with Bundle.open(good_zip(area / "v1.etb")) as b:  # format_version 1 reads unchanged
        assert b.manifest.task == "text-classification" and b.info()["embedding"] is None


def _set(m: dict, path: str, value) -> dict:
    *keys, last = path.split("/")
    obj = m
    for k in keys:
        obj = obj[int(k)] if isinstance(obj, list) else obj[k]
    if value is _DELETE:
        del obj[last]
    else:
        obj[last] = value
    return m


_DELETE = object()


@pytest.mark.parametrize("change, match", [
    (lambda m: _set(m, "embedding/pooling", "max"), "schema at embedding/pooling"),
    (lambda m: _set(m, "embedding/pooling", None), "schema at embedding/pooling"),
    (lambda m: _set(m, "embedding/normalize", "yes"), "schema at embedding/normalize"),
    (lambda m: _set(m, "embedding/dim", 0), "schema at embedding/dim"),
    (lambda m: _set(m, "embedding/dim", 2 ** 40), "schema at embedding/dim"),
    (lambda m: _set(m, "embedding/dim", 4.5), "schema at embedding/dim"),
    (lambda m: _set(m, "embedding/extra", 1), "schema at embedding"),
    (lambda m: _set(m, "embedding", [1, 2]), "schema at embedding"),
    (lambda m: _set(m, "embedding", _DELETE), "schema"),  # task text-embedding needs its settings
    (lambda m: _set(m, "labels", ["a", "b", "c", "d"]), "schema"),  # an embedding bundle has no labels
    (lambda m: _set(m, "task", "text-pairs"), "schema"),
    (lambda m: _set(m, "task", "text-classification"), "schema"),  # then labels are missing, embedding extra
    (lambda m: _set(m, "format_version", 1), "schema"),  # version 1 bundles are classifiers only
    (lambda m: _set(m, "models/0/outputs/0/shape", [-1, 3]), "outputs 3 values per text but the bundle's "
                                                              "embedding dim is 4"),
    (lambda m: _set(m, "golden", [{"text": "hi", "input_ids": [2, 3], "embedding": [0.1, 0.2, 0.3]}]),
     r"golden\[0\] has an embedding of 3 values for the embedding dim 4"),
    (lambda m: _set(m, "golden", [{"text": "hi", "input_ids": [2, 3], "embedding": [0.5] * 4,
                                   "per_model": {"model.onnx": {"embedding": [0.5] * 5}}}]),
     r"golden\[0\] per_model 'model.onnx' has an embedding of 5 values"),
    (lambda m: _set(m, "golden", [{"text": "hi", "input_ids": [2, 3], "embedding": [1e31] * 4}]), "schema at golden"),
    (lambda m: _set(m, "golden", [{"text": "hi", "input_ids": [2, 3], "embedding": []}]), "schema at golden"),
    (lambda m: _set(m, "golden", [{"text": "hi", "input_ids": [2, 3], "embedding": ["x"] * 4}]), "schema at golden"),
    (lambda m: _set(m, "golden", [{"text": "hi", "input_ids": [2, 3], "label": "neg"}]), "not one of the bundle labels"),
])
def test_hostile_embedding_fields_are_refused(area, change, match):
    open_refused(crafted(area / "b.etb", change(embedding_manifest())), ManifestError, match, area)


@pytest.mark.parametrize("change, match", [
    (lambda m: _set(m, "embedding", {"pooling": "mean", "normalize": True, "dim": 2}), "schema"),
    (lambda m: _set(m, "golden", [{"text": "hi", "input_ids": [2, 3], "embedding": [0.1, 0.2]}]),
     "has an embedding but the bundle's task is 'text-classification'"),
])
@pytest.mark.parametrize("version", [1, 2])
def test_embedding_fields_in_a_classification_bundle_are_refused(area, change, match, version):
    open_refused(crafted(area / "b.etb", change(manifest_obj(version=version))), ManifestError, match, area)


# -- format_version 2: text pairs (issue 11) ----------------------------------------------------------------------
def pair_manifest() -> dict:
    m = manifest_obj(version=2)
    m["text_pairs"] = True
    m["models"][0]["inputs"].append({"name": "token_type_ids", "role": "token_type_ids", "dtype": "int64",
                                     "shape": [-1, -1]})
    m["golden"] = [{"text": "hello", "text_pair": "world", "input_ids": [2, 5, 3, 6, 3], "label": "pos"}]
    return m


def test_a_pair_manifest_opens_and_says_so(area):
    with Bundle.open(crafted(area / "p.etb", pair_manifest())) as b:
        assert b.manifest.text_pairs is True and b.info()["text_pairs"] is True
    with Bundle.open(good_zip(area / "v1.etb")) as b:  # bundles before the field: single texts
        assert b.manifest.text_pairs is False and b.info()["text_pairs"] is False
    m = manifest_obj(version=2)
    m["text_pairs"] = False
    with Bundle.open(crafted(area / "s.etb", m)) as b:
        assert b.manifest.text_pairs is False


@pytest.mark.parametrize("change, match", [
    (lambda m: _set(m, "text_pairs", "yes"), "schema at text_pairs"),
    (lambda m: _set(m, "text_pairs", 1), "schema at text_pairs"),
    (lambda m: _set(m, "text_pairs", None), "schema at text_pairs"),
    (lambda m: _set(m, "format_version", 1), "schema"),  # version 1 bundles are single-text classifiers
    (lambda m: _set(m, "models/0/inputs", m["models"][0]["inputs"][:1]),
     r"text_pairs bundle: models \['model.onnx'\] have no token_type_ids input"),
    (lambda m: _set(m, "golden/0/text_pair", None), r"golden\[0\] has no text_pair but the bundle classifies"),
    (lambda m: _set(m, "golden/0/text_pair", _DELETE), r"golden\[0\] has no text_pair"),
    (lambda m: _set(m, "golden/0/text_pair", 7), "schema at golden/0/text_pair"),
    (lambda m: _set(m, "golden/0/text_pair", "x" * 1_000_001), "schema at golden/0/text_pair"),
])
def test_hostile_text_pair_fields_are_refused(area, change, match):
    open_refused(crafted(area / "b.etb", change(pair_manifest())), ManifestError, match, area)


def test_text_pairs_in_an_embedding_bundle_are_refused(area):
    m = embedding_manifest()
    m["text_pairs"] = True
    open_refused(crafted(area / "b.etb", m), ManifestError, "schema", area)


@pytest.mark.parametrize("version", [1, 2])
def test_a_golden_pair_in_a_single_text_bundle_is_refused(area, version):
    m = manifest_obj(version=version)
    m["golden"] = [{"text": "hello", "text_pair": "world", "input_ids": [2, 5, 3, 6, 3], "label": "pos"}]
    open_refused(crafted(area / "b.etb", m), ManifestError, r"golden\[0\] has a text_pair but the bundle classifies "
                 "single texts", area)


# -- format_version 3: multi-label classifiers (issue 11) ----------------------------------------------------------
def multi_label_manifest() -> dict:
    m = manifest_obj(labels=("neg", "pos", "news"), n_out=3, version=3)
    m.update({"multi_label": True, "thresholds": [0.5, 0.25, 1.0],
              "threshold_tuning": {"method": "tuned", "metric": "per-label F1", "file": "dev.tsv", "rows": 10}})
    m["golden"] = [{"text": "hello", "input_ids": [2, 5, 3], "label": "pos", "score": 0.9, "labels": ["pos", "news"],
                    "logits": [-1.0, 2.2, 0.4], "per_model": {"model.onnx": {"label": "pos", "labels": ["pos"]}}}]
    return m


def test_a_multi_label_manifest_opens_and_says_so(area):
    with Bundle.open(crafted(area / "m.etb", multi_label_manifest())) as b:
        assert b.manifest.multi_label is True and b.manifest.thresholds == (0.5, 0.25, 1.0)
        assert b.manifest.threshold_tuning["method"] == "tuned"
        info = b.info()
        assert info["multi_label"] is True and info["thresholds"] == [0.5, 0.25, 1.0]
    for version in (1, 2):  # bundles before the field: one softmax, no thresholds
        with Bundle.open(good_zip(area / f"v{version}.etb", version=version)) as b:
            assert b.manifest.multi_label is False and b.manifest.thresholds is None
            assert b.info()["multi_label"] is False and b.info()["thresholds"] is None
    m = manifest_obj(version=3)
    m["multi_label"] = False
    with Bundle.open(crafted(area / "s.etb", m)) as b:
        assert b.manifest.multi_label is False and b.manifest.threshold_tuning == {}


@pytest.mark.parametrize("change, match", [
    (lambda m: _set(m, "multi_label", "true"), "schema at multi_label"),
    (lambda m: _set(m, "multi_label", 1), "schema at multi_label"),
    (lambda m: _set(m, "multi_label", None), "schema at multi_label"),
    (lambda m: _set(m, "format_version", 2), "schema"),  # an SDK reading 2 would softmax its logits
    (lambda m: _set(m, "format_version", 1), "schema"),
    (lambda m: _set(m, "thresholds", _DELETE), "schema"),
    (lambda m: _set(m, "thresholds", [0.5, 0.5]), r"2 thresholds for 3 labels"),
    (lambda m: _set(m, "thresholds", [0.5, 0.5, 0.5, 0.5]), r"4 thresholds for 3 labels"),
    (lambda m: _set(m, "thresholds", []), "schema at thresholds"),
    (lambda m: _set(m, "thresholds", [0.5, 1.5, 0.5]), "schema at thresholds/1"),
    (lambda m: _set(m, "thresholds", [0.5, -0.1, 0.5]), "schema at thresholds/1"),
    (lambda m: _set(m, "thresholds", [0.5, "0.5", 0.5]), "schema at thresholds/1"),
    (lambda m: _set(m, "thresholds", [0.5, True, 0.5]), "schema at thresholds/1"),
    (lambda m: _set(m, "thresholds", [0.5, None, 0.5]), "schema at thresholds/1"),
    (lambda m: _set(m, "thresholds", [0.5, 1e309, 0.5]), "not valid UTF-8 JSON"),  # written as Infinity
    (lambda m: _set(m, "thresholds", "0.5"), "schema at thresholds"),
    (lambda m: _set(m, "threshold_tuning", {"method": "guessed"}), "schema at threshold_tuning/method"),
    (lambda m: _set(m, "threshold_tuning", {"metric": "f1"}), "schema at threshold_tuning"),
    (lambda m: _set(m, "threshold_tuning", {"method": "tuned", "sha256": "zz"}), "schema at threshold_tuning/sha256"),
    (lambda m: _set(m, "task", "text-embedding"), "schema"),
    (lambda m: _set(m, "golden/0/labels", ["pos", "spam"]), r"golden\[0\] labels \['spam'\] are not bundle labels"),
    (lambda m: _set(m, "golden/0/labels", ["pos", "pos"]), "schema at golden/0/labels"),
    (lambda m: _set(m, "golden/0/labels", "pos"), "schema at golden/0/labels"),
    (lambda m: _set(m, "golden/0/labels", _DELETE), r"golden\[0\] has no label set"),
    (lambda m: _set(m, "golden/0/per_model/model.onnx/labels", ["nope"]),
     r"golden\[0\] per_model 'model.onnx' labels \['nope'\] are not bundle labels"),
])
def test_hostile_multi_label_fields_are_refused(area, change, match):
    open_refused(crafted(area / "b.etb", change(multi_label_manifest())), ManifestError, match, area)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.5, 2.0])
def test_non_finite_or_out_of_range_thresholds_are_refused_when_validated_directly(value):
    from edgetext.manifest import validate

    m = multi_label_manifest()
    m["thresholds"] = [0.5, value, 0.5]  # NaN passes JSON-Schema's minimum/maximum: the rules catch it
    with pytest.raises(ManifestError, match="thresholds"):
        validate(m, require_files=False)


@pytest.mark.parametrize("field, value", [("thresholds", [0.5, 0.5]), ("threshold_tuning", {"method": "default"})])
@pytest.mark.parametrize("version", [1, 2, 3])
def test_thresholds_without_multi_label_are_refused(area, field, value, version):
    m = manifest_obj(version=version)
    m[field] = value
    open_refused(crafted(area / "b.etb", m), ManifestError, f"has {field} but multi_label is not true", area)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_golden_label_set_in_a_single_label_bundle_is_refused(area, version):
    m = manifest_obj(version=version)
    m["golden"] = [{"text": "hello", "input_ids": [2, 5, 3], "label": "pos", "labels": ["pos"]}]
    open_refused(crafted(area / "b.etb", m), ManifestError, r"golden\[0\] has a label set .* not multi-label", area)
