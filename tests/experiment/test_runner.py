"""Replication seeds, run specs and their keys, ``execute`` and its error records, and
the JSON form of run records."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import smtpsim.mta.queue_manager
from smtpsim.experiment.metrics import delay_quantiles, queue_series, run_metrics
from smtpsim.experiment.runner import RunRecord, RunSpec, execute
from smtpsim.experiment.seeds import replication_seed
from smtpsim.scenario import load_scenario
from smtpsim.simulation import simulate

TEXT = (Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml").read_text()
SHORT = ("warmup=1min",)
UNTIL = 300.0


def test_replication_seeds_are_distinct_stable_and_spawned() -> None:
    seeds = [replication_seed(42, r) for r in range(2000)]
    assert len(set(seeds)) == len(seeds)
    assert replication_seed(42, 0) == 16138347438539916964  # fixed forever: stored results
    assert replication_seed(43, 0) != replication_seed(42, 0)
    children = np.random.SeedSequence(42).spawn(5)  # the documented equivalence
    assert seeds[:5] == [int(c.generate_state(1, np.uint64)[0]) for c in children]
    with pytest.raises(ValueError):
        replication_seed(-1, 0)


def test_configurations_share_seeds_common_random_numbers() -> None:
    a = RunSpec(TEXT, ("hosts.out.postfix.maximal_backoff_time=1h",), 3, 7, config="a")
    b = RunSpec(TEXT, ("hosts.out.postfix.maximal_backoff_time=2h",), 3, 7, config="b")
    assert a.seed == b.seed == replication_seed(7, 3)
    assert a.key() != b.key()


def test_key_depends_on_what_changes_the_run_only() -> None:
    spec = RunSpec(TEXT, SHORT, 0, 1, until=UNTIL, config="x", params=(("p", "1"),))
    assert spec.key() == RunSpec(TEXT, SHORT, 0, 1, until=UNTIL).key()  # not config
    assert spec.key() == RunSpec("# a comment\n" + TEXT, SHORT, 0, 1, until=UNTIL).key()
    others = [
        RunSpec(TEXT, SHORT, 1, 1, until=UNTIL),
        RunSpec(TEXT, SHORT, 0, 2, until=UNTIL),
        RunSpec(TEXT, SHORT, 0, 1, until=UNTIL + 1),
        RunSpec(TEXT, (), 0, 1, until=UNTIL),
        RunSpec(TEXT.replace("rate: 1/s", "rate: 2/s"), SHORT, 0, 1, until=UNTIL),
    ]
    assert len({spec.key(), *(o.key() for o in others)}) == 6
    # a list given for the overrides is kept as a tuple: specs stay hashable
    assert RunSpec(TEXT, list(SHORT), 0, 1, until=UNTIL) == RunSpec(TEXT, SHORT, 0, 1, until=UNTIL)  # type: ignore[arg-type]


def test_key_is_the_same_in_another_process(tmp_path: Path) -> None:
    spec = RunSpec(TEXT, SHORT, 2, 5, until=UNTIL)
    (tmp_path / "scenario.yaml").write_text(TEXT)
    code = (
        "import sys; from pathlib import Path; from smtpsim.experiment.runner import RunSpec\n"
        f"text = Path({str(tmp_path / 'scenario.yaml')!r}).read_text()\n"
        f"print(RunSpec(text, {SHORT!r}, 2, 5, until={UNTIL!r}).key())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == spec.key()


def test_execute_equals_a_direct_simulation() -> None:
    spec = RunSpec(TEXT, SHORT, 4, 11, until=UNTIL)
    record = execute(spec)
    assert record.error is None and record.spec == spec and record.wall_s > 0
    direct = simulate(load_scenario(TEXT, overrides=SHORT), seed=spec.seed, until=UNTIL)
    assert direct.meta["seed"] == spec.seed
    assert record.metrics == run_metrics(direct)
    assert record.delay_quantiles == delay_quantiles(direct)
    assert record.queue_series == queue_series(direct)
    other = execute(RunSpec(TEXT, SHORT, 5, 11, until=UNTIL))
    assert other.metrics != record.metrics  # another replication, other random numbers


def test_invalid_override_gives_an_error_record() -> None:
    spec = RunSpec(TEXT, ("hosts.out.postfix.maximal_backoff_time=fast",), 0, 1)
    record = execute(spec)
    assert record.error is not None and "ScenarioError" in record.error
    assert "maximal_backoff_time" in record.error
    assert record.metrics == {} and record.delay_quantiles == () and record.queue_series == ()
    assert len(spec.key()) == 64  # such a run still has a key, to store its error


@pytest.mark.interpreted  # patches QueueManager._level, which compiled code calls directly
def test_engine_exception_gives_an_error_record(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, *args: object, **kwargs: object) -> None:
        raise RuntimeError("queue manager exploded")

    monkeypatch.setattr(smtpsim.mta.queue_manager.QueueManager, "_level", broken)
    record = execute(RunSpec(TEXT, SHORT, 0, 1, until=UNTIL))
    assert record.error is not None
    assert "RuntimeError: queue manager exploded" in record.error
    assert "Traceback" in record.error and record.metrics == {}


def test_record_json_round_trip() -> None:
    spec = RunSpec(TEXT, SHORT, 1, 9, until=30.0, config="c", params=(("rate", "2/s"),))
    record = execute(spec)
    nan_metrics = {**record.metrics, "delay_p99": math.nan}
    record = RunRecord(
        spec, nan_metrics, record.delay_quantiles, record.queue_series, record.wall_s
    )
    text = json.dumps(record.to_json(), allow_nan=False)  # strict JSON: NaN as null
    back = RunRecord.from_json(json.loads(text))
    assert back.spec == spec and back.spec.key() == spec.key()
    assert math.isnan(back.metrics["delay_p99"])
    assert {k: v for k, v in back.metrics.items() if k != "delay_p99"} == {
        k: v for k, v in nan_metrics.items() if k != "delay_p99"
    }
    assert back.delay_quantiles == record.delay_quantiles
    assert back.queue_series == record.queue_series and back.wall_s == record.wall_s
    failed = RunRecord(spec, {}, (), (), 0.5, error="Traceback ...\nValueError: x")
    assert RunRecord.from_json(json.loads(json.dumps(failed.to_json()))) == failed
