"""``docs/validation.md``: every experiment run both ways, compared, drawn, written.

``python -m smtpsim.oracle report`` runs the experiments of :mod:`.catalogue` (real
Postfix and smtpsim; the experiments side by side, about two minutes), writes one
figure per experiment under ``docs/images/validation/``
and the page ``docs/validation.md``: per experiment the question, the settings, the
real-vs-simulated table with each metric's tolerance and verdict, the figure, and what
the log reader made of the real maillog.
"""

from __future__ import annotations

import math
import platform
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from .catalogue import ALL
from .comparison import Row, compare
from .experiment import CANCEL, Experiment, Outcome, run_experiment, tables_of
from .figures import draw
from .postfix_instance import POSTFIX


def postfix_version() -> str:
    try:
        done = subprocess.run(
            ["/usr/sbin/postconf", "-d", "-h", "mail_version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def _number(x: float | str) -> str:
    if isinstance(x, str):
        return f"`{x}`" if x else "(none)"
    if math.isnan(x):
        return "n/a"
    if x == int(x) and abs(x) >= 1:
        return f"{x:.0f}"
    return f"{x:.3g}" if abs(x) < 1 else f"{x:.1f}"


def rows_table(rows: Sequence[Row], seeds: int) -> list[str]:
    lines = [
        f"| metric | Postfix (real) | smtpsim, mean of {seeds} seeds [min, max] "
        "| tolerance | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        m = r.metric
        if m.ks is not None:
            sim = f"p = {_number(r.real)} (per seed {_number(r.sim_low)} to {_number(r.sim_high)})"
            real = "(the sample)"
            tol = f"p >= {m.tolerance:g}"
        elif isinstance(r.real, str):
            sim, real, tol = _number(r.sim_mean), _number(r.real), "equal"
        else:
            sim = f"{_number(r.sim_mean)} [{_number(r.sim_low)}, {_number(r.sim_high)}]"
            real = _number(r.real)
            tol = f"±{_number(r.allowed)}"
        verdict = f"**{r.verdict}**"
        if r.verdict == "differs" and m.known:
            verdict += f" ({m.known.split(':', 1)[0]})"
        lines.append(f"| {m.label} | {real} | {sim} | {tol} | {verdict} |")
    return lines


def settings_lines(exp: Experiment, outcome: Outcome | None = None) -> list[str]:
    arrivals = (
        f"{exp.messages} one-recipient messages, Poisson arrivals at {exp.rate:g}/s"
        if exp.rate > 0
        else f"{exp.messages} one-recipient messages, all at once"
    )
    lines = [
        f"- workload: {arrivals}, submitted over SMTP to the relay",
        "- relay (Postfix `main.cf` and the scenario's `postfix:`): "
        + ", ".join(f"`{k} = {v}`" for k, v in exp.postfix.items()),
    ]
    if exp.serve_args:
        lines.append(f"- next hop: `smtpsim serve {' '.join(exp.serve_args)}`")
    if exp.outage_s > 0:
        back = f" (real: listening again at {outcome.real.back_at:.1f} s)" if outcome else ""
        lines.append(
            f"- next hop down (connections refused) for the first {exp.outage_s:g} s{back}; "
            "simulated: a `host_down` incident (`mode: refuse`) that long"
        )
    if outcome is not None and outcome.scan_phases:
        delay = exp.postfix.get("queue_run_delay", "300s")
        came = ", ".join(f"{p:.1f}" for p in outcome.scan_phases)
        lines.append(
            f"- deferred-queue scans: the real relay's came {came} s past each {delay} "
            "from the start (read off its retries: Postfix runs a scan anywhere within "
            "its whole second); each seed's relay scans at one phase, the seeds spread "
            "evenly over that band (its traffic starts that much later, times counted "
            "from then)"
        )
        if exp.replay and exp.rate > 0:
            lines.append(
                "- simulated submissions: the real run's, at their times (a replayed trace)"
            )
    lines.append(f"- bound: {exp.limit_s:g} s of wall-clock time; smtpsim: {exp.seeds} seeds")
    return lines


def experiment_section(outcome: Outcome, rows: Sequence[Row], figure: Path, docs: Path) -> str:
    exp = outcome.experiment
    real = outcome.real
    parts = [f"## {exp.title}", "", exp.question, "", *settings_lines(exp, outcome), ""]
    parts.append(
        f"Real run: {real.wall_s:.0f} s, queue "
        + ("drained" if real.drained else f"NOT drained within {exp.limit_s:g} s")
        + f"; the log reader: {real.log.lines} lines, {len(real.log.unknown)} not understood."
    )
    parts += ["", *rows_table(rows, exp.seeds), ""]
    parts += [f"- note: {note}" for note in exp.notes]
    known = {r.metric.known for r in rows if r.verdict == "differs" and r.metric.known}
    for cause in sorted(known):
        if cause not in exp.notes:  # a note already says it
            parts.append(f"- {cause}")
    unexplained = [r.metric.label for r in rows if r.verdict == "differs" and not r.metric.known]
    if unexplained:
        parts.append("- not explained yet: " + ", ".join(unexplained))
    parts += ["", f"![{exp.title}]({figure.relative_to(docs).as_posix()})", ""]
    return "\n".join(parts)


_HEAD = """\
# Validation against real Postfix

Generated by `python -m smtpsim.oracle report` on {when} (Postfix {version}, Python
{python}; {wall:.0f} s). Do not edit by hand: run the command again.

Each experiment runs twice. **Real**: a private Postfix {version} (its own
`config_directory`, `queue_directory` and `maillog_file` under a temporary directory,
loopback only) relays to `smtpsim serve` with the faults injected; messages are
submitted over SMTP on a Poisson schedule in wall-clock time; the maillog is read by
`smtpsim.logs.postfix_log` into the tables `smtpsim run` writes
([results.md](results.md)). **Simulated**: the same network, Postfix parameters and
faults as a scenario, run by smtpsim with several seeds (where a few arrivals decide
a branch, the outage, the real run's submissions replayed at their times); each
seed's relay scans its deferred queue within the band of phases the real one's scans
took (read off its retries). Times are compressed (backoffs of seconds) so that each
experiment takes about a minute; they run side by side, each with its own Postfix,
`smtpsim serve` and ports.

Each metric is compared with a stated tolerance: counts and means within an absolute
or relative margin, retry and delay times within half a `queue_run_delay` (the scan
granularity) or one, distributions by a two-sample Kolmogorov-Smirnov test. The real
side is one run, so its counts carry their own sampling noise (shown by the spread of
the seeds; the tolerance widens to the seeds' prediction interval for one more run).
The causes of difference issue 11 found are settled, each after the Postfix 3.7
source: a 4xx greeting is a site failure (`smtp_proto.c`); retry times in whole
seconds of the host's clock, a deferred file taken by a scan up to 1 s before its
stamp (`qmgr_active.c`); an idle destination forgotten with its window and counters
(`qmgr_entry.c`); positive feedback counting the ending delivery as busy
(`qmgr_deliver.c`, `qmgr_queue.c`); a server's time per command that varies as a real
server's does (with constant times the refusals of a round all came before its
successes: cause 5); the maillog's wording, `connect to` lines and `postfix/error`
suspensions (`smtp_connect.c`, `qmgr_defer.c`); connections cached on demand
(`qmgr_entry.c`); a dead destination's timer that ends at a whole second of the
host's clock and runs before the scan of that second feeds its files (`events.c`,
`qmgr.c`, `qmgr_queue.c`). The simulated relay's deferred-queue scans are put
where the real relay's came (their phase read off its retries): Postfix's log
names no scan, and a scan just before or just after a next hop's return decides
whether it is killed again for `minimal_backoff_time`. The rows they explained now
agree. Where smtpsim
still differs, the verdict names the cause found for it so far; a cause marked not
settled is a candidate, not confirmed. The tests in `tests/oracle/` run the same
experiments and assert both kinds of row (about two minutes, the experiments side
by side).

Not run yet: Exim (experiment 7).

The real time stamps are whole seconds (`maillog_file`); the reader narrows each
attempt with its `delay=` and the exact submission time, to within about 0.5 s.
"""


def write_report(
    docs: Path,
    experiments: Sequence[Experiment] = ALL,
    work: Path | None = None,
) -> Path:
    """Run ``experiments``, write the figures and ``docs/validation.md``; return it."""
    started = time.monotonic()
    images = docs / "images" / "validation"
    sections = []
    # side by side: each has its own Postfix, smtpsim serve and ports, and mostly waits
    pool = ThreadPoolExecutor(max_workers=len(experiments))
    try:
        futures = [
            pool.submit(run_experiment, e, (work / e.key) if work else None) for e in experiments
        ]
        outcomes = [f.result() for f in futures]
    except BaseException:  # Ctrl-C included: every experiment stops its Postfix and serve
        CANCEL.set()
        raise
    finally:
        pool.shutdown(wait=True)
        CANCEL.clear()
    for exp, outcome in zip(experiments, outcomes, strict=True):
        sides = tables_of(outcome)
        rows = compare(exp.metrics, sides[0][1], [t for _, t in sides[1:]])
        status = "expired" if exp.key == "expiry" else "delivered"
        min_backoff = float(exp.postfix.get("minimal_backoff_time", "300s").rstrip("s"))
        figure = draw(
            sides,
            exp.title,
            images / f"{exp.key}.png",
            status=status,
            min_backoff=min_backoff,
            caching=exp.key == "caching",
        )
        sections.append(experiment_section(outcome, rows, figure, docs))
    head = _HEAD.format(
        when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=postfix_version(),
        python=platform.python_version(),
        wall=time.monotonic() - started,
    )
    page = docs / "validation.md"
    if len(experiments) < len(ALL) and page.exists():
        # --only: the other experiments' sections stay as the page has them
        sections = _merged(page.read_text(encoding="utf-8"), sections)
    page.write_text(head + "\n" + "\n".join(sections), encoding="utf-8")
    return page


def _merged(old_page: str, new_sections: Sequence[str]) -> list[str]:
    """The sections of ``old_page`` in the catalogue's order, each replaced by the new
    section of the same experiment (title) where there is one."""
    new = {s.split("\n", 1)[0]: s for s in new_sections}
    old: dict[str, str] = {}
    for chunk in old_page.split("\n## ")[1:]:
        text = "## " + chunk
        old[text.split("\n", 1)[0]] = text.rstrip("\n") + "\n"
    merged = []
    for exp in ALL:
        heading = f"## {exp.title}"
        section = new.get(heading, old.get(heading))
        if section is not None:
            merged.append(section)
    return merged


__all__ = ["POSTFIX", "write_report"]
