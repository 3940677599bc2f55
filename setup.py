"""Compile the hot modules with mypyc, or build the pure-Python package.

Everything else about the package is in pyproject.toml; ``build_backend.py`` says
when the build compiles (``SMTPSIM_PURE``, the C toolchain, editable or not). The
compiled wheel holds the ``.py`` sources too: an extension module is imported in
place of the source beside it.

The list of compiled modules, and those left out with the reason, is
``smtpsim/compiled.py``, which also tells at run time which build is installed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

sys.path.insert(0, str(Path(__file__).parent))  # build_backend.py, also under `python setup.py`
from build_backend import AUTO, COMPILED, PURE, build_mode
from smtpsim.compiled import hot_modules  # standard library only

# mypy's settings for the compile, not pyproject's [tool.mypy]: its strict checks need the
# dependencies' types, which an isolated build (pip install .) does not install.
MYPY_FLAGS = ("--config-file=", "--ignore-missing-imports", "--follow-imports=silent")

# The commands that build code; the others (egg_info, dist_info, sdist) only need metadata.
BUILD_COMMANDS = {"bdist_wheel", "build", "build_ext", "editable_wheel", "develop", "install"}


class BuildExtOrFallBack(build_ext):
    """In ``auto`` mode a failed compile leaves the pure package, with a warning."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # a compiler error is a distutils error, or OSError
            for output in self.get_outputs():  # no half-compiled package in the wheel
                Path(output).unlink(missing_ok=True)
            shutil.rmtree(self.build_temp, ignore_errors=True)
            print(f"smtpsim: compiling failed ({error}); building pure Python", file=sys.stderr)


def extensions() -> tuple[list[object], dict[str, type]]:
    if not BUILD_COMMANDS & set(sys.argv[1:]):
        return [], {}
    mode = build_mode(editable="editable_wheel" in sys.argv or "develop" in sys.argv)
    if mode == PURE:
        return [], {}
    try:
        from mypyc.build import mypycify

        sources = [f"smtpsim/{name}" for name in hot_modules()]
        # group_name: the shared library of the compiled code is `smtpsim__mypyc`, a stable name
        compiled = mypycify([*MYPY_FLAGS, *sources], opt_level="3", group_name="smtpsim")
    except (Exception, SystemExit) as error:  # no mypy (a build without isolation), type errors
        if mode == COMPILED:
            raise
        print(f"smtpsim: not compiling ({error}); building pure Python", file=sys.stderr)
        return [], {}
    return compiled, ({"build_ext": BuildExtOrFallBack} if mode == AUTO else {})


ext_modules, cmdclass = extensions()
setup(ext_modules=ext_modules, cmdclass=cmdclass)
