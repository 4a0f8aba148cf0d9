"""Where a conversion writes: ``--out`` checked before any work, the bundle built next to it and moved
into place in one rename (issue 13, finding 10).

- :func:`check_output` (cheap, before anything is read): the kind of bundle ``--out`` names (a ``.etb``
  archive, or a folder, as ``edgetext.bundle.pack`` decides), what is there already (an existing bundle is
  replaced only with ``force``; an empty folder is fine; a non-bundle folder or a file in a folder's place
  never is), that it neither is nor holds the source, and that its folder is writable (a probe folder is
  made and removed there), each as a ConversionError naming ``--out``.
- :class:`StagedOutput`: a hidden ``.<name>.partial-<pid>-XXXX`` folder beside ``--out`` (same file system),
  made when the conversion starts; the bundle is packed into it and :meth:`StagedOutput.commit` renames it
  into place (an existing folder bundle with ``force``: swapped in one ``renameat2(RENAME_EXCHANGE)`` where
  the kernel has it, else moved aside first). Any exception, ``KeyboardInterrupt`` included, removes the
  staging folder and any parent folders made for it, so an interrupted run leaves ``--out`` as it was and a
  re-run works. Staging folders of processes that no longer exist (a ``kill -9``) are removed by the next
  conversion to the same ``--out``.
- Files and folders get the modes of the umask (the staging folder is made 0700, pack's temporary files 0600).

May import: the standard library, edgetext.errors.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from edgetext.errors import ConversionError

__all__ = ["ARCHIVE_SUFFIX", "StagedOutput", "check_output", "output_kind"]

ARCHIVE_SUFFIX = ".etb"  # edgetext.bundle.ARCHIVE_SUFFIX (pack writes an archive for it)
MANIFEST = "manifest.json"
FORCE_HINT = "pass --force (convert(..., force=True)) to replace it"


def output_kind(out: Path) -> str:
    """``archive`` or ``folder``: what ``edgetext.bundle.pack`` writes for ``out``."""
    return "archive" if out.suffix == ARCHIVE_SUFFIX and not out.is_dir() else "folder"


def _is_bundle_folder(p: Path) -> bool:
    return (p / MANIFEST).is_file()


def _existing(out: Path, force: bool) -> bool:
    """Whether ``out`` holds something a commit replaces; raises where that is not allowed."""
    if not os.path.lexists(out):
        return False
    kind = output_kind(out)
    if kind == "archive":
        if out.is_symlink() or not out.is_file():
            raise ConversionError(f"--out {out} exists and is not a regular file; refusing to replace it")
        if not force:
            raise ConversionError(f"--out {out} exists; {FORCE_HINT}")
        return True
    if out.is_symlink() or not out.is_dir():
        raise ConversionError(f"--out {out} exists and is not a folder (a bundle archive ends in {ARCHIVE_SUFFIX}); "
                              "refusing to replace it")
    try:
        empty = not any(out.iterdir())
    except OSError as e:
        raise ConversionError(f"--out {out}: cannot list it: {e.strerror or e}") from None
    if empty:
        return False
    if not _is_bundle_folder(out):
        raise ConversionError(f"--out {out} exists, is not empty and is not an EdgeText bundle (no {MANIFEST}); "
                              "refusing to replace it, even with --force: choose another --out")
    if not force:
        raise ConversionError(f"--out {out} exists (a bundle folder); {FORCE_HINT}")
    return True


def _check_not_source(out: Path, src: str | os.PathLike | None) -> None:
    if src is None or not os.path.exists(src):
        return
    o, s = out.resolve(), Path(src).resolve()
    if o == s or s.is_relative_to(o):
        raise ConversionError(f"--out {out} is or contains the source {src}; write the bundle elsewhere")


def _missing_parents(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist, outermost first."""
    missing: list[Path] = []
    p = folder
    while not os.path.lexists(p):
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    return missing[::-1]


def _os_reason(e: OSError) -> str:
    return e.strerror or type(e).__name__


def check_output(out: str | os.PathLike, force: bool = False, src: str | os.PathLike | None = None) -> None:
    """Everything about ``--out`` that can be known before converting (ConversionError naming it)."""
    out = Path(out)
    if not str(out) or out.name in ("", ".", ".."):
        raise ConversionError(f"--out {str(out)!r} is not a file or folder name")
    _check_not_source(out, src)
    _existing(out, force)
    parent = out.parent
    missing = _missing_parents(parent)
    base = missing[0].parent if missing else parent
    if not base.is_dir():
        raise ConversionError(f"--out {out}: {base} is not a folder")
    try:  # a real probe: os.access says yes to root on a read-only mount and knows nothing of quotas
        probe = tempfile.mkdtemp(prefix=f".{out.name}.probe-", dir=base)
        os.rmdir(probe)
    except OSError as e:
        raise ConversionError(f"--out {out}: cannot write in {base}: {_os_reason(e)}") from None


