"""A run's results directory: replaced whole or not at all, and checked before use.

Writing (``Stage``). The files of a run go into a hidden directory beside the target,
``.NAME.partial-PID-RUNID`` (in the same parent, so that the final rename stays on one
file system). Every file is flushed to disk, ``manifest.json`` is written last, and the
directory then takes the target's place: the two names are exchanged in one step
(Linux ``renameat2(RENAME_EXCHANGE)``) when the target holds an earlier run, or the
directory is renamed when there is none; the earlier run, now under the hidden name,
is then deleted. Whatever happens to the writer (Ctrl-C, SIGKILL, a full disk, a
power cut), the target holds the complete earlier run or the complete new one, never
a mix of the two; a killed writer leaves only its hidden directory, which the next run
into the same target deletes. Where the exchange is not available (not Linux, or a
file system without it), the earlier run is renamed aside first, which leaves a short
window without a target; ``check_run_dir`` then names where the earlier run is.

Reading (``check_run_dir``). The manifest lists the run's data files (tables,
``summary.json``, ``meta.json``, ``maillog``) with their sizes and SHA-256 digests,
and names the run (``run_id``, also in ``meta.json`` and in each Parquet file's
key-value metadata as ``smtpsim.run_id``). A directory whose files disagree with its
manifest, or with each other, is refused with the reason. A directory written before
manifests existed is accepted with a warning, unless its Parquet files name different
runs.

``SMTPSIM_TEST_PAUSE_AT=STAGE`` makes a writer stop for ``SMTPSIM_TEST_PAUSE_S``
seconds (default 30) at ``checkpoint(STAGE)``, after saying so on stderr: the tests
kill ``smtpsim run`` there (stages: ``simulating``, ``tables``, ``maillog``, ``plots``,
``report``, ``manifest``, ``swapped``).
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "DATA_FILES",
    "MANIFEST",
    "OPTIONAL_TABLES",
    "PARQUET_KEY",
    "OutNotEmptyError",
    "RunDirError",
    "RunInfo",
    "Stage",
    "check_run_dir",
    "checkpoint",
    "new_run_id",
    "parquet_run_id",
    "pid_alive",
]

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
# The run's record; figures, report.html and scenario.yaml are derived from it and
# may be redrawn later by `smtpsim plot` or `smtpsim report`, so they are not checked.
TABLES = ("messages", "recipients", "attempts", "levels")
# Tables only some runs have: the TLS report of runs that model TLS between servers.
OPTIONAL_TABLES = ("tls_report",)
DATA_FILES = (
    *(f"{name}.{ext}" for name in TABLES + OPTIONAL_TABLES for ext in ("parquet", "csv")),
    "summary.json",
    "meta.json",
    "maillog",
)
PARQUET_KEY = b"smtpsim.run_id"
_PARTIAL = ".partial-"
_ASIDE = ".old-"


class RunDirError(Exception):
    """A results directory that cannot be used (or written): the message says why."""


class OutNotEmptyError(RunDirError):
    """The target already holds files; ``info`` describes the run there, if any."""

    def __init__(self, message: str, info: RunInfo | None) -> None:
        super().__init__(message)
        self.info = info


@dataclass(frozen=True)
class RunInfo:
    """Which run a results directory holds."""

    path: Path
    run_id: str | None
    scenario: str | None
    seed: int | None
    written_at: str | None
    checked: bool  # the files agree with a manifest
    warning: str | None = None

    def describe(self) -> str:
        """``run 3f2ab1c09d4e (scenario mx-outage, seed 7, written 2026-12-04 02:51 UTC)``."""
        facts = [
            f"scenario {self.scenario}" if self.scenario else None,
            f"seed {self.seed}" if self.seed is not None else None,
            f"written {self.written_at}" if self.written_at else None,
        ]
        shown = ", ".join(fact for fact in facts if fact)
        name = f"run {self.run_id}" if self.run_id else "a run without id"
        return f"{name} ({shown})" if shown else name


def new_run_id() -> str:
    """A fresh run id: 12 hex digits from the OS's randomness (never the simulation's
    random streams, which it must not disturb)."""
    return uuid.uuid4().hex[:12]


def checkpoint(stage: str) -> None:
    """The test hook of the module docstring; nothing unless the variable names ``stage``."""
    if os.environ.get("SMTPSIM_TEST_PAUSE_AT") != stage:
        return
    print(f"smtpsim: test pause at {stage}", file=sys.stderr, flush=True)
    time.sleep(float(os.environ.get("SMTPSIM_TEST_PAUSE_S", "30")))


def parquet_run_id(path: Path) -> str | None:
    """The ``smtpsim.run_id`` in a Parquet file's key-value metadata, if any."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    value = metadata.get(PARQUET_KEY)
    return value.decode() if value is not None else None


