"""Bundles: one self-describing artifact (a folder or a single ``.etb`` zip).

    b = Bundle.open("reviews.etb")      # structure + manifest checks; nothing is extracted
    b.verify(predictions=True)          # checksums, schema, golden ids (and golden predictions, see verify.py)
    pack("out/reviews", "reviews.etb")  # computes manifest["files"] (converters call this)

Members are read into memory (size-capped and sha256-checked on every read);
nothing is ever written outside the bundle, so a hostile archive cannot plant
files anywhere. Refused, with a clear error: absolute or '..' names,
symlinks/hardlinks/devices, duplicate names, members the manifest does not list,
missing members, checksum or size mismatches (truncated or oversized members,
zip bombs), unknown manifest versions, non-JSON or huge manifests.
Every failure of the zip reader on a hostile archive (unsupported zip features, bad names,
corrupt headers or data) is an EdgeTextError, never a bare NotImplementedError or
UnicodeDecodeError. Model members are checked by :mod:`edgetext.modelcheck` in verify (and by
the backends before they load them): no ONNX external data, well-formed .nb containers.
May import: the standard library (numpy-free), edgetext.errors, edgetext.manifest,
edgetext.modelcheck, edgetext._hooks; edgetext.tokenizer lazily. Never the predictor, the backends or
edgetext.verify: golden predictions are checked by edgetext.verify, reached through
edgetext._hooks.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import struct
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from . import _hooks
from . import manifest as mf
from .modelcheck import check_model_bytes
from .errors import (BundleError, BundleIntegrityError, BundleNotFoundError, EdgeTextError, ManifestError,
                     UnsafeBundleError)

if TYPE_CHECKING:  # pragma: no cover
    from .tokenizer import Tokenizer

ARCHIVE_SUFFIX = ".etb"
MAX_MEMBERS = 256
MAX_MEMBER_BYTES = 2 * 1024 ** 3
MAX_TOTAL_BYTES = 4 * 1024 ** 3
MAX_COMPRESSION_RATIO = 100  # a deflated member may shrink at most this much (zip-bomb guard)
_CHUNK = 1 << 20
# general-purpose flag bits a member may carry: 1-2 deflate options, 3 data descriptor, 11 UTF-8 names
# (bit 0 encryption is refused with its own message; 5 patched data, 6 strong encryption, 13 masked
# headers and the reserved bits are refused)
_ALLOWED_FLAGS = 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0800


def _read_exactly(read, size: int, name: str) -> bytes:
    """Read exactly `size` bytes with `read(n)`; refuse more or fewer."""
    buf = io.BytesIO()
    remaining = size
    while remaining > 0:
        chunk = read(min(_CHUNK, remaining))
        if not chunk:
            raise BundleIntegrityError(f"member {name!r} is truncated: {size - remaining} of {size} bytes")
        buf.write(chunk)
        remaining -= len(chunk)
    if read(1):
        raise BundleIntegrityError(f"member {name!r} is larger than the {size} bytes the manifest declares")
    return buf.getvalue()


class _DirSource:
    """A bundle folder. Every entry is lstat-ed: only plain, single-link files are accepted."""

    kind = "directory"

    def __init__(self, root: Path):
        self.root = root
        self.sizes: dict[str, int] = {}
        self._scan(root, "")

    def _scan(self, folder: Path, prefix: str) -> None:
        with os.scandir(folder) as it:
            for entry in it:
                rel = prefix + entry.name
                mf.check_member_name(rel)
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    raise UnsafeBundleError(f"bundle member {rel!r} is a symbolic link")
                if stat.S_ISDIR(st.st_mode):
                    self._scan(Path(entry.path), rel + "/")
                    continue
                if not stat.S_ISREG(st.st_mode):
                    raise UnsafeBundleError(f"bundle member {rel!r} is not a regular file (device, fifo or socket)")
                if st.st_nlink > 1:
                    raise UnsafeBundleError(f"bundle member {rel!r} is a hard link ({st.st_nlink} links)")
                if len(self.sizes) >= MAX_MEMBERS:
                    raise UnsafeBundleError(f"bundle has more than {MAX_MEMBERS} files")
                if st.st_size > MAX_MEMBER_BYTES or sum(self.sizes.values()) + st.st_size > MAX_TOTAL_BYTES:
                    raise UnsafeBundleError(f"bundle member {rel!r} ({st.st_size} bytes) is over the size limit")
                self.sizes[rel] = st.st_size

    def read(self, name: str, size: int) -> bytes:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.root / name, flags)
        except FileNotFoundError:
            raise BundleNotFoundError(f"bundle member {name!r} is missing") from None
        except OSError as e:  # ELOOP: a symlink appeared after open()
            raise UnsafeBundleError(f"bundle member {name!r} cannot be opened safely: {e.strerror}") from None
        with os.fdopen(fd, "rb", buffering=0) as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
                raise UnsafeBundleError(f"bundle member {name!r} is no longer a plain file")
            return _read_exactly(f.read, size, name)

    def close(self) -> None:
        pass


class _ZipSource:
    """A .etb archive, read in place (members are read into memory, never extracted)."""

    kind = "archive"

    def __init__(self, path: Path):
        try:
            self.zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as e:
            raise BundleIntegrityError(f"{path} is not a valid .etb archive (truncated or not a zip): {e}") from None
        except NotImplementedError as e:  # "zip file version 9.9", unsupported features
            raise UnsafeBundleError(f"{path} uses a zip feature this SDK does not read ({e}): .etb archives are "
                                    "plain stored zips written by edgetext.bundle.pack") from None
        except UnicodeDecodeError:
            raise UnsafeBundleError(f"{path} has a member name flagged UTF-8 that is not valid UTF-8") from None
        except OSError as e:
            raise BundleError(f"cannot read {path}: {e.strerror or e}") from None
        except Exception as e:  # noqa: BLE001 (zipfile on hostile bytes: struct.error, ValueError, OverflowError...)
            raise BundleIntegrityError(f"{path} is not a valid .etb archive ({type(e).__name__}: {e})") from None
        self._lock = threading.Lock()
        self.sizes: dict[str, int] = {}
        self.infos: dict[str, zipfile.ZipInfo] = {}
        try:
            self._scan()
        except EdgeTextError:
            self.zf.close()
            raise
        except Exception as e:  # noqa: BLE001 (zipfile's views of a hostile central directory)
            self.zf.close()
            raise BundleIntegrityError(f"{path} has a corrupt central directory ({type(e).__name__}: {e})") from None
        except BaseException:
            self.zf.close()
            raise

    def _scan(self) -> None:
        infos = self.zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise UnsafeBundleError(f"archive has {len(infos)} members, over the limit of {MAX_MEMBERS}")
        total = 0
        for info in infos:
            name = info.filename
            if not name:
                raise UnsafeBundleError("archive has a member with an empty name")
            mode = info.external_attr >> 16
            if info.is_dir():
                mf.check_member_name(name.rstrip("/"))
                continue
            mf.check_member_name(name)
            if info.orig_filename != name:  # zipfile cut the name at a NUL byte
                raise UnsafeBundleError(f"archive member name {info.orig_filename!r} has a NUL byte")
            # unix modes: a file type of 0 (permissions only, as Python's writestr writes) means a plain file
            if info.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                raise UnsafeBundleError(f"archive member {name!r} is {kind}")
            if info.flag_bits & 0x1:
                raise UnsafeBundleError(f"archive member {name!r} is encrypted")
            if info.flag_bits & ~_ALLOWED_FLAGS:
                raise UnsafeBundleError(f"archive member {name!r} uses zip features this SDK does not read "
                                        f"(general-purpose flags 0x{info.flag_bits:04x}: patched data, strong "
                                        "encryption or reserved bits)")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise UnsafeBundleError(f"archive member {name!r} uses an unsupported compression method")
            if name in self.infos:
                raise UnsafeBundleError(f"archive has two members named {name!r}")
            if info.file_size > MAX_MEMBER_BYTES:
                raise UnsafeBundleError(f"archive member {name!r} declares {info.file_size} bytes, over the limit")
            if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > MAX_COMPRESSION_RATIO * max(
                    info.compress_size, 1) + 4096:
                raise UnsafeBundleError(f"archive member {name!r} expands {info.file_size}/{info.compress_size}x: "
                                        "refused as a zip bomb")
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise UnsafeBundleError("archive members add up to more than the size limit")
            self.infos[name] = info
            self.sizes[name] = info.file_size

    def read(self, name: str, size: int) -> bytes:
        info = self.infos.get(name)
        if info is None:
            raise BundleNotFoundError(f"archive member {name!r} is missing")
        with self._lock:  # zipfile shares one file handle between readers
            try:
                self._check_local_header(info)
                with self.zf.open(info) as f:
                    return _read_exactly(f.read, size, name)
            except EdgeTextError:
                raise
            except (NotImplementedError, UnicodeDecodeError) as e:
                raise UnsafeBundleError(f"archive member {name!r}: its local header uses a zip feature this SDK "
                                        f"does not read or a bad name ({type(e).__name__}: {e})") from None
            except Exception as e:  # noqa: BLE001 (BadZipFile, zlib.error, EOFError, OSError, struct.error, ...)
                raise BundleIntegrityError(f"archive member {name!r} is corrupt or truncated: {e}") from None

    def _check_local_header(self, info: zipfile.ZipInfo) -> None:
        """The local header must agree with the central directory on what zipfile does not compare:
        version needed, flags and compression method (a reader trusting either one sees the same file)."""
        fp = self.zf.fp
        if fp is None:
            raise BundleError(f"the archive {self.zf.filename} is closed")
        fp.seek(info.header_offset)
        head = fp.read(30)
        if len(head) != 30 or head[:4] != b"PK\x03\x04":
            raise BundleIntegrityError(f"archive member {info.filename!r}: no local header where the central "
                                       "directory points")
        version, flags, method = struct.unpack_from("<HHH", head, 4)
        if version > 63 or (flags & ~0x0008) != (info.flag_bits & ~0x0008) or method != info.compress_type:
            raise UnsafeBundleError(f"archive member {info.filename!r}: its local header (version {version}, flags "
                                    f"0x{flags:04x}, method {method}) disagrees with the central directory (flags "
                                    f"0x{info.flag_bits:04x}, method {info.compress_type})")

    def close(self) -> None:
        self.zf.close()


class Bundle:
    """An opened bundle. Use :meth:`open`; close with :meth:`close` or a ``with`` block."""

    def __init__(self, path: Path, source, manifest: mf.Manifest):
        self.path = path
        self._source = source
        self.manifest = manifest
        self._tokenizers: dict = {}
        self._lock = threading.Lock()
        self.closed = False

    # -- opening --------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: "Bundle | str | os.PathLike") -> "Bundle":
        """Open a bundle folder or .etb archive; check its structure and manifest (not yet checksums)."""
        if isinstance(path, Bundle):
            return path
        if not isinstance(path, (str, os.PathLike)):
            raise BundleError(f"a bundle path must be str or os.PathLike, not {type(path).__name__}")
        p = Path(path)
        try:
            st = p.stat()
        except FileNotFoundError:
            raise BundleNotFoundError(f"bundle not found: {p}") from None
        except (OSError, ValueError) as e:  # permission, name too long, NUL byte, ...
            raise BundleError(f"cannot open the bundle {p}: {getattr(e, 'strerror', None) or e}") from None
        source: _DirSource | _ZipSource
        try:
            if stat.S_ISDIR(st.st_mode):
                if not (p / mf.MANIFEST_NAME).is_file():  # before walking it: this may be any folder
                    raise ManifestError(f"{p} is not a bundle: it has no {mf.MANIFEST_NAME}")
                source = _DirSource(p)
            elif stat.S_ISREG(st.st_mode):
                source = _ZipSource(p)
            else:
                raise BundleError(f"{p} is neither a bundle folder nor a .etb file")
        except OSError as e:  # a folder that cannot be listed, a member that cannot be stat-ed
            raise BundleError(f"cannot read the bundle {p}: {e.strerror or e}") from None
        try:
            manifest = cls._load_manifest(source)
            cls._check_members(source, manifest)
        except BaseException:
            source.close()
            raise
        return cls(p, source, manifest)

    @staticmethod
    def _load_manifest(source) -> mf.Manifest:
        size = source.sizes.get(mf.MANIFEST_NAME)
        if size is None:
            raise ManifestError(f"the bundle has no {mf.MANIFEST_NAME} at its root")
        if size > mf.MAX_MANIFEST_BYTES:
            raise ManifestError(f"manifest.json is {size} bytes, over the {mf.MAX_MANIFEST_BYTES}-byte limit")
        return mf.parse(source.read(mf.MANIFEST_NAME, size))

    @staticmethod
    def _check_members(source, manifest: mf.Manifest) -> None:
        listed = manifest.files
        extra = sorted(set(source.sizes) - set(listed) - {mf.MANIFEST_NAME})
        if extra:
            raise UnsafeBundleError(f"the bundle holds files its manifest does not list: {extra[:5]}")
        missing = sorted(set(listed) - set(source.sizes))
        if missing:
            raise BundleNotFoundError(f"the bundle lacks files its manifest lists: {missing[:5]}")
        for name, entry in listed.items():
            if source.sizes[name] != entry["size"]:
                raise BundleIntegrityError(f"member {name!r} is {source.sizes[name]} bytes, the manifest says "
                                           f"{entry['size']}: truncated or altered")

    @staticmethod
    def pack(src_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
        """Same as :func:`edgetext.bundle.pack`."""
        return pack(src_dir, out)

    # -- reading --------------------------------------------------------------------------------
    def read(self, name: str) -> bytes:
        """The bytes of a member, checked against its manifest size and sha256."""
        entry = self.manifest.files.get(name)
        if entry is None:
            raise BundleNotFoundError(f"{name!r} is not a file of this bundle")
        if self.closed:
            raise BundleError(f"cannot read {name!r}: the bundle {self.path} is closed (open it again, or read "
                              "before closing it)")
        data = self._source.read(name, entry["size"])
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"]:
            raise BundleIntegrityError(f"checksum mismatch for {name!r}: sha256 {digest[:16]}..., manifest says "
                                       f"{entry['sha256'][:16]}...: the bundle was altered or corrupted")
        return data

    @property
    def labels(self) -> tuple[str, ...]:
        return self.manifest.labels

    @property
    def models(self):
        return self.manifest.models

    def tokenizer(self, threads: int | None = None) -> "Tokenizer":
        """The bundle's tokenizer, built from its vocab and settings (cached per thread count)."""
        with self._lock:
            tok = self._tokenizers.get(threads)
            if tok is None:
                from .tokenizer import Tokenizer

                kw = mf.tokenizer_kwargs(self.manifest.tokenizer)
                tok = Tokenizer.from_vocab_bytes(self.read(self.manifest.vocab), threads=threads, **kw)
                self._tokenizers[threads] = tok
            return tok

    def info(self) -> dict:
        """A JSON-able summary (for `edgetext info`)."""
        m = self.manifest
        return {
            "path": str(self.path), "kind": self._source.kind, "name": m.name, "task": m.task,
            "embedding": m.embedding.as_dict() if m.embedding else None, "format_version": m.raw["format_version"], "created_by": m.raw.get("created_by"),
            "labels": list(m.labels), "text_pairs": m.text_pairs, "max_length": m.max_length,
            "multi_label": m.multi_label, "thresholds": None if m.thresholds is None else list(m.thresholds),
            "threshold_tuning": m.threshold_tuning or None,
            "tokenizer": {k: v for k, v in m.tokenizer.items()},
            "models": [{"file": s.file, "backend": s.backend, "target": s.target, "precision": s.precision,
                        "size": m.files[s.file]["size"], "verified": s.verified,
                        "verification": s.verification.as_dict() if s.verification else None,
                        "inputs": [f"{i.name}:{i.role}:{i.dtype}" for i in s.inputs],
                        "quantization": s.quantization, "accuracy": s.accuracy} for s in m.models],
            "golden": len(m.golden), "files": len(m.files),
            "size": sum(e["size"] for e in m.files.values()),
            "conversion": _conversion_steps(m.raw.get("report")),
        }

    # -- verification ---------------------------------------------------------------------------
    def verify(self, predictions: bool = False, threads: int | None = None) -> dict:
        """Check everything this host can check; raise BundleIntegrityError listing each problem.

        Checks: schema and structure (again), sha256 and size of every file, golden input ids
        with this host's tokenizer; with ``predictions=True`` also the golden labels and scores of
        every model this host can run (others are reported as skipped, with the reason), with
        `threads` as in TextClassifier (note: the first Paddle Lite load fixes Lite's thread count
        for the whole process). The prediction checks are :func:`edgetext.verify.check_predictions`
        (see also :func:`edgetext.verify_bundle`).
        Returns a report dict: {"ok": True, "checks": [...], "skipped": [...]}.
        """
        m = self.manifest
        checks: list[str] = []
        problems: list[str] = []
        skipped: list[str] = []
        mf.validate(m.raw)
        checks.append("manifest schema")
        models: dict[str, bytes] = {}
        for name in sorted(m.files):
            try:
                data = self.read(name)
            except BundleError as e:  # collected: the report names every bad member, not just the first
                problems.append(str(e))
                continue
            if any(s.file == name for s in m.models):
                models[name] = data
        checks.append(f"sha256 of {len(m.files)} files")
        if problems:
            raise BundleIntegrityError("bundle verification failed:\n  " + "\n  ".join(problems))

        tok = self.tokenizer()
        problems += self._golden_id_problems(tok)
        checks.append(f"golden input ids of {len(m.golden)} texts")
        for spec in m.models:  # self-contained ONNX (no external data), well-formed .nb of the right target
            try:
                check_model_bytes(spec, models[spec.file])
            except BundleError as e:
                problems.append(str(e))
        del models
        checks.append(f"model files of {len(m.models)} models (self-contained, well-formed)")
        if predictions:
            check = _hooks.prediction_check
            if check is None:
                raise EdgeTextError("no golden-prediction check is installed (edgetext._hooks.prediction_check): "
                                    "use edgetext.verify_bundle(bundle, predictions=True)")
            found = check(self, threads)
            checks += found.checks
            problems += found.problems
            skipped += found.skipped
        if problems:
            raise BundleIntegrityError("bundle verification failed:\n  " + "\n  ".join(problems))
        return {"ok": True, "bundle": str(self.path), "checks": checks, "skipped": skipped}

    def _golden_id_problems(self, tok) -> list[str]:
        problems = []
        for i, g in enumerate(self.manifest.golden):
            ids = list(tok.encode(g["text"], text_pair=g.get("text_pair"), max_length=self.manifest.max_length,
                                  truncation=True))
            if ids != list(g["input_ids"]):
                at = next((k for k, (a, b) in enumerate(zip(ids, g["input_ids"])) if a != b),
                          min(len(ids), len(g["input_ids"])))
                problems.append(f"golden[{i}] token ids differ from the bundle's at position {at} "
                                f"(tokenizer on this host disagrees with the one that built the bundle): "
                                f"text {g['text'][:40]!r}")
        return problems

    def check_golden_ids(self, tok) -> None:
        """Raise BundleIntegrityError when this host's tokenizer disagrees with the golden ids."""
        problems = self._golden_id_problems(tok)
        if problems:
            raise BundleIntegrityError("; ".join(problems[:3]))

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        self.closed = True
        self._source.close()

    def __enter__(self) -> "Bundle":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Bundle({str(self.path)!r}, name={self.manifest.name!r}, labels={list(self.labels)}, "
                f"models={[s.file for s in self.models]})")