_PARTIAL = re.compile(r"\.(?P<name>.+)\.partial-(?P<pid>\d+)-[^/]+")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(parent: Path, name: str) -> None:
    """Staging folders for ``name`` left by processes that no longer exist (killed with SIGKILL)."""
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for p in entries:
        m = _PARTIAL.fullmatch(p.name)
        if m and m["name"] == name and int(m["pid"]) != os.getpid() and not _pid_alive(int(m["pid"])):
            shutil.rmtree(p, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _apply_umask(root: Path) -> None:
    """Modes as a plain ``open``/``mkdir`` would have made them (tempfile makes 0600 files, 0700 folders)."""
    mask = _umask()
    file_mode, dir_mode = 0o666 & ~mask, 0o777 & ~mask
    if root.is_file():
        os.chmod(root, file_mode)
        return
    os.chmod(root, dir_mode)
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            os.chmod(os.path.join(folder, d), dir_mode)
        for f in files:
            path = os.path.join(folder, f)
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.chmod(path, file_mode)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where that is unavailable."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):  # not on this kernel / file system
        return False
    raise OSError(err, os.strerror(err), str(b))


class StagedOutput:
    """The staging folder of one conversion's ``--out`` (see the module docstring)."""

    def __init__(self, out: str | os.PathLike, force: bool = False, src: str | os.PathLike | None = None):
        self.out = Path(out)
        self.force = force
        self.src = src
        self.kind = output_kind(self.out)
        self._made_parents: list[Path] = []
        self._staging: Path | None = None

    @property
    def staged(self) -> Path:
        """Where pack writes the bundle: ``<staging>/<out's name>``."""
        assert self._staging is not None, "StagedOutput used outside its with block"
        return self._staging / self.out.name

    def __enter__(self) -> "StagedOutput":
        check_output(self.out, self.force, self.src)
        parent = self.out.parent
        missing = _missing_parents(parent)
        try:
            for p in missing:
                p.mkdir()
                self._made_parents.append(p)
            _remove_stale(parent, self.out.name)
            self._staging = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.partial-{os.getpid()}-", dir=parent))
            if self.kind == "folder":  # made now, so that pack writes a folder even for a name ending in .etb
                self.staged.mkdir()
        except OSError as e:
            self._cleanup()
            raise ConversionError(f"--out {self.out}: cannot write in {parent}: {_os_reason(e)}") from None
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._cleanup(keep_parents=exc[0] is None)

    def _cleanup(self, keep_parents: bool = False) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
        if not keep_parents:
            for p in reversed(self._made_parents):
                with contextlib.suppress(OSError):
                    p.rmdir()
            self._made_parents = []

    def commit(self) -> Path:
        """Move the packed bundle to ``--out`` (checked again: something may have appeared meanwhile)."""
        staged = self.staged
        if not os.path.lexists(staged):
            raise ConversionError(f"--out {self.out}: the bundle was not written")
        _apply_umask(staged)
        try:
            replace = _existing(self.out, self.force)
            if self.kind == "archive":
                if replace:
                    os.replace(staged, self.out)
                else:
                    self._link_new(staged)
            elif not replace:
                os.rename(staged, self.out)  # onto nothing, or onto an empty folder (never onto a non-empty one)
            elif not _exchange(staged, self.out):
                old = self.staged.with_name(self.out.name + ".previous")
                os.rename(self.out, old)
                try:
                    os.rename(staged, self.out)
                except BaseException:
                    os.rename(old, self.out)
                    raise
        except OSError as e:
            raise ConversionError(f"--out {self.out}: cannot move the bundle into place: {_os_reason(e)}") from None
        return self.out

    def _link_new(self, staged: Path) -> None:
        """Archive onto a path nothing is at: a hard link fails where something appeared meanwhile."""
        try:
            os.link(staged, self.out)
        except FileExistsError:
            raise ConversionError(f"--out {self.out} appeared during the conversion; {FORCE_HINT}") from None
        except OSError:  # no hard links on this file system: checked just before, rename
            os.rename(staged, self.out)
            return
        os.unlink(staged)

