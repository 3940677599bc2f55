"""The compiled build (mypyc, issue 10 route 2) against the pure one: smtpsim says which
build it runs, ``SMTPSIM_PURE=1`` makes a compiled installation run the sources, and both
give identical tables for shipped scenarios.

CI runs the suite once on each build and says which in ``SMTPSIM_EXPECT_BUILD``
(``compiled`` or ``pure``): a compiled pass that fell back to pure Python fails here.
In a pure installation the comparison runs the sources twice; it bites in the compiled
pass, where the in-process run is compiled and the subprocess is not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pandas as pd
import pytest

import smtpsim
from smtpsim import compiled
from smtpsim.simulation import simulate

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("messages", "recipients", "attempts", "levels")
TIMEOUT = 600

# Two hot modules (smtpsim.compiled.hot_modules), one of protocol and one of mta.
_WHERE = """
import json, smtpsim.mta.session, smtpsim.protocol.states, smtpsim.compiled
print(json.dumps({"files": [smtpsim.protocol.states.__file__, smtpsim.mta.session.__file__],
                  "build": smtpsim.compiled.build()}))
"""


def where(pure: bool) -> dict[str, object]:
    """Where a fresh interpreter imports two hot modules from, and the build it reports."""
    env = {k: v for k, v in os.environ.items() if k != "SMTPSIM_PURE"}
    if pure:
        env["SMTPSIM_PURE"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _WHERE], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout)


def is_extension(path: str) -> bool:
    return any(path.endswith(suffix) for suffix in EXTENSION_SUFFIXES)


def test_version_names_the_build_that_python_imports() -> None:
    loaded = where(pure=False)
    extension = [is_extension(f) for f in loaded["files"]]
    assert len(set(extension)) == 1, loaded  # both compiled, or neither
    expected = compiled.COMPILED if extension[0] else compiled.PURE
    assert loaded["build"] == expected
    version = subprocess.run(
        [sys.executable, "-m", "smtpsim", "--version"],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "SMTPSIM_PURE"},
    )
    assert version.stdout.strip() == f"smtpsim {smtpsim.__version__}, {expected}"
    wanted = os.environ.get("SMTPSIM_EXPECT_BUILD")
    if wanted:  # CI: the build this pass was meant to test
        assert {"compiled": compiled.COMPILED, "pure": compiled.PURE}[wanted] == expected


def test_smtpsim_pure_imports_the_sources_even_when_compiled() -> None:
    loaded = where(pure=True)
    assert not any(is_extension(f) for f in loaded["files"]), loaded
    assert all(str(f).endswith(".py") for f in loaded["files"]), loaded
    assert str(loaded["build"]).startswith(compiled.PURE)


def test_every_hot_module_is_compiled_or_none_is() -> None:
    assert {"protocol/states.py", "mta/session.py"} <= set(compiled.hot_modules())
    found = compiled.compiled_modules()
    assert found in ([], compiled.hot_modules())
    # what is left out is left out by name, with a reason, and is a real module
    for name, reason in compiled.LEFT_OUT.items():
        assert (ROOT / "smtpsim" / name).is_file() and reason
        assert name not in compiled.hot_modules()


_RUN_PURE = """
import pickle, sys, smtpsim
from smtpsim.simulation import simulate
path, until, out, *overrides = sys.argv[1:]
result = simulate(smtpsim.load_scenario(path, overrides=overrides), until=float(until))
with open(out, "wb") as f:
    pickle.dump({name: getattr(result, name) for name in TABLES}, f)
""".replace("TABLES", repr(TABLES))

# A few shipped scenarios: policies (greylisting, DNSBL, rate limits), incidents,
# connection caching; quickstart with the session memo off, so that every session
# runs the (compiled) protocol machines.
CASES = [
    ("quickstart", ["simulation.session_memo=off"], 3600.0),
    ("blacklisting-incident", [], 2 * 3600.0),
    ("greylisting", [], 2 * 3600.0),
    ("mx-outage", [], 2.5 * 3600.0),
]


@pytest.mark.parametrize(("name", "overrides", "until"), CASES, ids=[c[0] for c in CASES])
def test_compiled_and_pure_give_identical_tables(
    name: str, overrides: list[str], until: float, tmp_path: Path
) -> None:
    path = ROOT / "scenarios" / f"{name}.yaml"
    here = simulate(smtpsim.load_scenario(path, overrides=overrides), until=until)
    out = tmp_path / "pure.pickle"
    env = {**os.environ, "SMTPSIM_PURE": "1"}
    subprocess.run(
        [sys.executable, "-c", _RUN_PURE, str(path), str(until), str(out), *overrides],
        env=env,
        check=True,
        timeout=TIMEOUT,
    )
    pure = pd.read_pickle(out)
    assert len(here.recipients) > 0
    for table in TABLES:
        pd.testing.assert_frame_equal(
            getattr(here, table), pure[table], check_exact=True, obj=table
        )
