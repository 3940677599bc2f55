"""What an experiment keeps of each run: ``RunTables``, the run's result tables cut to
the summary's population and aggregated, small enough to keep for every replication
and from which every metric (built-in, split by flow, domain or host, or your own) is
computed, now or later without running again.

The full result tables of a run (``RunResult``) weigh megabytes and are not kept by
``compare`` and ``sweep``. These tables keep what the metrics need:

``recipients``
    one row per recipient of the summary's population (messages submitted at or after
    the warm-up, bounce notices left out): ``msg_id``, ``flow`` (the message's traffic
    flow), ``domain``, ``status``, ``t_submit``, ``delay_s`` (NaN unless final),
    ``attempts`` (SMTP attempts, all hops) and ``retries`` (deferred attempts, all
    hops); in runs whose mailbox hosts have an access service, ``fetch_wait_s`` (from
    delivery to the user's mail client fetching it; NaN if not fetched by the end).
``attempts``
    the attempts of those recipients counted by ``flow``, ``domain`` (of the
    recipient), ``host`` (the client), ``peer`` (the server) and ``outcome``: ``n``.
``passages``
    which hosts each recipient went through: ``row`` (its position in
    ``recipients``) and ``host``, once per host that made an attempt for it or
    received one.
``queues``
    per host (``host``; ``""`` for the sum over all hosts), the time-weighted
    ``mean`` and the ``peak`` of its active + deferred queue over [warm-up, end of
    the traffic].
``facts``
    ``scenario``, ``seed``, ``warmup_s``, ``until_s`` (end of the traffic),
    ``end_s`` (end of the run: later when drained), ``drain``, ``drained_at_s``,
    ``attempts_recorded``.

A store writes them as Parquet files beside the run's record (``OUT/runs/KEY.tables/``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from ..metrics.result import RunResult

__all__ = ["Facts", "RunTables", "level_at", "queue_total", "run_tables", "time_average"]


class Facts(TypedDict, total=False):
    """A run's ``facts`` (see the module's docstring); a record read back may lack some."""

    scenario: str | None
    seed: int | None
    warmup_s: float
    until_s: float
    end_s: float
    drain: bool
    drained_at_s: float | None
    attempts_recorded: bool


_QUEUES = ("active", "deferred")
_FRAMES = ("recipients", "attempts", "passages", "queues")


@dataclass(frozen=True, eq=False)
class RunTables:
    """A run's tables for the metrics (see the module's docstring)."""

    recipients: pd.DataFrame
    attempts: pd.DataFrame
    passages: pd.DataFrame
    queues: pd.DataFrame
    facts: Facts = field(default_factory=Facts)

    @property
    def attempts_recorded(self) -> bool:
        return bool(self.facts.get("attempts_recorded", True))

    def write(self, directory: str | Path) -> Path:
        """The tables as ``NAME.parquet`` and ``facts.json`` in ``directory``, written
        to a temporary directory beside it and then renamed into place."""
        target = Path(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            for name in _FRAMES:
                getattr(self, name).to_parquet(temp / f"{name}.parquet", index=False)
            (temp / "facts.json").write_text(
                json.dumps(self.facts, default=float) + "\n", encoding="utf-8"
            )
            if target.exists():
                shutil.rmtree(target)
            os.replace(temp, target)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return target

    @classmethod
    def read(cls, directory: str | Path) -> RunTables:
        path = Path(directory)
        frames = {name: pd.read_parquet(path / f"{name}.parquet") for name in _FRAMES}
        facts = json.loads((path / "facts.json").read_text(encoding="utf-8"))
        return cls(facts=facts, **frames)


def run_tables(result: RunResult) -> RunTables:
    """The ``RunTables`` of a run."""
    meta = result.meta
    warmup = float(meta.get("warmup_s", 0.0))
    until = float(meta.get("until_s", meta.get("sim_time_s", 0.0)))
    messages, recipients, attempts = result.messages, result.recipients, result.attempts
    origin = messages["origin"].astype(str).to_numpy()
    counted = (origin != "bounce") & (messages["t_submit"].to_numpy() >= warmup)
    msg_ids = recipients["msg_id"].to_numpy()
    keep = counted[msg_ids] if len(msg_ids) else np.array([], dtype=bool)
    rcpts = recipients[keep].reset_index(drop=True)
    ids = rcpts["msg_id"].to_numpy()
    att = attempts[counted[attempts["msg_id"].to_numpy()]] if len(attempts) else attempts
    # each attempt's recipient row, by (msg_id, rcpt)
    index = pd.MultiIndex.from_arrays([ids, rcpts["rcpt"].to_numpy()])
    rows = (
        index.get_indexer(
            pd.MultiIndex.from_arrays([att["msg_id"].to_numpy(), att["rcpt"].to_numpy()])
        )
        if len(att)
        else np.array([], dtype=np.int64)
    )
    deferred = (
        (att["outcome"].astype(str) == "deferred").to_numpy()
        if len(att)
        else np.array([], dtype=bool)
    )
    retries = np.bincount(rows[deferred & (rows >= 0)], minlength=len(rcpts)).astype("int32")
    table = pd.DataFrame(
        {
            "msg_id": ids,
            "flow": pd.Categorical(origin[ids] if len(ids) else []),
            "domain": rcpts["domain"],
            "status": rcpts["status"],
            "t_submit": messages["t_submit"].to_numpy()[ids] if len(ids) else np.array([], float),
            "delay_s": rcpts["delay_s"].to_numpy(dtype=float),
            "attempts": rcpts["attempts"].to_numpy(dtype="int32"),
            "retries": retries,
        }
    )
    if "t_fetched" in rcpts.columns:  # an access service: delivered to fetched, NaN if not
        table["fetch_wait_s"] = (rcpts["t_fetched"] - rcpts["t_final"]).to_numpy(dtype=float)
    domain_of = (
        att["rcpt"].astype(str).str.rpartition("@")[2] if len(att) else pd.Series([], dtype=object)
    )
    counts = pd.DataFrame(
        {
            "flow": origin[att["msg_id"].to_numpy()] if len(att) else np.array([], dtype=object),
            "domain": domain_of.to_numpy(dtype=object),
            "host": att["host"].astype(str).to_numpy(dtype=object) if len(att) else [],
            "peer": att["peer"].astype(str).to_numpy(dtype=object) if len(att) else [],
            "outcome": att["outcome"].astype(str).to_numpy(dtype=object) if len(att) else [],
        }
    )
    grouped = (
        (counts.groupby(list(counts.columns), observed=True).size().rename("n").reset_index())
        if len(counts)
        else counts.assign(n=pd.Series([], dtype="int64"))
    )
    for column in ("flow", "domain", "host", "peer", "outcome"):
        grouped[column] = pd.Categorical(grouped[column].astype(str))
    grouped["n"] = grouped["n"].astype("int64")
    ok = rows >= 0
    passages = (
        pd.DataFrame(
            {
                "row": np.concatenate([rows[ok], rows[ok]]).astype("int64"),
                "host": np.concatenate(
                    [
                        att["host"].astype(str).to_numpy(dtype=object)[ok],
                        att["peer"].astype(str).to_numpy(dtype=object)[ok],
                    ]
                )
                if len(att)
                else np.array([], dtype=object),
            }
        )
        .drop_duplicates()
        .sort_values(["row", "host"], kind="stable")
        .reset_index(drop=True)
    )
    passages["host"] = pd.Categorical(passages["host"].astype(str))
    attempts_total = int(rcpts["attempts"].sum()) if len(rcpts) else 0
    facts: Facts = {
        "scenario": meta.get("scenario"),
        "seed": meta.get("seed"),
        "warmup_s": warmup,
        "until_s": until,
        "end_s": float(meta.get("sim_time_s", until)),
        "drain": bool(meta.get("drain", False)),
        "drained_at_s": meta.get("drained_at_s"),
        "attempts_recorded": bool(len(attempts) or attempts_total == 0),
    }
    return RunTables(table, grouped, passages, _queue_table(result.levels, warmup, until), facts)


def _queue_table(levels: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    """``host`` (``""``: all hosts), ``mean`` and ``peak`` of active + deferred."""
    hosts: list[str] = [""]
    means, peaks = [], []
    mean, peak = time_average(*queue_total(levels), start, end)
    means.append(mean)
    peaks.append(peak)
    if len(levels):
        for host, rows in levels.groupby(levels["host"].astype(str), observed=True):
            mean, peak = time_average(*queue_total(rows), start, end)
            hosts.append(str(host))
            means.append(mean)
            peaks.append(peak)
    return pd.DataFrame({"host": hosts, "mean": means, "peak": peaks})


def queue_total(levels: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The total of every host's ``active`` and ``deferred`` queue as a step function.

    Returns ``(times, totals)``: increasing change times and the total from each of them
    until the next (0 before the first). Each row of ``levels`` is the new value of one
    host's queue, so the total moves by the difference from that queue's previous value.
    """
    rows = levels[levels["metric"].astype(str).isin(_QUEUES)]
    if rows.empty:
        return np.array([], dtype=float), np.array([], dtype=float)
    rows = rows.sort_values("t", kind="stable")
    series = [rows["host"].astype(str), rows["metric"].astype(str)]
    value = rows["value"].astype("float64")
    previous = value.groupby(series).shift(1).fillna(0.0)
    totals = (value - previous).cumsum().to_numpy()
    times = rows["t"].to_numpy(dtype=float)
    last = np.append(times[1:] != times[:-1], True)  # the last change at each instant
    return times[last], totals[last]


def level_at(times: np.ndarray, totals: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The step function ``(times, totals)`` at the times ``at`` (0 before the first)."""
    index = np.searchsorted(times, at, side="right") - 1
    return (
        np.where(index >= 0, totals[np.maximum(index, 0)], 0.0) if len(times) else np.zeros(len(at))
    )


def time_average(
    times: np.ndarray, totals: np.ndarray, start: float, end: float
) -> tuple[float, float]:
    """Time-weighted mean and max of a step function over [start, end]; (0, 0) for an
    empty one, NaN when the window is empty."""
    if not len(times):
        return 0.0, 0.0
    if end <= start:
        return math.nan, math.nan
    inside = (times > start) & (times <= end)
    values = np.concatenate([level_at(times, totals, np.array([start])), totals[inside]])
    edges = np.concatenate([[start], times[inside], [end]])
    mean = float(np.sum(values * np.diff(edges)) / (end - start))
    return mean, float(values.max())
