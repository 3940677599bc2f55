"""The output stage writes the same bytes as before it was made fast (issue 10,
route 4): the tables read back from Parquet, ``summary.json`` and the ``maillog`` of
two runs have the digests the old code gave (``output_digests.py`` says how they are
made and when to regenerate them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from output_digests import GOLDEN, output_digests

from smtpsim.metrics.result import RunResult


@pytest.mark.parametrize("run", ["quickstart", "outage"])
def test_a_run_writes_what_the_old_output_stage_wrote(
    run: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    result: RunResult = request.getfixturevalue(run)
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))[run]
    found = output_digests(result, tmp_path / run)
    assert sorted(found) == sorted(expected)
    differ = [name for name in expected if found[name] != expected[name]]
    assert differ == []
