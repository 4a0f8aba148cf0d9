"""The import rules of docs/architecture.md ("Import rules"), enforced on the static import graph.

    .venv/bin/python -m pytest -q tests/test_architecture.py

Every ``.py`` file under sdk/edgetext, converters/edgetext_converters, samples/, bench/ and
training/ is parsed with ``ast`` (no scanned module is imported to build the graph, so a module being rewritten
or missing a dependency is still checked). Imports count wherever they are written (module level,
inside functions and classes, in try/except) except under ``if TYPE_CHECKING:``. Imports made by
name at run time are added where the code declares them: ``edgetext._LAZY`` (the package root's
lazy exports) and ``edgetext.backends.catalog.BACKENDS`` (backend classes), read by importing those
two cheap modules, and any ``import_module("literal")`` call. The rules tables are read from
docs/architecture.md, so the doc and the test cannot drift apart; modules are discovered by walking
the folders, so new or renamed modules are checked without editing this file.
"""
from __future__ import annotations

import ast
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = {"edgetext": ROOT / "sdk" / "edgetext", "edgetext_converters": ROOT / "converters" / "edgetext_converters"}
SCRIPT_FOLDERS = ("samples", "bench", "training")  # loose scripts: module names "samples.demo", "bench.tokenizer"
PROJECT_TOPS = set(PACKAGES)

# Imports that break a rule today, each with who is fixing it. An entry that no longer breaks
# its rule fails test_known_violations_are_still_real: delete it then.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
}


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # the module named (`from pkg import mod` names pkg.mod when that is a module)
    line: int
    where: str  # "module" | "function" | "declared" (imported by name at run time)


# -- discovery and parsing --------------------------------------------------------------------------
def discover() -> dict[str, Path]:
    """Module name -> file, for every .py file of the scanned folders."""
    found: dict[str, Path] = {}
    for top, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            package = parts[-1] == "__init__"
            name = ".".join([top, *(parts[:-1] if package else parts)])
            if package or name not in found:  # pkg/__init__.py shadows a pkg.py beside it, as in Python
                found[name] = path
    for folder in SCRIPT_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            found[".".join([folder, *path.relative_to(ROOT / folder).with_suffix("").parts])] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imports_of(module: str, path: Path, modules: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _package_of(module, path)
    found: list[Import] = []

    def add(target: str, node: ast.AST, depth: int) -> None:
        found.append(Import(module, target, node.lineno, "function" if depth else "module"))

    def visit(node: ast.AST, depth: int) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:  # `else:` of TYPE_CHECKING runs at run time
                visit(child, depth)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node, depth)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                sub = f"{origin}.{alias.name}"
                add(sub if sub in modules else origin, node, depth)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and \
                isinstance(node.args[0].value, str) and \
                ((isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__")) or
                 (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")):
            add(node.args[0].value, node, depth)
        nested = depth + isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, nested)

    visit(tree, 0)
    return found


def declared_imports() -> list[Import]:
    """Imports by name at run time, read from the tables that name the modules (importing these two
    SDK modules is cheap: neither loads an engine nor the native extension)."""
    import edgetext
    from edgetext.backends import catalog

    return [Import("edgetext", m, 0, "declared") for m in sorted(set(edgetext._LAZY.values()))] + \
        [Import(catalog.__name__, b.module, 0, "declared") for b in catalog.BACKENDS.values()]


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, Path], list[Import]]:
    files = discover()
    modules = set(files)
    edges = [imp for name, path in files.items() for imp in imports_of(name, path, modules)]
    return files, edges + declared_imports()


# -- the rules tables of docs/architecture.md ("Import rules": "May import" and "Never") ----------------
@dataclass(frozen=True)
class MayImport:
    modules: tuple[str, ...]  # names or fnmatch globs
    allowed: tuple[str, ...]  # project modules (names or globs); "*": anything


@dataclass(frozen=True)
class Ban:
    modules: tuple[str, ...]
    never: tuple[str, ...]  # a dotless third-party name bans its whole package; else names or globs
    exempt: tuple[str, ...]  # modules this ban does not apply to


@dataclass(frozen=True)
class Rules:
    may: tuple[MayImport, ...]
    bans: tuple[Ban, ...]


def _ticked(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]+)`", cell))


def _table_rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under `### heading` (a row whose first cell names a module)."""
    part = text.split(f"### {heading}", 1)
    assert len(part) == 2, f"{DOC.name} has no '### {heading}' section"
    body = re.split(r"\n#{2,3} ", part[1], maxsplit=1)[0]
    rows = []
    for line in body.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0].startswith("`"):
                rows.append(cells)
    return rows


