"""The import directions of docs/architecture.md, section 2, checked in fresh interpreters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest


def _loaded_after(import_line: str, modules: list[str]) -> list[str]:
    code = f"import sys\n{import_line}\nprint(','.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return [m for m in out.stdout.strip().split(",") if m]


def test_protocol_loads_no_simulation_or_io_stack() -> None:
    heavy = ["simpy", "numpy", "pandas", "asyncio", "networkx", "pydantic"]
    assert _loaded_after("import smtpsim.protocol", heavy) == []


def test_protocol_is_pure_standard_library() -> None:
    # Every module smtpsim.protocol pulls in is stdlib or smtpsim.protocol itself (with, in
    # the compiled build, smtpsim__mypyc: the compiled code's shared library, setup.py).
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import smtpsim.protocol\n"
        "new = set(sys.modules) - before\n"
        "stdlib = sys.stdlib_module_names\n"
        "bad = sorted(m for m in new if m.split('.')[0] not in stdlib\n"
        "             and not m.startswith('smtpsim.protocol')\n"
        "             and m not in ('smtpsim', 'smtpsim.compiled', 'smtpsim__mypyc'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_metrics_loads_nothing_of_smtp() -> None:
    # metrics imports sim only: the tables, the summary and the maillog read the trace.
    modules = ["smtpsim.mail", "smtpsim.protocol", "smtpsim.mta", "smtpsim.net"]
    line = "import smtpsim.metrics.maillog, smtpsim.metrics.summary, smtpsim.metrics.tables"
    assert _loaded_after(line, modules) == []


def test_postfix_log_reader_loads_nothing_of_the_simulation() -> None:
    # users read their own logs with it: the standard library and pandas only
    modules = ["simpy", "smtpsim.sim", "smtpsim.mta", "smtpsim.scenario", "smtpsim.metrics"]
    assert _loaded_after("import smtpsim.logs.postfix_log", modules) == []


def test_fitter_loads_nothing_of_the_simulation() -> None:
    # the fitter reads logs and writes YAML: the engine and the scenario models are the
    # run's business (the command validates what it wrote, separately)
    modules = ["simpy", "smtpsim.sim", "smtpsim.mta", "smtpsim.scenario", "smtpsim.metrics"]
    assert _loaded_after("import smtpsim.fit, smtpsim.fit.report", modules) == []


@pytest.mark.parametrize("package", ["smtpsim.mail"])
def test_mail_loads_no_simulation_stack(package: str) -> None:
    assert _loaded_after(f"import {package}", ["simpy", "numpy", "pandas", "asyncio"]) == []


def test_code_cites_only_what_a_clone_has() -> None:
    """Comments and docstrings cite docs/architecture.md, RFC sections or Postfix's
    documentation and sources, never the team's notes outside the repository."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    outside = re.compile(
        r"ARCHITECTURE|fact sheet|facts (?:section )?\d|smtp-facts|"
        r"workload-and-validation|\.\./shared/(?:design|reference)"
    )
    found = [
        f"{path.relative_to(root)}:{n}"
        for folder in ("smtpsim", "tests", "docs", "scenarios")
        for path in sorted((root / folder).rglob("*"))
        if path.suffix in (".py", ".md", ".yaml") and path.name != "test_architecture.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert found == []


# --- the import graph, read from the source with ast -------------------------------------

_ROOT = Path(__file__).resolve().parents[1]
_PACKAGE = _ROOT / "smtpsim"


def _module_name(path: Path) -> str:
    parts = path.relative_to(_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(path: Path) -> set[str]:
    """The smtpsim modules ``path`` imports at module level (not inside functions or
    classes, not under ``if TYPE_CHECKING``), resolved to module names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("smtpsim"))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("smtpsim"):
                    continue
                for alias in node.names:  # "from . import units" imports a module
                    sub = f"{target}.{alias.name}"
                    found.add(sub if _is_module(sub) else target)
            elif isinstance(node, ast.If):
                test = node.test
                if not (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(tree.body)
    found.discard(name)
    return found


def _is_module(name: str) -> bool:
    rel = _ROOT.joinpath(*name.split("."))
    return rel.with_suffix(".py").exists() or (rel / "__init__.py").exists()


def _import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                connect(w)
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
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return cycles


def _graph() -> dict[str, set[str]]:
    """Module -> the smtpsim modules it imports at module level."""
    return {
        _module_name(path): _module_level_imports(path) for path in sorted(_PACKAGE.rglob("*.py"))
    }


def test_import_cycle_finder_finds_a_circle() -> None:
    assert _import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _import_cycles({"a": {"b"}, "b": set()}) == []


def test_modules_of_smtpsim_import_one_way() -> None:
    """No circle in the module-level imports of smtpsim (docs/architecture.md, section 2):
    each module can be read knowing only the modules below it."""
    graph = _graph()
    assert len(graph) > 50  # the walk found the package
    assert _import_cycles(graph) == []


def test_scenario_modules_are_small_and_import_at_the_top() -> None:
    """smtpsim/scenario: no module over 400 lines, imports only at the top of a module
    (no ``noqa: E402`` import after code, no import inside a function)."""
    problems = []
    for path in sorted((_PACKAGE / "scenario").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(_ROOT)
        lines = text.count("\n")
        if lines > 400:
            problems.append(f"{where}: {lines} lines")
        if "E402" in text:
            problems.append(f"{where}: noqa E402")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        problems.append(f"{where}:{inner.lineno}: import inside {node.name}()")
    assert problems == []
