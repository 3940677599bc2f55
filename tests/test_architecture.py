"""The import directions of docs/architecture.md, section 2, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded_after(import_line: str, modules: list[str]) -> list[str]:
    code = (
        f"import sys\n{import_line}\n"
        f"print(','.join(m for m in {modules!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return [m for m in out.stdout.strip().split(",") if m]


def test_protocol_loads_no_simulation_or_io_stack() -> None:
    heavy = ["simpy", "numpy", "pandas", "asyncio", "networkx", "pydantic"]
    assert _loaded_after("import smtpsim.protocol", heavy) == []


def test_protocol_is_pure_standard_library() -> None:
    # Every module smtpsim.protocol pulls in is stdlib or smtpsim.protocol itself.
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import smtpsim.protocol\n"
        "new = set(sys.modules) - before\n"
        "stdlib = sys.stdlib_module_names\n"
        "bad = sorted(m for m in new if m.split('.')[0] not in stdlib\n"
        "             and not m.startswith('smtpsim.protocol') and m != 'smtpsim')\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("package", ["smtpsim.mail"])
def test_mail_loads_no_simulation_stack(package: str) -> None:
    assert _loaded_after(f"import {package}", ["simpy", "numpy", "pandas", "asyncio"]) == []


def test_code_cites_only_what_a_clone_has() -> None:
    """Comments and docstrings cite docs/architecture.md, RFC sections or Postfix's
    documentation and sources, never the team's notes outside the repository."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    outside = re.compile(r"ARCHITECTURE|fact sheet|facts (?:section )?\d|smtp-facts|"
                         r"workload-and-validation|\.\./shared/(?:design|reference)")
    found = [f"{path.relative_to(root)}:{n}"
             for folder in ("smtpsim", "tests", "docs", "scenarios")
             for path in sorted((root / folder).rglob("*"))
             if path.suffix in (".py", ".md", ".yaml") and path.name != "test_architecture.py"
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if outside.search(line)]
    assert found == []
