#!/usr/bin/env python3
"""Structure checks of libedgetext, from the built objects (run by `make -C native test`):

1. units: one object per src/*.c; unit A depends on unit B when A's object
   has an undefined symbol that B's object defines (`nm`).  Prints the graph
   in dependency order and fails on any cycle or on a symbol defined twice.
2. headers: the `#include "..."` graph of include/*.h and src/*.h has no cycle.
3. exports: libedgetext.so exports exactly the ET_API functions declared in
   include/*.h (internal functions are hidden).
4. status codes: every EtStatus code in include/edgetext.h has a comment,
   lies in its documented range (0 ok, 1xx caller, 2xx data, 3xx resources),
   is named by et_status_string (status.c) and is used by some other unit
   (no code that is never returned).

    make -C native check-units
    python native/check_units.py --objects native/build/*.o --library native/build/libedgetext.so
    python native/check_units.py --self-test --cc cc    # the checks catch what they are for

Standard library only; `nm` may be a cross nm (--nm aarch64-linux-gnu-nm).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# nm -P: "name type [value size]"; defined global types are upper case (U: undefined)
DEFINED = set("ABCDGIRSTVW")


def read_symbols(nm: str, obj: Path) -> tuple[set[str], set[str]]:
    out = subprocess.run([nm, "-P", str(obj)], check=True, capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind in ("U", "w", "v"):
            undefined.add(name)
        elif kind in DEFINED:
            defined.add(name)
    return defined, undefined


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as [a, b, ..., a], or None (iterative DFS, three colours)."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for root in sorted(graph):
        if state.get(root):
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    return path[path.index(child):] + [child]
                if not state.get(child):
                    state[child] = 1
                    path.append(child)
                    stack.append((child, iter(sorted(graph.get(child, ())))))
                    break
            else:
                state[node] = 2
                path.pop()
                stack.pop()
    return None


def layers(graph: dict[str, set[str]]) -> list[list[str]]:
    """Units grouped by depth: layer 0 depends on nothing, layer k only on layers < k."""
    depth: dict[str, int] = {}

    def d(u: str) -> int:
        if u not in depth:
            depth[u] = 1 + max((d(v) for v in graph[u]), default=-1)
        return depth[u]

    for u in graph:
        d(u)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for u in sorted(graph):
        out[depth[u]].append(u)
    return out


def check_units(nm: str, objects: list[Path]) -> list[str]:
    errors = []
    defined_by: dict[str, str] = {}
    undefined: dict[str, set[str]] = {}
    for obj in objects:
        unit = obj.stem
        defs, undefs = read_symbols(nm, obj)
        undefined[unit] = undefs
        for sym in defs:
            if sym in defined_by:
                errors.append(f"{sym} is defined by both {defined_by[sym]} and {unit}")
            defined_by[sym] = unit
    graph: dict[str, set[str]] = {u: set() for u in undefined}
    uses: dict[tuple[str, str], list[str]] = {}
    external: dict[str, set[str]] = {u: set() for u in undefined}
    for unit, undefs in undefined.items():
        for sym in undefs:
            owner = defined_by.get(sym)
            if owner is None:
                external[unit].add(sym)
            elif owner != unit:
                graph[unit].add(owner)
                uses.setdefault((unit, owner), []).append(sym)
    print("units (unit -> units it calls: symbols), in dependency order:")
    cycle = find_cycle(graph)
    if cycle is None:
        for k, layer in enumerate(layers(graph)):
            for unit in layer:
                deps = "; ".join(f"{d}: {', '.join(sorted(uses[(unit, d)]))}" for d in sorted(graph[unit]))
                print(f"  [{k}] {unit:<18} -> {deps or '(none)'}")
                libc = sorted(s for s in external[unit] if not s.startswith("_"))
                if libc:
                    print(f"      {'':<18}    libc: {' '.join(libc)}")
    else:
        for unit in sorted(graph):
            print(f"  {unit} -> {', '.join(sorted(graph[unit])) or '(none)'}")
        steps = [f"{a} -> {b} ({', '.join(sorted(uses[(a, b)]))})" for a, b in zip(cycle, cycle[1:])]
        errors.append("unit cycle: " + "; ".join(steps))
    return errors


def check_headers(dirs: list[Path]) -> list[str]:
    files = {p.name: p for d in dirs for p in sorted(d.glob("*.[ch]"))}
    graph = {}
    for name, path in files.items():
        incs = re.findall(r'^\s*#\s*include\s+"([^"]+)"', path.read_text(), flags=re.M)
        graph[name] = {i for i in incs if i in files and i.endswith(".h")}
    headers = {n: g for n, g in graph.items() if n.endswith(".h")}
    cycle = find_cycle(headers)
    if cycle:
        return ["header include cycle: " + " -> ".join(cycle)]
    print(f"headers: {len(headers)} headers, include graph acyclic")
    return []


def declared_api(include: Path) -> set[str]:
    names = set()
    for h in sorted(include.glob("*.h")):
        text = re.sub(r"/\*.*?\*/", "", h.read_text(), flags=re.S)
        names |= set(re.findall(r"\bET_API\b[^;{}]*?\b(et_\w+)\s*\(", text))
    return names


def check_exports(nm: str, library: Path, include: Path) -> list[str]:
    out = subprocess.run([nm, "-D", "-P", "--defined-only", str(library)], check=True,
                         capture_output=True, text=True).stdout
    exported = {ln.split()[0] for ln in out.splitlines() if ln.split()[1:2] and ln.split()[1] in DEFINED}
    exported = {s.split("@")[0] for s in exported} - {"_init", "_fini", "_edata", "_end", "__bss_start"}
    declared = declared_api(include)
    errors = []
    if exported - declared:
        errors.append(f"{library.name} exports symbols no public header declares: {sorted(exported - declared)}")
    if declared - exported:
        errors.append(f"public functions missing from {library.name}: {sorted(declared - exported)}")
    if not errors:
        print(f"exports: {library.name} exports exactly the {len(declared)} ET_API functions of include/*.h")
    return errors


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


RANGES = {0: "ok", 1: "caller", 2: "data", 3: "resources"}


def check_status_codes(include: Path, src: Path) -> list[str]:
    header = (include / "edgetext.h").read_text()
    body = re.search(r"typedef enum \{(.*?)\} EtStatus;", header, flags=re.S)
    if not body:
        return ["no EtStatus enum in edgetext.h"]
    errors = []
    codes: dict[str, int] = {}
    # one enumerator per line; its comment starts on the same line
    for line in body.group(1).splitlines():
        m = re.match(r"\s*(ET_\w+)\s*=\s*(\d+)\s*,?\s*(/\*.*)?$", line)
        if not m:
            continue
        name, value, comment = m.group(1), int(m.group(2)), m.group(3)
        codes[name] = value
        if name != "ET_OK" and not comment:
            errors.append(f"{name} has no comment in edgetext.h")
        if (value == 0) != (name == "ET_OK") or value // 100 not in RANGES or (value and value < 100):
            errors.append(f"{name} = {value} is outside the documented ranges (0, 1xx, 2xx, 3xx)")
    if len(set(codes.values())) != len(codes):
        errors.append("two status codes share a value")
    status_c = strip_comments((src / "status.c").read_text())
    others = " ".join(strip_comments(p.read_text()) for p in sorted(src.glob("*.c")) if p.name != "status.c")
    for name in codes:
        if not re.search(rf"case {name}:", status_c):
            errors.append(f"et_status_string does not name {name}")
        if name != "ET_OK" and not re.search(rf"\b{name}\b", others):
            errors.append(f"{name} is never returned (no unit besides status.c uses it): remove it")
    tests = src.parent / "tests" / "test_tokenizer.c"
    if tests.is_file():  # the C test that provokes every code lists them all
        listed = re.search(r"ALL_STATUS\[\]\s*=\s*\{(.*?)\}", strip_comments(tests.read_text()), flags=re.S)
        missing = set(codes) - set(re.findall(r"\bET_\w+", listed.group(1) if listed else ""))
        if missing:
            errors.append(f"tests/test_tokenizer.c ALL_STATUS lacks {sorted(missing)}")
    if not errors:
        groups = {}
        for name, value in codes.items():
            groups.setdefault(RANGES[value // 100], []).append(f"{name}={value}")
        print("status codes: " + "; ".join(f"{g}: {' '.join(v)}" for g, v in groups.items()))
    return errors


# --self-test: the checks must catch what they are for, on small made-up trees
_A_CALLS_B = "int b(void);\nint a(void) { return b(); }\n"
SELF_TEST_UNITS = {
    "acyclic": ({"a.c": _A_CALLS_B, "b.c": "int b(void) { return 1; }\n"}, None),
    "cycle": ({"a.c": _A_CALLS_B, "b.c": "int c(void);\nint b(void) { return c(); }\n",
               "c.c": "int a(void);\nint c(void) { return a(); }\n"}, "unit cycle: a -> b (b); b -> c (c); c -> a (a)"),
    "duplicate": ({"a.c": "int x(void) { return 1; }\n", "b.c": "int x(void) { return 2; }\n"},
                  "x is defined by both"),
}
SELF_TEST_HEADERS = {"x.h": '#include "y.h"\n', "y.h": '#include "x.h"\n'}
SELF_TEST_STATUS = {
    "include/edgetext.h": "typedef enum {\n  ET_OK = 0,\n  ET_ERR_USED = 100, /* used */\n"
                          "  ET_ERR_UNUSED = 101, /* never returned */\n  ET_ERR_BAD = 42 /* bad range */\n} EtStatus;\n",
    "src/status.c": "case ET_OK: case ET_ERR_USED: case ET_ERR_UNUSED: case ET_ERR_BAD:\n",
    "src/a.c": "return ET_ERR_USED; return ET_ERR_BAD; /* ET_ERR_UNUSED in a comment only */\n",
}


def self_test(cc: str, nm: str) -> int:
    import contextlib
    import io
    import shlex
    import tempfile

    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, (files, expect) in SELF_TEST_UNITS.items():
            d = root / name
            d.mkdir()
            objects = []
            for fname, code in files.items():
                (d / fname).write_text(code)
                obj = d / (Path(fname).stem + ".o")
                subprocess.run([*shlex.split(cc), "-c", str(d / fname), "-o", str(obj)], check=True)
                objects.append(obj)
            with contextlib.redirect_stdout(io.StringIO()):
                errors = check_units(nm, objects)
            if expect is None and errors:
                failures.append(f"{name}: unexpected {errors}")
            if expect is not None and not any(expect in e for e in errors):
                failures.append(f"{name}: expected an error with {expect!r}, got {errors}")
        hdr = root / "headers"
        hdr.mkdir()
        for fname, code in SELF_TEST_HEADERS.items():
            (hdr / fname).write_text(code)
        errors = check_headers([hdr])
        if not any("header include cycle" in e for e in errors):
            failures.append(f"header cycle not found: {errors}")
        st = root / "status"
        for fname, code in SELF_TEST_STATUS.items():
            (st / fname).parent.mkdir(parents=True, exist_ok=True)
            (st / fname).write_text(code)
        errors = check_status_codes(st / "include", st / "src")
        for expect in ("ET_ERR_UNUSED is never returned", "ET_ERR_BAD = 42 is outside"):
            if not any(expect in e for e in errors):
                failures.append(f"status audit: expected {expect!r}, got {errors}")
        if any("ET_ERR_USED " in e for e in errors):
            failures.append(f"status audit: ET_ERR_USED wrongly reported: {errors}")
    for f in failures:
        print("check_units --self-test: FAIL:", f, file=sys.stderr)
    print("check_units --self-test:", "FAILED" if failures else "ok (finds unit cycles, duplicate symbols, "
          "header cycles, unused and out-of-range status codes)")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--objects", nargs="+", type=Path, help="one object per unit (src/*.c)")
    ap.add_argument("--self-test", action="store_true", help="run the checks on made-up trees (needs --cc)")
    ap.add_argument("--cc", default="cc", help="C compiler for --self-test")
    ap.add_argument("--library", type=Path, help="libedgetext.so (exports check)")
    ap.add_argument("--include", type=Path, default=HERE / "include")
    ap.add_argument("--src", type=Path, default=HERE / "src")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test(args.cc, args.nm)
    if not args.objects:
        ap.error("--objects is required")
    units = {p.stem for p in args.src.glob("*.c")}
    given = {p.stem for p in args.objects}
    errors = []
    if units != given:
        errors.append(f"objects {sorted(given)} do not match the units of src/: {sorted(units)}")
    errors += check_units(args.nm, args.objects)
    errors += check_headers([args.include, args.src])
    if args.library:
        errors += check_exports(args.nm, args.library, args.include)
    errors += check_status_codes(args.include, args.src)
    for e in errors:
        print("check_units: FAIL:", e, file=sys.stderr)
    print("check_units:", "FAILED" if errors else "ok")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
