"""What is wrong with a scenario: ``Problem(path, message)`` and ``ScenarioError``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Problem", "ScenarioError", "path_sort_key"]


@dataclass(frozen=True)
class Problem:
    """One problem: the dotted YAML path it concerns and what is wrong there.

    ``path`` uses the YAML keys (``hosts.mx1.postfix.maximal_backoff_time``,
    ``links[2].between[1]``); ``<file>`` for YAML syntax errors, ``--set`` for a
    malformed override.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def path_sort_key(path: str) -> tuple[object, ...]:
    """Natural order: ``links[2]`` before ``links[10]``."""
    parts = re.split(r"(\d+)", path)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


class ScenarioError(Exception):
    """A scenario that cannot be loaded; ``problems`` lists every problem, sorted by path."""

    problems: list[Problem]

    def __init__(self, problems: Iterable[Problem]) -> None:
        unique = list(dict.fromkeys(problems))
        self.problems = sorted(unique, key=lambda p: path_sort_key(p.path))
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
