"""How deep and how big a scenario is, bounded before anything recurses over it.

PyYAML builds nested collections recursively, and so do pydantic, ``copy.deepcopy``
and ``model_dump``: 500 levels of ``[[[...]]]`` in a file or a ``--set`` value end in
a ``RecursionError``. Aliases make it worse: ``*a`` repeats a whole subtree, so ten
lines can stand for a billion values ("billion laughs"), and an alias can carry its
anchor's depth to a deeper place. So the YAML text is checked first, on the parser's
flat stream of events (which does not recurse), counting depth and values with
aliases expanded; and the data, once overrides are applied, is checked again by an
iterative walk. Bounds: :data:`~.bounds.MAX_DEPTH`, :data:`~.bounds.MAX_NODES`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

from .bounds import MAX_DEPTH, MAX_NODES

__all__ = ["ShapeError", "check_data", "check_text"]


class ShapeError(ValueError):
    """A scenario nested too deeply or too big; ``path`` is where (dotted, may be "")."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


def _too_deep(path: str, via: str = "") -> ShapeError:
    return ShapeError(path, f"nested deeper than {MAX_DEPTH} levels{via} (the plausibility bound)")


def _too_big(path: str) -> ShapeError:
    return ShapeError(
        path,
        f"more than {MAX_NODES:,} values once YAML aliases are expanded (the plausibility bound)",
    )


@dataclass
class _Frame:
    """An open mapping or list in the event stream."""

    is_map: bool
    anchor: str | None
    key: str | None = None  # mappings: the current key (None: not a plain scalar)
    index: int = 0  # lists: the current index
    want_key: bool = True  # mappings: the next node is a key
    nodes: int = 0  # values inside, aliases expanded
    height: int = 0  # levels of collections inside
    segments: list[str] = field(default_factory=list)


def _segment(frame: _Frame) -> str:
    if frame.is_map:
        return f".{frame.key}" if isinstance(frame.key, str) else ".?"
    return f"[{frame.index}]"


def _path(frames: list[_Frame]) -> str:
    return "".join(_segment(f) for f in frames).lstrip(".")


def check_text(text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> None:
    """Raise :class:`ShapeError` if the YAML ``text`` nests deeper than ``MAX_DEPTH``
    or holds more than ``MAX_NODES`` values with aliases expanded. YAML syntax errors
    are left for the loader to report (it reports the same ones)."""
    frames: list[_Frame] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, height)
    total = 0

    def add(nodes: int, height: int) -> None:
        """A complete node of ``nodes`` values and ``height`` levels joins its parent."""
        nonlocal total
        if not frames:
            return
        parent = frames[-1]
        if parent.is_map and parent.want_key:
            parent.want_key = False
            return  # a key: counted, but no deeper than its mapping
        parent.nodes += nodes
        parent.height = max(parent.height, height)
        if parent.is_map:
            parent.want_key = True
        else:
            parent.index += 1

    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.ScalarEvent):
                total += 1
                if frames and frames[-1].is_map and frames[-1].want_key:
                    frames[-1].key = event.value
                if event.anchor:
                    anchors[event.anchor] = (1, 0)
                add(1, 0)
            elif isinstance(event, yaml.AliasEvent):
                nodes, height = anchors.get(str(event.anchor), (1, 0))
                total += nodes
                if total > MAX_NODES:
                    raise _too_big(_path(frames))
                if len(frames) + height > MAX_DEPTH:
                    raise _too_deep(_path(frames), f" through the alias *{event.anchor}")
                if frames and frames[-1].is_map and frames[-1].want_key:
                    frames[-1].key = None
                add(nodes, height)
            elif isinstance(event, yaml.CollectionStartEvent):
                total += 1
                if len(frames) >= MAX_DEPTH:
                    raise _too_deep(_path(frames))
                if frames and frames[-1].is_map and frames[-1].want_key:
                    frames[-1].key = None  # a complex key
                is_map = isinstance(event, yaml.MappingStartEvent)
                frames.append(_Frame(is_map, event.anchor))
            elif isinstance(event, yaml.CollectionEndEvent):
                done = frames.pop()
                nodes, height = 1 + done.nodes, 1 + done.height
                if done.anchor:
                    anchors[done.anchor] = (nodes, height)
                add(nodes, height)
            if total > MAX_NODES:
                raise _too_big(_path(frames))
    except yaml.YAMLError:
        return  # the loader reports it, with its line and column


def check_data(data: object) -> None:
    """Raise :class:`ShapeError` if ``data`` (mappings and lists) nests deeper than
    ``MAX_DEPTH`` or holds more than ``MAX_NODES`` values; iterative, so any depth is
    safe to check. Shared subtrees (from aliases) count each time they appear."""
    stack: list[tuple[object, int, str]] = [(data, 0, "")]
    count = 0
    while stack:
        node, depth, path = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise _too_big(path)
        if isinstance(node, dict):
            items: Iterator[tuple[str, object]] = (
                (f"{path}.{k}" if path else str(k), v) for k, v in node.items()
            )
        elif isinstance(node, list | tuple):
            items = ((f"{path}[{i}]", v) for i, v in enumerate(node))
        else:
            continue
        if depth >= MAX_DEPTH:
            raise _too_deep(path)
        stack.extend((value, depth + 1, where) for where, value in items)