def parse_rules(text: str) -> Rules:
    """The "May import" and "Never" tables of the "## Import rules" section of `text`."""
    section = text.split("## Import rules", 1)[1]
    may = tuple(MayImport(_ticked(r[0]), _ticked(r[1])) for r in _table_rows(section, "May import"))
    bans = tuple(Ban(_ticked(r[0]), _ticked(r[1]), _ticked(r[2]) if len(r) > 2 else ())
                 for r in _table_rows(section, "Never"))
    return Rules(may, bans)


def read_rules() -> Rules:
    rules = parse_rules(DOC.read_text(encoding="utf-8"))
    assert len(rules.may) >= 10 and len(rules.bans) >= 3, f"could not read the import rules tables of {DOC}"
    return rules


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    top = name.split(".")[0]
    return any(fnmatch.fnmatchcase(name, p) or ("." not in p and "*" not in p and top == p and not _is_project(p))
               for p in patterns)


def _specificity(module: str, rule: MayImport) -> tuple[int, int]:
    """An exact name beats any glob; a glob with a longer literal prefix beats a shorter one."""
    return max((1, 0) if p == module else (0, len(p.split("*")[0]))
               for p in rule.modules if fnmatch.fnmatchcase(module, p))


def may_rule_for(module: str, rules: Rules) -> MayImport | None:
    matching = [r for r in rules.may if any(fnmatch.fnmatchcase(module, p) for p in r.modules)]
    return max(matching, key=lambda r: _specificity(module, r)) if matching else None


