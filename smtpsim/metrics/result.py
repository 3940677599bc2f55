"""``RunResult``: the tables and facts of one run, and the files they go to."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .maillog import DEFAULT_START, write_maillog
from .memory import release_freed_memory
from .recorder import ColumnarRecorder
from .run_dir import (
    PARQUET_KEY,
    TABLES,
    RunInfo,
    Stage,
    check_run_dir,
    checkpoint,
    new_run_id,
)
from .summary import Summary, outcome_table, summarize
from .tables import attempts_table, levels_table, messages_table, recipients_table
from .tls_report import tls_report_table, tls_summary

__all__ = ["TABLES", "RunResult"]


@dataclass
class RunResult:
    """The four result tables (see ``docs/results.md``) and the run's ``meta``; for a
    run that models TLS between servers, the TLS report too (``tls_report``)."""

    messages: pd.DataFrame
    recipients: pd.DataFrame
    attempts: pd.DataFrame
    levels: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    # which run directory the tables were read from, as checked (``read``); else None
    source: RunInfo | None = field(default=None, repr=False, compare=False)
    # the TLS report (smtpsim.metrics.tls_report); None for runs that model no TLS
    tls_report: pd.DataFrame | None = None

    @classmethod
    def from_recorder(cls, recorder: ColumnarRecorder, meta: dict[str, Any]) -> RunResult:
        return cls(
            messages_table(recorder),
            recipients_table(recorder),
            attempts_table(recorder),
            levels_table(recorder),
            meta,
            tls_report=tls_report_table(recorder) if recorder.tls else None,
        )

    def summary(self) -> Summary:
        """Delivered, bounced, expired, lost, pending and their shares; delay
        percentiles; deferral rate; attempts and retries per recipient; peak queues;
        outcomes by domain and by flow; how the run ended; warnings (after the
        warm-up; ``smtpsim.metrics.summary``)."""
        summary = summarize(
            self.messages,
            self.recipients,
            self.attempts,
            self.levels,
            warmup=float(self.meta.get("warmup_s", 0.0)),
            meta=self.meta,
        )
        if self.tls_report is not None:
            summary["tls"] = tls_summary(self.tls_report)
        return summary

    def outcomes_by(self, key: str) -> pd.DataFrame:
        """The summary's ``by_domain`` (``key="domain"``) or ``by_flow`` (``"flow"``) as
        a table: one row per domain or flow, ``submitted``, a count per status and
        each status's share, over the summary's recipients."""
        if key not in ("domain", "flow"):
            raise ValueError(f"outcomes are split by 'domain' or 'flow', got {key!r}")
        warmup = float(self.meta.get("warmup_s", 0.0))
        messages = self.messages
        counted = (
            (messages["origin"].astype(str) != "bounce") & (messages["t_submit"] >= warmup)
        ).to_numpy()
        rcpts = (
            self.recipients[counted[self.recipients["msg_id"].to_numpy()]]
            if len(self.recipients)
            else self.recipients
        )
        keys = (
            rcpts["domain"].astype(str)
            if key == "domain"
            else pd.Series(
                messages["origin"].astype(str).to_numpy()[rcpts["msg_id"].to_numpy()], dtype=object
            )
        )
        return outcome_table(rcpts["status"].astype(str), keys, key)

    def table(self, name: str) -> pd.DataFrame:
        if name == "tls_report" and self.tls_report is not None:
            return self.tls_report
        if name not in TABLES:
            raise KeyError(f"no table {name!r}; tables are {', '.join(TABLES)}")
        frame: pd.DataFrame = getattr(self, name)
        return frame

    @property
    def has_attempts(self) -> bool:
        """Whether the attempts table was recorded (``simulation.record_attempts``)."""
        return not (
            self.attempts.empty
            and len(self.recipients)
            and int(self.recipients["attempts"].sum()) > 0
        )

    def write_maillog(self, path: str | Path, *, start: str = DEFAULT_START) -> Path:
        """The run as a Postfix maillog that pflogsumm reads (``docs/results.md``,
        "maillog"); ``start`` is the wall-clock time of simulated time 0."""
        return write_maillog(self, path, start=start)

    def write(
        self,
        out: str | Path,
        *,
        fmt: str = "parquet",
        maillog: bool = True,
        maillog_start: str = DEFAULT_START,
        replace: bool = False,
    ) -> Path:
        """Write the tables (Parquet, or CSV), ``summary.json``, ``meta.json`` and,
        unless ``maillog`` is false or the attempts were not recorded, ``maillog``, to
        the directory ``out``, whole or not at all (``smtpsim.metrics.run_dir``): a
        non-empty ``out`` is refused unless ``replace``, and is only ever replaced
        when it holds an earlier run."""
        with Stage(out, replace=replace, run_id=self.meta.get("run_id")) as stage:
            self.write_files(stage.path, fmt=fmt, maillog=maillog, maillog_start=maillog_start)
            stage.commit(self.meta)
        return Path(out)

    def write_files(
        self,
        directory: Path,
        *,
        fmt: str = "parquet",
        maillog: bool = True,
        maillog_start: str = DEFAULT_START,
        step: Callable[[str], None] | None = None,
        summary: Summary | None = None,
        tables: bool = True,
    ) -> list[Path]:
        """The files of ``write``, into ``directory`` as they are (not atomic: a
        ``Stage``'s directory is the place); ``step(name)`` is called before each
        part; ``summary`` is ``self.summary()`` when the caller has it already.
        ``meta['run_id']`` is set if missing, and written into ``meta.json`` and
        every Parquet file. ``tables=False`` leaves out the tables, for a caller that
        writes them elsewhere at the same time (``write_tables``: ``smtpsim run``'s
        figure worker)."""
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"format must be 'parquet' or 'csv', got {fmt!r}")
        self.meta.setdefault("run_id", new_run_id())
        written = self.write_tables(directory, fmt=fmt, step=step) if tables else []
        if step is not None:
            step("summary")
        written.append(directory / "summary.json")
        summary = self.summary() if summary is None else summary
        written[-1].write_text(json.dumps(summary, indent=2) + "\n")
        written.append(directory / "meta.json")
        written[-1].write_text(json.dumps(self.meta, indent=2, default=str) + "\n")
        if maillog and self.has_attempts:
            if step is not None:
                step("maillog")
            release_freed_memory()  # the tables' and the summary's buffers: before the peak
            written.append(self.write_maillog(directory / "maillog", start=maillog_start))
            checkpoint("maillog")
        return written

    @property
    def table_names(self) -> tuple[str, ...]:
        """The tables of this run: ``TABLES``, and ``tls_report`` when there is one."""
        return TABLES if self.tls_report is None else (*TABLES, "tls_report")

    def write_tables(
        self, directory: Path, *, fmt: str = "parquet", step: Callable[[str], None] | None = None
    ) -> list[Path]:
        """Each of ``table_names`` into ``directory/NAME.FMT``, a part of
        ``write_files``; ``meta['run_id']`` is set if missing, and written into every
        Parquet file."""
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"format must be 'parquet' or 'csv', got {fmt!r}")
        run_id = self.meta.setdefault("run_id", new_run_id())
        written = []
        for name in self.table_names:
            if step is not None:
                step(f"{name} table")
            frame = self.table(name)
            path = directory / f"{name}.{fmt}"
            if fmt == "parquet":
                _write_parquet(frame, path, run_id)
            else:
                frame.to_csv(path, index=False)
            written.append(path)
            checkpoint("tables")
        return written

    @classmethod
    def read(cls, directory: str | Path) -> RunResult:
        """A result written by ``write`` (Parquet or CSV), after ``check_run_dir``
        (which raises ``RunDirError`` for a directory that is not one complete run;
        what it found is ``source``)."""
        path = Path(directory)
        source = check_run_dir(path)
        frames = {}
        for name in TABLES:
            parquet, csv = path / f"{name}.parquet", path / f"{name}.csv"
            frames[name] = pd.read_parquet(parquet) if parquet.exists() else pd.read_csv(csv)
        parquet, csv = path / "tls_report.parquet", path / "tls_report.csv"
        tls = (
            pd.read_parquet(parquet)
            if parquet.exists()
            else pd.read_csv(csv)
            if csv.exists()
            else None
        )
        meta = json.loads((path / "meta.json").read_text())
        return cls(meta=meta, source=source, tls_report=tls, **frames)

    def _repr_html_(self) -> str:
        s = self.summary()
        r = s["recipients"]
        rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in r.items())
        return (
            f"<b>smtpsim run</b> {self.meta.get('scenario', '')} (seed {self.meta.get('seed')})"
            f"<table><tr><th>recipients</th><th></th></tr>{rows}</table>"
        )


def _write_parquet(frame: pd.DataFrame, path: Path, run_id: str) -> None:
    """``frame`` as Parquet, with pandas' own metadata (categoricals come back) and
    the run's id under ``smtpsim.run_id``, which ``check_run_dir`` compares."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[PARQUET_KEY] = run_id.encode()
    pq.write_table(table.replace_schema_metadata(metadata), path)