# --- reading ------------------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunDirError(f"{path.parent}: cannot read {what} ({path.name}): {error}") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path.parent}: {path.name} is not a JSON object")
    return data


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def _info(
    path: Path,
    meta: Mapping[str, object],
    manifest: Mapping[str, object] | None,
    warning: str | None = None,
) -> RunInfo:
    seed = meta.get("seed")
    written = (manifest or {}).get("written_at")
    return RunInfo(
        path=path,
        run_id=_text(meta.get("run_id")),
        scenario=_text(meta.get("scenario")),
        seed=int(seed) if isinstance(seed, int) else None,
        written_at=str(written) if written else None,
        checked=manifest is not None,
        warning=warning,
    )


def _text(value: object) -> str | None:
    """A fact of meta.json as text (None when it is missing)."""
    return None if value is None else str(value)


def _missing_target(path: Path) -> RunDirError:
    aside = sorted(path.parent.glob(f".{path.name}{_ASIDE}*")) if path.parent.is_dir() else []
    if aside:
        return RunDirError(
            f"no results directory {str(path)!r}: a replacement was interrupted; "
            f"the earlier run is in {aside[-1]}"
        )
    return RunDirError(f"no results directory {str(path)!r}")


def check_run_dir(directory: str | Path, *, digests: bool = True) -> RunInfo:
    """Which run ``directory`` holds, after checking that its files are one complete
    run: those its manifest lists exist with their sizes and SHA-256 digests (about
    0.3 s for the 250 MB of an 8-hour run; sizes only unless ``digests``), and
    ``meta.json`` and the Parquet files name the manifest's run. Raises
    ``RunDirError`` saying what is wrong."""
    path = Path(directory)
    if not path.exists():
        raise _missing_target(path)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a directory")
    if _PARTIAL in path.name:
        raise RunDirError(f"{path} is the unfinished output of an interrupted run, not results")
    missing = [
        name
        for name in TABLES
        if not (path / f"{name}.parquet").exists() and not (path / f"{name}.csv").exists()
    ]
    if not (path / "meta.json").exists():
        missing.append("meta.json")
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        return _check_unmanifested(path, missing)
    manifest = _read_json(manifest_path, "its manifest")
    files = manifest.get("files")
    run_id = manifest.get("run_id")
    if not isinstance(files, dict) or not isinstance(run_id, str):
        raise RunDirError(f"{path}: {MANIFEST} is damaged (no files or run_id)")
    problems = []
    for name, facts in sorted(files.items()):
        file = path / name
        if not file.is_file():
            problems.append(f"{name} is missing")
        elif file.stat().st_size != facts.get("bytes"):
            problems.append(
                f"{name} has {file.stat().st_size:,} bytes, the manifest says "
                f"{facts.get('bytes'):,}"
            )
        elif digests and _digest(file) != facts.get("sha256"):
            problems.append(f"{name} is not the file the manifest lists (its digest differs)")
    if problems:
        raise RunDirError(
            f"{path} does not hold one complete run ({run_id}): " + "; ".join(problems)
        )
    if missing:
        raise RunDirError(
            f"{path}: no {', '.join(missing)} (not a results directory of 'smtpsim run')"
        )
    meta = _read_json(path / "meta.json", "the run's facts")
    if meta.get("run_id") != run_id:
        raise RunDirError(
            f"{path} mixes two runs: meta.json names {meta.get('run_id')}, the manifest {run_id}"
        )
    for name in TABLES:
        table = path / f"{name}.parquet"
        if table.exists() and f"{name}.parquet" in files:
            found = _table_run_id(table)
            if found != run_id:
                raise RunDirError(
                    f"{path} mixes two runs: {table.name} names {found}, the manifest {run_id}"
                )
    return _info(path, meta, manifest)


def _table_run_id(table: Path) -> str | None:
    try:
        return parquet_run_id(table)
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise RunDirError(f"{table.parent}: {table.name} is damaged: {error}") from None


def _check_unmanifested(path: Path, missing: list[str]) -> RunInfo:
    """A directory without a manifest: written before manifests existed (accepted,
    with a warning, when its files do not contradict each other), or the unfinished
    output of a run (its meta.json has a run id, which comes with a manifest)."""
    if missing:
        raise RunDirError(
            f"{path} is not a results directory of 'smtpsim run': no {', '.join(missing)}"
        )
    meta = _read_json(path / "meta.json", "the run's facts")
    if meta.get("run_id"):
        raise RunDirError(
            f"{path} is incomplete: no {MANIFEST}, which 'smtpsim run' writes "
            f"last (run {meta['run_id']} did not finish writing)"
        )
    ids = {
        name: _table_run_id(path / f"{name}.parquet")
        for name in TABLES
        if (path / f"{name}.parquet").exists()
    }
    if len(set(ids.values())) > 1:
        shown = ", ".join(f"{name} {run}" for name, run in ids.items())
        raise RunDirError(f"{path} mixes runs: {shown}")
    return _info(
        path,
        meta,
        None,
        warning=(
            f"{path} has no {MANIFEST} (written by an older smtpsim): its files could not be "
            "checked to come from one run"
        ),
    )