def _rel(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _is_project(name: str) -> bool:
    return name.split(".")[0] in PROJECT_TOPS


def violations(files: dict[str, Path], edges: list[Import], rules: Rules) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for imp in edges:
        if imp.target == imp.source:
            continue
        where = f"{_rel(files[imp.source])}:{imp.line} ({imp.where})"
        for ban in rules.bans:
            if any(fnmatch.fnmatchcase(imp.source, p) for p in ban.modules) and imp.source not in ban.exempt \
                    and _matches(imp.target, ban.never):
                found[(imp.source, imp.target)] = f"{where}: {imp.source} must never import {imp.target}"
        rule = may_rule_for(imp.source, rules)
        if rule is not None and _is_project(imp.target) and "*" not in rule.allowed \
                and not _matches(imp.target, rule.allowed):
            found.setdefault((imp.source, imp.target),
                             f"{where}: {imp.source} may import only {', '.join(rule.allowed) or 'nothing'} of the "
                             f"project, not {imp.target}")
    return found


# -- cycles (Tarjan's strongly connected components) --------------------------------------------------
def cycles(nodes: set[str], edges: list[Import]) -> list[list[str]]:
    succ: dict[str, set[str]] = {n: set() for n in nodes}
    for imp in edges:
        # a module naming itself (`from . import x` in pkg/__init__.py while x.py does not exist) is no cycle
        if imp.source in nodes and imp.target in nodes and imp.source != imp.target:
            succ[imp.source].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(succ[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            strongconnect(v)
    return found


def _describe_cycle(component: list[str], edges: list[Import], files: dict[str, Path]) -> str:
    inside = set(component)
    links = sorted({f"{i.source} -> {i.target} ({_rel(files[i.source])}:{i.line}, {i.where})"
                    for i in edges if i.source in inside and i.target in inside})
    return " <-> ".join(component) + "\n    " + "\n    ".join(links)


# -- the tests --------------------------------------------------------------------------------------------
def test_every_scanned_module_has_a_rule(graph):
    files, _ = graph
    rules = read_rules()
    uncovered = [m for m in files if may_rule_for(m, rules) is None]
    assert not uncovered, f"add these modules to the import rules of {DOC.relative_to(ROOT)}: {uncovered}"


def test_imports_follow_the_rules_of_docs_architecture(graph):
    files, edges = graph
    found = violations(files, edges, read_rules())
    unexpected = {k: v for k, v in found.items() if k not in KNOWN_VIOLATIONS}
    assert not unexpected, "import rule violations (docs/architecture.md, Import rules):\n" + \
        "\n".join(sorted(unexpected.values()))


def test_known_violations_are_still_real(graph):
    files, edges = graph
    found = violations(files, edges, read_rules())
    fixed = [k for k in KNOWN_VIOLATIONS if k not in found]
    assert not fixed, f"fixed: delete these from KNOWN_VIOLATIONS in {Path(__file__).name}: {fixed}"


@pytest.mark.parametrize("package", ["edgetext", "edgetext_converters", "samples", "bench", "all"])
def test_no_import_cycles(graph, package):
    """Per package (so a failure names whose code it is), then over every scanned module together."""
    files, edges = graph
    nodes = {m for m in files if package == "all" or m.split(".")[0] == package}
    found = cycles(nodes, edges)
    assert not found, f"import cycles in {package}:\n  " + "\n  ".join(_describe_cycle(c, edges, files)
                                                                      for c in found)


# -- the checker checks itself: each rule kind and the cycle finder catch a planted fault --------------------
def _plant(tmp_path: Path, sources: dict[str, str]) -> tuple[dict[str, Path], list[Import]]:
    files = {}
    for name, code in sources.items():
        path = tmp_path / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
        files[name] = path
    modules = set(files)
    return files, [imp for name, path in files.items() for imp in imports_of(name, path, modules)]


def test_the_scanner_sees_function_level_imports_and_skips_type_checking(tmp_path):
    files, edges = _plant(tmp_path, {
        "pkg.a": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n",
        "pkg.b": "def f():\n    from . import c\n",
        "pkg.c": "import importlib\nimportlib.import_module('pkg.b')\n",
    })
    assert {(i.source, i.target, i.where) for i in edges if i.target.startswith("pkg")} == {
        ("pkg.b", "pkg.c", "function"), ("pkg.c", "pkg.b", "module")}
    assert cycles(set(files), edges) == [["pkg.b", "pkg.c"]]
    assert cycles({"pkg.a", "pkg.b"}, edges) == []


def test_the_rules_catch_banned_and_unlisted_imports(tmp_path):
    files, edges = _plant(tmp_path, {"edgetext.low": "import torch.nn\nfrom edgetext import high\n",
                                     "edgetext.high": "from edgetext import low\nimport numpy\nimport torchvision\n",
                                     "edgetext.ok": "import torch\n"})
    doc = """## Import rules
### May import
| module | may import | why |
|---|---|---|
| `edgetext.*` | `edgetext.*` | |
| `edgetext.low` | `edgetext.errors` | |
### Never
| modules | never import | except |
|---|---|---|
| `edgetext.*` | `torch` | `edgetext.ok` |
"""
    found = violations(files, edges, parse_rules(doc))
    assert set(found) == {("edgetext.low", "torch.nn"), ("edgetext.low", "edgetext.high")}, found


# -- the backends registry is the one list of backend names --------------------------------------------------
def test_manifest_schema_backend_enum_is_the_backends_registry():
    import json

    from edgetext import manifest as mf
    from edgetext.backends.catalog import BACKEND_CHOICES, BACKENDS
    from edgetext.backends.registry import TABLE

    schema = json.loads((ROOT / "sdk" / "edgetext" / "schema" / "manifest.schema.json").read_text(encoding="utf-8"))
    assert _find_backend_enum(schema) == list(BACKENDS)
    assert tuple(mf.BACKENDS) == tuple(BACKENDS), "edgetext.manifest.BACKENDS must list the same backends"
    assert BACKEND_CHOICES == ("auto", *BACKENDS)
    assert {row.backend for row in TABLE} == set(BACKENDS), "every backend has table rows, and only those"


def _find_backend_enum(node):
    """The enum of the first "backend" property anywhere in the schema."""
    if isinstance(node, dict):
        prop = node.get("properties", {}).get("backend")
        if isinstance(prop, dict) and "enum" in prop:
            return prop["enum"]
        for value in node.values():
            found = _find_backend_enum(value)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _find_backend_enum(value)
            if found is not None:
                return found
    return None


def test_every_backend_of_the_registry_resolves_to_its_class():
    from edgetext.backends import catalog
    from edgetext.backends.base import Backend

    for name, info in catalog.BACKENDS.items():
        cls = catalog.backend_class(name)
        assert cls.__name__ == info.class_name and cls.__module__ == info.module and cls.name == name
        assert isinstance(catalog.engine_installed(name), bool)
        assert Backend.__init__ is not cls.__init__


def test_cli_backend_choices_come_from_the_registry():
    from edgetext import cli
    from edgetext.backends.catalog import BACKEND_CHOICES

    parser = cli._build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for command in ("classify", "bench"):
        backend = next(a for a in sub[command]._actions if a.dest == "backend")
        assert tuple(backend.choices) == BACKEND_CHOICES and backend.default == "auto"


def test_lazy_exports_are_listed_in_all():
    import edgetext

    assert set(edgetext._LAZY) <= set(edgetext.__all__)
    assert edgetext.Category is __import__("edgetext.predictor", fromlist=["Category"]).Category
    assert callable(edgetext.verify_bundle)


# -- what the static rules promise, observed at run time in a fresh interpreter ----------------------------------
def _modules_loaded_by(code: str) -> set[str]:
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_import_edgetext_stays_cheap():
    loaded = _modules_loaded_by("import edgetext")
    assert not loaded & {"numpy", "edgetext.bundle", "edgetext.predictor", "edgetext.verify", "onnxruntime",
                         "edgetext._native", "edgetext.serving", "aiohttp"}


def test_bundle_verification_without_predictions_loads_no_predictor_or_backend(ort_bundle):
    loaded = _modules_loaded_by(f"from edgetext.bundle import Bundle\nBundle.open({str(ort_bundle)!r}).verify()")
    assert "edgetext.bundle" in loaded
    assert not loaded & {"edgetext.predictor", "edgetext.verify", "edgetext.backends.registry", "onnxruntime"}
