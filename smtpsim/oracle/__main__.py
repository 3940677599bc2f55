"""``python -m smtpsim.oracle report [--only KEY ...] [--docs DIR] [--work DIR]``: run
the oracle experiments and write ``docs/validation.md`` with its figures."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from .catalogue import ALL, BY_KEY
from .postfix_instance import postfix_missing
from .report import write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smtpsim.oracle", description=__doc__)
    parser.add_argument("command", choices=["report"])
    parser.add_argument("--only", action="append", choices=sorted(BY_KEY), default=[])
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="default: docs")
    parser.add_argument("--work", type=Path, help="keep each run's files here")
    args = parser.parse_args(argv)
    missing = postfix_missing()
    if missing:
        print(f"python -m smtpsim.oracle: {missing}", file=sys.stderr)
        return 2
    experiments = [BY_KEY[k] for k in args.only] or list(ALL)

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # the same clean stop as Ctrl-C

    signal.signal(signal.SIGTERM, terminate)
    try:
        page = write_report(args.docs, experiments, args.work)
    except KeyboardInterrupt:
        print(
            "python -m smtpsim.oracle: interrupted; Postfix and smtpsim serve stopped",
            file=sys.stderr,
        )
        return 130
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
