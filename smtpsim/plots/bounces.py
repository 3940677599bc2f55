"""Failed recipients (bounced and expired) by enhanced status code."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from ._common import as_str, new_axes, note

__all__ = ["DSN_MEANINGS", "bounces_by_dsn", "dsn_meaning"]

FAILED = ("bounced", "expired")

# RFC 3463 (and RFC 7505 for X.1.10, RFC 4954 for X.7.8): subject.detail -> meaning.
DSN_MEANINGS = {
    "0.0": "other or undefined status",
    "1.0": "other address status",
    "1.1": "bad destination mailbox address",
    "1.2": "bad destination system address",
    "1.3": "bad destination mailbox address syntax",
    "1.6": "destination mailbox has moved",
    "1.7": "bad sender's mailbox address syntax",
    "1.8": "bad sender's system address",
    "1.10": "recipient address has null MX",
    "2.0": "other or undefined mailbox status",
    "2.1": "mailbox disabled",
    "2.2": "mailbox full",
    "2.3": "message length exceeds administrative limit",
    "3.0": "other or undefined mail system status",
    "3.1": "mail system full",
    "3.4": "message too big for system",
    "3.5": "system incorrectly configured",
    "4.0": "other or undefined network or routing status",
    "4.1": "no answer from host",
    "4.2": "bad connection",
    "4.3": "directory server failure",
    "4.4": "unable to route",
    "4.5": "mail system congestion",
    "4.6": "routing loop detected",
    "4.7": "delivery time expired",
    "5.0": "other or undefined protocol status",
    "5.1": "invalid command",
    "5.2": "syntax error",
    "5.3": "too many recipients",
    "5.4": "invalid command arguments",
    "6.0": "other or undefined media error",
    "7.0": "other or undefined security status",
    "7.1": "delivery not authorized, message refused",
    "7.8": "authentication credentials invalid",
}
_SUBJECTS = {"0": "other", "1": "addressing", "2": "mailbox", "3": "mail system",
             "4": "network or routing", "5": "mail delivery protocol", "6": "message content",
             "7": "security or policy"}
_CLASS_COLOURS = {"5": "#d62728", "4": "#9467bd"}
_CLASS_NAMES = {"5": "5.x.x permanent failure", "4": "4.x.x temporary failure (expired)"}


def dsn_meaning(code: str) -> str:
    """What an enhanced status code means (RFC 3463), ``""`` when unknown."""
    parts = code.split(".")
    if len(parts) != 3:
        return ""
    return DSN_MEANINGS.get(f"{parts[1]}.{parts[2]}", _SUBJECTS.get(parts[1], ""))


def bounces_by_dsn(recipients: pd.DataFrame, *, statuses: tuple[str, ...] = FAILED,
                   ax: Axes | None = None) -> Axes:
    """One horizontal bar per DSN code (``dsn``) of the recipients whose status is in
    ``statuses`` (bounced and expired), as long as the number of such recipients,
    most frequent on top, coloured by class (5.x.x permanent, 4.x.x temporary: the
    last error of an expired recipient). Every recipient counts, bounce messages'
    own included. The run's time is not on an axis here, so no incidents are shaded.
    """
    ax = new_axes(ax)
    ax.set_title("Failed recipients by DSN code (" + " and ".join(statuses) + ")")
    ax.set_xlabel("recipients")
    status = as_str(recipients["status"]) if len(recipients) else pd.Series([], dtype=str)
    failed = recipients.loc[status.isin(statuses).to_numpy()]
    if failed.empty:
        note(ax, "no " + " or ".join(statuses) + " recipients in this run")
        ax.set_yticks([])
        return ax
    codes = as_str(failed["dsn"]).replace("", "(none)")
    counts = codes.value_counts(sort=False)
    counts = counts.sort_values(ascending=True, kind="stable")  # most frequent on top
    total = len(recipients)
    labels = [f"{code}  {dsn_meaning(code)}".rstrip() for code in counts.index]
    colours = [_CLASS_COLOURS.get(str(code)[:1], "#7f7f7f") for code in counts.index]
    bars = ax.barh(range(len(counts)), counts.to_numpy(), color=colours, height=0.6,
                   gid="dsn-bars")
    ax.set_yticks(range(len(counts)), labels)
    ax.bar_label(bars, labels=[f"{n:,} ({100 * n / total:.3g} % of all recipients)"
                               for n in counts.to_numpy()], padding=4, fontsize=8)
    ax.set_xlim(0, float(counts.max()) * 1.35)
    pad = max(0, 4 - len(counts)) / 2  # a lone bar is not a wall of colour
    ax.set_ylim(-0.6 - pad, len(counts) - 0.4 + pad)
    ax.grid(True, axis="x", alpha=0.3)
    classes = [c for c in ("5", "4") if any(str(code).startswith(c) for code in counts.index)]
    handles = [Patch(color=_CLASS_COLOURS[c], label=_CLASS_NAMES[c]) for c in classes]
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="lower right")
    return ax