# ------------------------------------------------------------------------------------------------
# packing
# ------------------------------------------------------------------------------------------------
def _scan_source(src: Path) -> dict[str, Path]:
    found = _DirSource(src).sizes
    return {name: src / name for name in sorted(found) if name != mf.MANIFEST_NAME}


def _digest(path: Path) -> dict:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
            size += len(chunk)
    return {"sha256": h.hexdigest(), "size": size}


def pack(src_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Seal a bundle folder: compute manifest["files"] and write the bundle.

    `src_dir` holds manifest.json (with or without "files") and every member (the vocab, the
    model files, anything else; every plain file in it becomes a member: keep it clean).
    `out`: None or `src_dir` rewrites manifest.json in place (a folder bundle); a path ending in
    ``.etb`` writes an archive (stored, deterministic, written atomically); any other path
    becomes a new folder bundle (it must not exist or be empty). Returns the bundle path.
    The manifest is validated (schema, labels vs outputs, ...) before anything is written.
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise BundleNotFoundError(f"pack: {src} is not a folder")
    try:
        raw = (src / mf.MANIFEST_NAME).read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"pack: {src} has no {mf.MANIFEST_NAME}") from None
    obj = mf.loads(raw)
    members = _scan_source(src)
    obj["files"] = {name: _digest(path) for name, path in members.items()}
    manifest = mf.validate(obj)
    missing = [f for f in manifest.referenced_files() if f not in members]
    if missing:
        raise BundleNotFoundError(f"pack: the manifest names files that are not in {src}: {missing}")
    text = json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")

    dest = src if out is None else Path(out)
    if dest.resolve() != src.resolve() and dest.resolve().is_relative_to(src.resolve()):
        raise BundleError(f"pack: {dest} is inside the folder being packed ({src}); write it elsewhere")
    if dest.suffix == ARCHIVE_SUFFIX and not dest.is_dir():
        _write_archive(dest, text, members.items())
    elif dest.exists() and dest.resolve() == src.resolve():
        _atomic_write(src / mf.MANIFEST_NAME, text)
    else:
        if dest.exists() and any(dest.iterdir()):
            raise BundleError(f"pack: {dest} exists and is not empty")
        dest.mkdir(parents=True, exist_ok=True)
        for name, path in members.items():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "rb") as fi, open(target, "wb") as fo:
                for chunk in iter(lambda: fi.read(_CHUNK), b""):
                    fo.write(chunk)
        _atomic_write(dest / mf.MANIFEST_NAME, text)
    return dest


