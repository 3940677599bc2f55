"""The build backend: setuptools, asking for mypy only when the build compiles.

``pip install .`` compiles the hot modules with mypyc (``setup.py`` lists them) when
the machine has a C compiler and Python's headers; the pure-Python package is the
fallback. mypy, which ships mypyc, is a build requirement of the compiled build only,
so this backend adds it to what setuptools asks for (PEP 517's
``get_requires_for_build_*`` hooks) instead of listing it in ``[build-system]``.

``SMTPSIM_PURE`` chooses the build:

- unset: a wheel (``pip install .``) is compiled if a C compiler and Python.h are
  found, and falls back to pure Python if compiling fails; an editable install
  (``pip install -e .``) is pure Python, so that edits to the sources take effect
  without rebuilding;
- ``1``: pure Python, always;
- ``0``: compiled, always (wheels and editable installs), and a failure to compile
  fails the install: CI uses it to test the compiled build.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401  # the hooks this backend does not change
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

MYPY_REQUIREMENT = "mypy>=2.4,<3"  # the mypyc this build is tested with (benchmarks/RESULTS.md)
PURE, COMPILED, AUTO = "pure", "compiled", "auto"


def build_mode(editable: bool) -> str:
    """``pure``, ``compiled`` (must succeed) or ``auto`` (compiled, else pure)."""
    choice = os.environ.get("SMTPSIM_PURE", "").strip()
    if choice == "1":
        return PURE
    if choice == "0":
        return COMPILED
    if choice:
        raise SystemExit(f"SMTPSIM_PURE must be 1 (pure Python) or 0 (compiled), not {choice!r}")
    if editable or not has_c_toolchain():
        return PURE
    return AUTO


def has_c_toolchain() -> bool:
    """A C compiler on PATH (the one Python was built with, or ``cc``) and Python.h."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    found = shutil.which(compiler) or shutil.which(os.environ.get("CC", "cc").split()[0])
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    return bool(found) and headers.is_file()


def _with_mypy(requires: list[str], editable: bool) -> list[str]:
    return [*requires, MYPY_REQUIREMENT] if build_mode(editable) != PURE else requires


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _with_mypy(_setuptools.get_requires_for_build_wheel(config_settings), editable=False)


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _with_mypy(_setuptools.get_requires_for_build_editable(config_settings), editable=True)
