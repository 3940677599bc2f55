"""The progress bar of a run, for the command line and for ``simulate(progress=True)``
(in a notebook, tqdm draws it as a widget or as text)."""

from __future__ import annotations

__all__ = ["ProgressBar", "StepBar"]


class ProgressBar:
    """Simulated time as the bar, messages so far, and tqdm's ETA; on stderr. Called
    as ``simulate``'s ``progress(now, until, messages)``; ``close()`` at the end."""

    def __init__(self, name: str) -> None:
        from tqdm import tqdm  # only when a bar is wanted

        self._bar = tqdm(
            total=1.0,
            desc=name,
            leave=False,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]",
        )

    def __call__(self, now: float, until: float, messages: int) -> None:
        self._bar.n = now / until if until else 1.0
        self._bar.set_postfix_str(
            f"t={now:,.0f}/{until:,.0f} s, {messages:,} messages", refresh=False
        )
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


class StepBar:
    """The parts of a longer job as a bar (the output stage of ``smtpsim run``: each
    table, the maillog, the figures, the report); called with the part's name as
    it starts; ``close()`` at the end."""

    def __init__(self, name: str, parts: int) -> None:
        from tqdm import tqdm

        self._name = name
        self._bar = tqdm(
            total=parts,
            desc=name,
            leave=False,
            bar_format="{desc} |{bar}| {n_fmt}/{total_fmt} [{elapsed}]",
        )
        self._started = False

    def __call__(self, part: str) -> None:
        if self._started:
            self._bar.update(1)
        self._started = True
        self._bar.set_description_str(f"{self._name}: {part}", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()