def describe_target(path: Path) -> RunInfo | None:
    """The run in ``path`` if it is a results directory whose files are all there
    (their digests are not read: a run about to be replaced need not be checked
    byte by byte), else None."""
    try:
        return check_run_dir(path, digests=False)
    except RunDirError:
        return None


# --- writing ------------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 probes without signalling; a process of
    another user exists too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(parent: Path, name: str) -> Iterator[Path]:
    """Hidden directories left by writers into ``name`` that were killed."""
    for candidate in parent.glob(f".{name}{_PARTIAL}*"):
        pid = candidate.name[len(name) + 1 + len(_PARTIAL) :].partition("-")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            yield candidate


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory: nothing more to do
        pass
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` in one step (Linux ``renameat2``); False where
    that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


class Stage:
    """Where a run's files are written before they replace ``target`` (module docstring).

    ``Stage(target, replace=...)`` checks the target at once (a run refuses before it
    simulates for an hour): a non-empty target is refused unless ``replace``, and a
    target that is not a results directory is never replaced. Write into ``path``,
    then ``commit(meta)``; ``abort()`` (also on leaving a ``with`` block by an
    exception) deletes what was written and leaves the target as it was."""

    def __init__(
        self, target: str | Path, *, replace: bool = False, run_id: str | None = None
    ) -> None:
        self.target = Path(target)
        self.run_id = run_id or new_run_id()  # the run's, when known; else the writer's
        self.previous = self._check_target(replace)
        parent = self.target.parent
        parent.mkdir(parents=True, exist_ok=True)
        for stale in _stale(parent, self.target.name):
            shutil.rmtree(stale, ignore_errors=True)
        self.path = parent / f".{self.target.name}{_PARTIAL}{os.getpid()}-{self.run_id}"
        self.path.mkdir()
        self.committed = False

    def _check_target(self, replace: bool) -> RunInfo | None:
        target = self.target
        if not target.exists():
            return None
        if not target.is_dir():
            raise RunDirError(f"{target} exists and is not a directory")
        if not any(target.iterdir()):
            return None
        info = describe_target(target)
        # a damaged run is still a run (a manifest, or meta.json beside a table); a
        # directory that merely holds a meta.json of its own is not, and is never deleted
        looks_like_run = (
            info is not None
            or (target / MANIFEST).exists()
            or (
                (target / "meta.json").exists()
                and any(
                    (target / f"{t}.{ext}").exists() for t in TABLES for ext in ("parquet", "csv")
                )
            )
        )
        if not looks_like_run:
            raise RunDirError(
                f"{target} is not empty and does not hold a smtpsim run: "
                "not replacing it (choose another place)"
            )
        if not replace:
            what = info.describe() if info is not None else "an earlier run"
            raise OutNotEmptyError(f"{target} already holds {what}", info)
        return info

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()

    def commit(self, meta: Mapping[str, object]) -> None:
        """Write the manifest, flush everything to disk and put the run in place."""
        files, derived = {}, []
        for file in sorted(p for p in self.path.rglob("*") if p.is_file()):
            name = file.relative_to(self.path).as_posix()
            if name in DATA_FILES:
                files[name] = {"bytes": file.stat().st_size, "sha256": _digest(file)}
            else:
                derived.append(name)
        versions = meta.get("versions")
        manifest = {
            "format": MANIFEST_FORMAT,
            "run_id": meta.get("run_id") or self.run_id,
            "scenario": meta.get("scenario"),
            "seed": meta.get("seed"),
            "written_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "smtpsim": versions.get("smtpsim") if isinstance(versions, dict) else None,
            "files": files,
            "derived": derived,
        }
        (self.path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _fsync_tree(self.path)
        checkpoint("manifest")
        blocked = _block_sigint()
        try:
            self._swap()
            self.committed = True
            checkpoint("swapped")
            shutil.rmtree(self.path, ignore_errors=True)  # now the earlier run, if any
        finally:
            _unblock(blocked)

    def _swap(self) -> None:
        target, parent = self.target, self.target.parent
        if not target.exists():
            os.rename(self.path, target)
        elif not _exchange(self.path, target):
            aside = parent / f".{target.name}{_ASIDE}{os.getpid()}-{self.run_id}"
            os.rename(target, aside)
            os.rename(self.path, target)
            os.rename(aside, self.path)
        _fsync_dir(parent)

    def abort(self) -> None:
        """Delete the staged files unless they were committed; the target is untouched."""
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)


def _block_sigint() -> bool:
    """Hold Ctrl-C while the names are swapped (delivered right after)."""
    if not hasattr(signal, "pthread_sigmask"):
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return True


def _unblock(blocked: bool) -> None:
    if blocked:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
