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
    if not errors:
        groups = {}
        for name, value in codes.items():
            groups.setdefault(RANGES[value // 100], []).append(f"{name}={value}")
        print("status codes: " + "; ".join(f"{g}: {' '.join(v)}" for g, v in groups.items()))
    return errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--objects", nargs="+", type=Path, required=True, help="one object per unit (src/*.c)")
    ap.add_argument("--library", type=Path, help="libedgetext.so (exports check)")
    ap.add_argument("--include", type=Path, default=HERE / "include")
    ap.add_argument("--src", type=Path, default=HERE / "src")
    args = ap.parse_args(argv)
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
