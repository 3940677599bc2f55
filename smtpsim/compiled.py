"""Which modules mypyc compiles, and whether this installation runs them compiled.

``pip install .`` compiles the hot modules (``setup.py`` reads the list here) when the
machine has a C compiler; the pure-Python package is the fallback, and
``SMTPSIM_PURE=1`` forces it (README.md, "Install"). Both run the same code: the
compiled build is the same sources, translated to C by mypyc.

Python imports an extension module in place of the ``.py`` beside it, so a module is
compiled here when its extension file (``server.cpython-311-x86_64-linux-gnu.so``) is
found next to it; this is what ``smtpsim --version`` and ``smtpsim run -v`` report.

``SMTPSIM_PURE=1`` at run time makes a compiled installation import the sources
instead (``smtpsim/__init__.py`` calls :func:`use_sources`): the way to tell whether
a difference comes from mypyc without reinstalling, and how the tests and the
benchmark run both builds side by side.

Standard library only, and nothing is imported: ``--version`` stays instant.
"""

from __future__ import annotations

import os
import sys
from importlib.abc import PathEntryFinder
from importlib.machinery import (
    BYTECODE_SUFFIXES,
    EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES,
    FileFinder,
    SourceFileLoader,
    SourcelessFileLoader,
)
from pathlib import Path

__all__ = [
    "COMPILED",
    "LEFT_OUT",
    "PURE",
    "build",
    "compiled_modules",
    "forced_pure",
    "hot_modules",
    "use_sources",
]

HOT_PACKAGES = ("protocol", "mail", "mta", "sim", "net")
HOT_MODULES = ("metrics/recorder.py", "metrics/maillog.py")
LEFT_OUT = {
    # A native class cannot subclass simpy.Environment (an interpreted class), nor
    # RuntimeError (EventLimitError); step() is a thin wrapper around SimPy's anyway.
    "sim/environment.py": "subclasses simpy.Environment and RuntimeError",
    # The commands' ``verb`` is a class attribute (``Mail.verb = "MAIL"``) or a property
    # (``Hello``): mypyc makes an attribute assigned in a dataclass's body a field, and
    # Mail("a@b") fails ("'verb' is read-only"). Interpreted, they are the same values
    # the compiled machines read by name.
    "protocol/events.py": "class attributes in dataclasses (Command.verb)",
}

COMPILED = "compiled (mypyc)"
PURE = "pure Python"

_ROOT = Path(__file__).parent


def hot_modules() -> list[str]:
    """The files mypyc compiles, relative to the package (``protocol/server.py``)."""
    files = [p for package in HOT_PACKAGES for p in sorted((_ROOT / package).glob("*.py"))]
    files += [_ROOT / module for module in HOT_MODULES]
    names = [p.relative_to(_ROOT).as_posix() for p in files]
    return [name for name in names if name not in LEFT_OUT]


def compiled_modules() -> list[str]:
    """The hot modules that this interpreter imports from an extension module."""
    return [
        name
        for name in hot_modules()
        if any(
            (_ROOT / name).with_name(Path(name).stem + suffix).is_file()
            for suffix in EXTENSION_SUFFIXES
        )
    ]


def forced_pure() -> bool:
    """``SMTPSIM_PURE=1``: import the sources even where compiled modules are installed."""
    return os.environ.get("SMTPSIM_PURE", "").strip() == "1"


def build() -> str:
    """``compiled (mypyc)``, ``pure Python``, or which modules are compiled if only some
    are (an interrupted build: reinstall)."""
    compiled, hot = compiled_modules(), hot_modules()
    if not compiled:
        return PURE
    if forced_pure():
        return f"{PURE} (SMTPSIM_PURE=1; the compiled modules are installed)"
    if len(compiled) == len(hot):
        return COMPILED
    return f"partly compiled (mypyc): {len(compiled)} of {len(hot)} hot modules"


def use_sources() -> None:
    """Import smtpsim's modules from their ``.py`` files, ignoring extension modules.

    A path hook for the package's own directories, ahead of the standard one: a
    ``FileFinder`` that knows only the source and bytecode loaders. Other packages'
    directories (numpy's extensions) are left to the standard hook.
    """
    root = str(_ROOT)
    sources_only = FileFinder.path_hook(
        (SourceFileLoader, SOURCE_SUFFIXES), (SourcelessFileLoader, BYTECODE_SUFFIXES)
    )

    def hook(path: str) -> PathEntryFinder:
        if path != root and not path.startswith(root + os.sep):
            raise ImportError("not a directory of smtpsim")  # the next hook's
        return sources_only(path)

    sys.path_hooks.insert(0, hook)
    for path in list(sys.path_importer_cache):  # finders made before the hook
        if path == root or path.startswith(root + os.sep):
            del sys.path_importer_cache[path]
