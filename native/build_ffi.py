"""cffi API-mode build of ``edgetext._native`` from native/src (used by setup.py's
``cffi_modules`` and runnable directly: ``python native/build_ffi.py`` builds
the module into sdk/edgetext/).  The Unicode tables are generated first."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
# one unit per pipeline stage (native/README.md); the same list as native/Makefile's SRCS
SOURCES = sorted(p.name for p in SRC.glob("*.c"))
# the public API and the binding-only entry points (EtIdsCall, et_encode_ids_call, *_packed)
HEADERS = ["edgetext.h", "edgetext_bindings.h"]


def _generate_tables() -> None:
    out = SRC / "unicode_tables.h"
    deps = [HERE / "gen_unicode_tables.py", HERE / "hf_unicode_delta.json"]
    if out.is_file() and all(out.stat().st_mtime >= d.stat().st_mtime for d in deps):
        return
    subprocess.check_call([sys.executable, str(HERE / "gen_unicode_tables.py"), str(out)])


def _cdef() -> str:
    """The declarations of include/edgetext.h and edgetext_bindings.h for cffi: comments,
    the extern "C" guards, preprocessor lines and ET_API dropped; the integer macros
    ET_ABI_VERSION kept (cffi checks their values against the C compiler's)."""
    parts = []
    for name in HEADERS:
        text = (HERE / "include" / name).read_text()
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        text = re.sub(r"#ifdef __cplusplus\n.*?#endif", "", text, flags=re.S)
        lines = []
        for ln in text.splitlines():
            if ln.strip().startswith("#"):
                if re.match(r"\s*#define ET_ABI_VERSION \d+\s*$", ln):
                    lines.append(ln.strip())
                continue
            lines.append(re.sub(r"\bET_API\b", "", ln))
        parts.append("\n".join(lines))
    return "\n".join(parts)


def make_ffi(absolute: bool) -> FFI:
    _generate_tables()
    f = FFI()
    f.cdef(_cdef())
    f.set_source(
        "edgetext._native",
        "".join(f'#include "{h}"\n' for h in HEADERS),
        sources=[str(SRC / s) if absolute else os.path.relpath(SRC / s) for s in SOURCES],
        include_dirs=[str(HERE / "include"), str(SRC)],
        extra_compile_args=["-std=c11", "-O3", "-fvisibility=hidden", "-D_POSIX_C_SOURCE=200809L"],
        libraries=["pthread"] if os.name == "posix" else [],
    )
    return f


# In-place builds by setup.py unlink the old module first (setup.py's BuildExtFreshInode);
# a non-editable build (e.g. another Python's venv installing this tree) must not touch it.
ffi = make_ffi(absolute=__name__ == "__main__")

if __name__ == "__main__":
    ffi.compile(tmpdir=str(HERE.parent / "build" / "cffi"), verbose=False)
    built = list((HERE.parent / "build" / "cffi" / "edgetext").glob("_native*.so"))
    pkg = HERE.parent / "sdk" / "edgetext"
    for old in pkg.glob("_native*.so"):  # one copy only (pip -e writes _native.abi3.so)
        if old.name != "_native.abi3.so":
            old.unlink()
    for so in built:
        target = pkg / "_native.abi3.so"  # the name pip -e gives it, so the two builds replace each other
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(so.read_bytes())
        os.replace(tmp, target)  # a new inode: processes that loaded the old file keep working
        print("built", target)
