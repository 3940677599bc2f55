"""Pieces of the engine's behaviour tests: running tiny scenarios (``model_runs``,
with incidents such as hosts down or links cut scripted by ``at_times``) and reading
their tables."""

from __future__ import annotations

import pandas as pd
from model_runs import at_times, run_model

from smtpsim.metrics.result import RunResult

__all__ = ["at_times", "attempts_from", "run_model", "strings"]


def attempts_from(result: RunResult, host: str) -> pd.DataFrame:
    attempts = result.attempts
    rows = attempts[attempts["host"].astype(str) == host]
    return rows.sort_values(["t_start", "msg_id"], kind="stable").reset_index(drop=True)


def strings(series: pd.Series) -> list[str]:
    return [str(v) for v in series]
