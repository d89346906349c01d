"""YAML loading that remembers where every value came from.

Clinic staff edit YAML by hand, so every error must name the file and the line.
`load_yaml` returns plain dicts and lists whose mappings also carry the line of
each key (`LineDict.line_of`) and whose lists carry the line of each item.
Duplicate keys, which PyYAML silently merges, are reported as errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class SourceError(Exception):
    """A problem in a clinic file, located by file and 1-based line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class LineDict(dict):
    """A mapping that knows its own line and the line of each key."""

    line: int = 0
    key_lines: dict

    def line_of(self, key: Any) -> int:
        """Line of `key` in the file, or the mapping's own line."""
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A sequence that knows its own line and the line of each item."""

    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        """Line of item `index`, or the list's own line."""
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    file_name = "<yaml>"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in result:
                raise SourceError(
                    self.file_name, key_node.start_mark.line + 1, f"duplicate key '{key}'"
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_sequence)


def load_yaml(path: Path, display_name: str | None = None) -> Any:
    """Parse one YAML file; syntax errors become `SourceError` with file and line."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(name, 0, f"cannot read file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(name, 0, "file is not UTF-8 text") from exc
    loader = _Loader(text)
    loader.file_name = name
    try:
        return loader.get_single_data()
    except SourceError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = exc.problem or "invalid YAML"
        raise SourceError(name, line, f"YAML syntax error: {problem}") from exc
    except yaml.YAMLError as exc:
        raise SourceError(name, 0, f"YAML error: {exc}") from exc
    finally:
        loader.dispose()
