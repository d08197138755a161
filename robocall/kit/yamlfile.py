"""YAML content files with line numbers, so problems can be reported as `file:line`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a content file."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class LineDict(dict[str, Any]):
    """A mapping that remembers the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence that remembers its line and the line of each item."""

    line: int = 0
    item_lines: list[int]


def _build(node: Node, file: str, problems: list[Problem], loader: yaml.SafeLoader) -> Any:
    if isinstance(node, MappingNode):
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = _build(key_node, file, problems, loader)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int | float | bool) and key is not None:
                problems.append(Problem(file, line, "a key must be plain text"))
                continue
            key_text = str(key)
            if key_text in result.key_lines:
                problems.append(
                    Problem(
                        file,
                        line,
                        f"duplicate key {key_text!r} (first on line {result.key_lines[key_text]})",
                    )
                )
                continue
            result.key_lines[key_text] = line
            result[key_text] = _build(value_node, file, problems, loader)
        return result
    if isinstance(node, SequenceNode):
        items = LineList()
        items.line = node.start_mark.line + 1
        items.item_lines = []
        for item in node.value:
            items.item_lines.append(item.start_mark.line + 1)
            items.append(_build(item, file, problems, loader))
        return items
    assert isinstance(node, ScalarNode)
    return loader.construct_object(node, deep=True)


def load(path: Path, display_name: str | None = None) -> tuple[Any, list[Problem]]:
    """Parse a YAML file; return its data (LineDict/LineList/scalars) and any problems."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, 1, f"not UTF-8 text ({exc.reason})")]
    return loads(text, name)


def loads(text: str, name: str) -> tuple[Any, list[Problem]]:
    problems: list[Problem] = []
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(name, 1, "the file is empty")]
        return _build(node, name, problems, loader), problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [Problem(name, line, f"YAML syntax: {exc.problem or exc.context}")]
    finally:
        loader.dispose()
