"""The import directions of ARCHITECTURE.md section 2, checked in fresh interpreters."""

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
