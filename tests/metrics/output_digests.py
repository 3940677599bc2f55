"""Digests of what a run writes from its tables, for the identity test
(``test_output_identity.py``): the four tables as read back from their Parquet files,
``summary.json`` and the ``maillog``, byte for byte.

The golden digests in ``golden_outputs.json`` were made by the code before the
output stage was rewritten for speed (issue 10, route 4: main at 3b73f45). A change
meant to alter the results regenerates them, from the repository's root:

    PYTHONPATH=.:tests/metrics:tests python tests/metrics/output_digests.py --write

Tables are digested as CSV with their dtypes (not as Parquet bytes, which hold the
run's random id and pyarrow's version); figures are left out (their bytes follow
matplotlib's version).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

from smtpsim.metrics.result import TABLES, RunResult

GOLDEN = Path(__file__).with_name("golden_outputs.json")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def table_digest(frame: pd.DataFrame) -> str:
    """A table's columns, dtypes (categories included) and values."""
    dtypes = [f"{name}:{dtype}" for name, dtype in frame.dtypes.items()]
    categories = [
        f"{name}:{list(frame[name].cat.categories)}"
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.CategoricalDtype)
    ]
    text = "\n".join(dtypes + categories) + "\n" + frame.to_csv(index=False)
    return _sha(text.encode("utf-8"))


def output_digests(result: RunResult, directory: Path) -> dict[str, str]:
    """Write ``result`` into ``directory`` and digest what was written."""
    out = result.write(directory, replace=True)
    back = RunResult.read(out)
    digests = {f"{name}.parquet": table_digest(back.table(name)) for name in TABLES}
    digests["summary.json"] = _sha((out / "summary.json").read_bytes())
    digests["maillog"] = _sha((out / "maillog").read_bytes())
    return digests


def runs() -> dict[str, RunResult]:
    """The runs of ``conftest.py``: the quickstart, and the quickstart with an outage
    (deferrals, a dead destination, expiries and their bounces)."""
    from maillog_helpers import run_quickstart

    return {
        "quickstart": run_quickstart(),
        "outage": run_quickstart(
            overrides=("hosts.out.postfix.maximal_queue_lifetime=10min",),
            until=1800.0,
            link_down=(300.0, 1500.0),
        ),
    }


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        found = {
            name: output_digests(result, Path(scratch) / name) for name, result in runs().items()
        }
    text = json.dumps(found, indent=2, sort_keys=True) + "\n"
    if "--write" in sys.argv[1:]:
        GOLDEN.write_text(text, encoding="utf-8")
    print(text, end="")
