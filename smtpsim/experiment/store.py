"""A directory of run records that lets a sweep resume: run only what is missing.

Each run is one JSON file, ``runs/<key>.json``, named by ``RunSpec.key()``, with its
``RunTables`` as Parquet files in ``runs/<key>.tables/`` (written first: a record whose
JSON is there has its tables, unless it failed or was stored by an older smtpsim),
so whether a run was done is a file lookup, and runs from different sweeps over the same scenario
share their results. A file is written to a temporary name in the same directory and
then renamed over its final name (``os.replace``, atomic on POSIX and Windows), so a
sweep killed at any moment leaves either the whole file or none: never half a record
that would be taken for a result.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from pathlib import Path

from .run_tables import RunTables
from .runner import RunRecord

__all__ = ["ResultStore"]

_KEY = re.compile(r"[0-9a-f]{64}")


class ResultStore:
    """Run records in ``directory/runs/<key>.json``; the directory is made if needed."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._runs = self.directory / "runs"
        self._runs.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"a run key is 64 lowercase hex digits, got {key!r}")
        return self._runs / f"{key}.json"

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(_KEY.fullmatch(key)) and self._path(key).exists()

    def get(self, key: str) -> RunRecord | None:
        """The record stored under ``key``, or None."""
        try:
            text = self._path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return self._with_tables(RunRecord.from_json(json.loads(text)), key)

    def _tables(self, key: str) -> Path:
        return self._runs / f"{key}.tables"

    def _with_tables(self, record: RunRecord, key: str) -> RunRecord:
        path = self._tables(key)
        if record.error is not None or not (path / "facts.json").exists():
            return record
        return dataclasses.replace(record, tables=RunTables.read(path))

    def put(self, record: RunRecord) -> None:
        """Store ``record`` under its spec's key (replacing any record there), atomically."""
        key = record.spec.key()
        path = self._path(key)
        if record.tables is not None:
            record.tables.write(self._tables(key))
        text = json.dumps(record.to_json(), allow_nan=False, indent=1) + "\n"
        fd, temp = tempfile.mkstemp(dir=self._runs, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def records(self) -> list[RunRecord]:
        """Every stored record, in the order of their keys."""
        records = []
        for path in sorted(self._runs.glob("*.json")):
            if _KEY.fullmatch(path.stem):
                record = RunRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
                records.append(self._with_tables(record, path.stem))
        return records
