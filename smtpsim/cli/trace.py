"""``smtpsim trace``: one message's journey, hop by hop, from a results directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_FAILURE, EXIT_USAGE, Subparsers, fail, read_results

NAME = "trace"

_EPILOG = """\
KEY is what you copy from DIR/maillog: a queue id (10 hex digits, e.g. 3F2A9C01B7,
one per stay of a message at a host), a message-id (<1234.smtpsim@corp.example>,
or just 1234, which is messages.msg_id), or an address (alice@corp.example: every
message it sent or received; when several match they are listed, and --all traces
them all).

For the message: its recipients (status, delay, the reply that decided them), every
delivery attempt in time order (start time, host, peer, recipient, outcome, code
and enhanced code, phase, and the delay split: queue wait, connection set-up,
transfer, as docs/results.md defines them), its queue id at each host, and each
bounce notice sent for it with that notice's own journey. --log adds the maillog's
lines of those queue ids (each reply's text as the log gives it). --plot draws the journey
as a timeline across hosts (PNG or SVG, by the file's suffix).

Examples:
  smtpsim trace results/quickstart-seed42 3F2A9C01B7 --log
  smtpsim trace results/quickstart-seed42 '<1234.smtpsim@corp.example>' --plot trip.png
  smtpsim trace results/quickstart-seed42 nobody@bigmail.example --all

Exit status: 0 when traced (or listed), 1 for a bug of ours, 2 for a bad command
line, a directory without results or a KEY that names no message."""

_LIST_MAX = 50


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="follow one message hop by hop",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dir", metavar="DIR", help="a results directory of 'smtpsim run'")
    parser.add_argument("key", metavar="KEY", help="queue id, message-id or address")
    parser.add_argument(
        "--plot", metavar="FILE", help="also draw the journey as a timeline (.png or .svg)"
    )
    parser.add_argument(
        "--log",
        action="store_true",
        help="also print the maillog lines of its queue ids (every reply's "
        "text, as the log gives it)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="trace every message an address matches, not just list them",
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    directory = Path(args.dir)
    plot = Path(args.plot) if args.plot else None
    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        parser.error(f"--plot: {plot} must end in .png or .svg")
    read = read_results(directory, parser.prog)
    if isinstance(read, int):
        return read  # the failure, reported
    result, _ = read
    from ..reports.trace import TraceError, find_messages, format_journey, journey

    try:
        found = find_messages(result, args.key, directory)
    except TraceError as error:
        return fail(parser.prog, str(error), EXIT_USAGE)
    if len(found) > 1 and not args.all:
        from pandas import Series  # loaded with the results already

        m = result.messages.set_index("msg_id")
        print(
            f"{len(found)} messages match {args.key}; trace one by its number, or all with --all:"
        )
        for mid in found[:_LIST_MAX]:
            row = m.loc[mid]
            assert isinstance(row, Series)  # msg_id is unique: one row
            print(
                f"  {mid:>8}  t={float(row['t_submit']):>10.2f} s  from <{row['sender']}>  "
                f"{int(row['n_rcpt'])} rcpt  {row['origin']}"
            )
        if len(found) > _LIST_MAX:
            print(f"  ... and {len(found) - _LIST_MAX} more")
        return 0
    try:
        journeys = [journey(result, mid, directory) for mid in found]
        text = "\n\n".join(format_journey(j) for j in journeys)
        if args.log:
            from ..reports.trace import log_lines

            ids = [q for j in journeys for one in (j, *j.notices) for _, q in one.queue_ids]
            text += "\n\nmaillog lines:\n" + "\n".join(log_lines(result, ids, directory))
        fig = None
        if plot is not None:
            from ..reports.trace import timeline_figure

            fig = timeline_figure(journeys, incidents=result.meta.get("incidents"))
    except Exception as error:  # a bug of ours: one line, not a traceback
        return fail(parser.prog, f"cannot trace: {type(error).__name__}: {error}", EXIT_FAILURE)
    print(text)
    if fig is not None and plot is not None:
        try:
            plot.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(plot, format=plot.suffix.lower()[1:], dpi=120)
        except OSError as error:
            return fail(parser.prog, f"cannot write {plot}: {error}", EXIT_USAGE)
        print(f"plot: {plot}")
    return 0
