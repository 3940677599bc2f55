"""Shared by the oracle tests: where the real-log fixtures are, and the rule for a
missing Postfix (skipped, except under CI=true, where ``.ci/run`` installs it and the
tests fail without it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smtpsim.oracle.postfix_instance import postfix_missing

DATA = Path(__file__).parent / "data"


def require_postfix() -> None:
    missing = postfix_missing()
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing}; under CI=true .ci/run installs it")
    pytest.skip(missing)