def _umask() -> int:
    """This process's umask, read without changing it where /proc tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)  # elsewhere: the classic read-by-setting (briefly process-wide)
    os.umask(old)
    return old


def _public_mode(fd: int) -> None:
    """Give a mkstemp file (0600) the mode a plain open() would have: 0666 minus the umask."""
    os.fchmod(fd, 0o666 & ~_umask())


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=path.parent)
    try:
        _public_mode(fd)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_archive(dest: Path, manifest_bytes: bytes, members: Iterable[tuple[str, Path]]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pack-", suffix=ARCHIVE_SUFFIX, dir=dest.parent)
    try:
        try:
            _public_mode(fd)
        finally:
            os.close(fd)
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            def add(name: str, data_or_path) -> None:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.create_system = 3
                info.compress_type = zipfile.ZIP_STORED
                if isinstance(data_or_path, bytes):
                    zf.writestr(info, data_or_path)
                else:
                    with open(data_or_path, "rb") as fi, zf.open(info, "w", force_zip64=True) as fo:
                        for chunk in iter(lambda: fi.read(_CHUNK), b""):
                            fo.write(chunk)
            add(mf.MANIFEST_NAME, manifest_bytes)
            for name, path in members:
                add(name, path)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _conversion_steps(report: object, limit: int = 20, width: int = 300) -> list[str]:
    """The converter's one-line pass summaries (pruning, trimming, quantization) from the manifest's free-form
    ``report``, as printable text: the report is not schema-checked, so non-strings are dropped, control
    characters replaced and lines capped (a hostile bundle cannot drive the terminal through ``edgetext info``)."""
    passes = report.get("passes") if isinstance(report, dict) else None
    if not isinstance(passes, list):
        return []
    out = []
    for line in passes[:limit]:
        if isinstance(line, str):
            clean = "".join(c if c.isprintable() else "?" for c in line)
            out.append(clean if len(clean) <= width else clean[:width - 3] + "...")
    return out
