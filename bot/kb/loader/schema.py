"""Check a clinic file's shape against its declarative schema, with file:line messages.

The schemas (`schemas/*.yml`) are JSON Schema 2020-12 written in YAML. Two keywords of our
own word the messages for clinic staff: `x-what` names a mapping ("topic '{key}'") and
`x-message` words a wrong value ("{what}: status '{value}' does not exist; ..."). Placeholders:
`{key}` the nearest mapping key, `{path}` the dotted path in the file, `{path[N]}` one part of
it, `{list}` the path without list positions (`emergency.pairs` for `emergency.pairs[2][0]`),
`{item[field]}` a field of the value, `{what}` the mapping around the value.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from bot.kb.loader.common import Collector
from bot.kb.loader.yamlsrc import LineDict, LineList


@cache
def schema(name: str) -> dict[str, Any]:
    """A schema of `schemas/` by file stem, loaded once."""
    text = resources.files("bot.kb.loader").joinpath("schemas", f"{name}.yml").read_text("utf-8")
    return yaml.safe_load(text)


@cache
def _validator(name: str) -> Draft202012Validator:
    root = schema(name)
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


@dataclass(frozen=True)
class _Node:
    """One step from the root to a value: its schemas (after $ref and if/then) and value."""

    schemas: tuple[dict[str, Any], ...]
    value: Any
    path: tuple[Any, ...]

    def first(self, keyword: str) -> Any:
        return next((s[keyword] for s in self.schemas if keyword in s), None)

    def allowed_keys(self) -> list[str]:
        return sorted({k for s in self.schemas for k in s.get("properties", {})})


class _Formatter(string.Formatter):
    """`str.format` that writes "?" for a placeholder it cannot fill."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        try:
            return super().get_field(field_name, args, kwargs)
        except (KeyError, IndexError, AttributeError, TypeError):
            return "?", field_name


_FORMAT = _Formatter()


def validate(instance: Any, name: str, file: str, errs: Collector) -> bool:
    """Report every shape problem of `instance` against schema `name`; True if none."""
    validator = _validator(name)
    found = False
    for error in validator.iter_errors(instance):
        for line, message in _describe(error, instance, name):
            errs.add(file, line, message)
            found = True
    return not found


def _describe(error: ValidationError, root: Any, name: str) -> Iterator[tuple[int, str]]:
    chain = _walk(name, root, tuple(error.absolute_path))
    node = chain[-1]
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in (node.value or {})]
        for key in missing:
            yield _own_line(node.value), f"missing '{key}' in {_what(chain)}"
        return
    if error.validator == "additionalProperties" and isinstance(node.value, dict):
        allowed = ", ".join(node.allowed_keys())
        for key in node.value:
            if key not in node.allowed_keys():
                line = node.value.line_of(key) if isinstance(node.value, LineDict) else 1
                yield line, f"unknown key '{key}' in {_what(chain)}; allowed: {allowed}"
        return
    yield _line(chain), _message(chain, error)


def _walk(name: str, root: Any, path: tuple[Any, ...]) -> list[_Node]:
    """The nodes from the root to `path`, each with every schema that applies to it."""
    top = schema(name)
    chain = [_Node(_expand(top, top, root), root, ())]
    value = root
    for depth, step in enumerate(path):
        parent = chain[-1]
        value = value[step]
        children: list[dict[str, Any]] = []
        for sub in parent.schemas:
            child = _child(sub, step)
            if child is not None:
                children.extend(_expand(top, child, value))
        chain.append(_Node(tuple(children), value, path[: depth + 1]))
    return chain


def _child(sub: dict[str, Any], step: Any) -> dict[str, Any] | None:
    if isinstance(step, int):
        items = sub.get("items")
        return items if isinstance(items, dict) else None
    if step in sub.get("properties", {}):
        child = sub["properties"][step]
        return child if isinstance(child, dict) else None
    extra = sub.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _expand(top: dict[str, Any], sub: dict[str, Any], value: Any) -> tuple[dict[str, Any], ...]:
    """`sub` with its $ref followed and the `then` of every `if` that `value` meets."""
    result: list[dict[str, Any]] = []
    while "$ref" in sub:
        result.append(sub)
        sub = _resolve(top, sub["$ref"])
    result.append(sub)
    for part in sub.get("allOf", ()):
        condition = part.get("if")
        if condition is not None and Draft202012Validator(condition).is_valid(value):
            result.extend(_expand(top, part.get("then", {}), value))
    return tuple(result)


def _resolve(top: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = top
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _fill(template: str, node: _Node, what: str = "") -> str:
    keys = [p for p in node.path if isinstance(p, str)]
    dotted = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in node.path)
    named = list(node.path)
    while named and isinstance(named[-1], int):
        named.pop()
    return _FORMAT.format(
        template,
        key=keys[-1] if keys else "",
        list=".".join(str(p) for p in named),
        path=_Path(dotted.replace(".[", "["), node.path),
        item=node.value if isinstance(node.value, dict) else {},
        value=node.value,
        what=what,
    )


class _Path(str):
    """The dotted path, which also gives its parts: `{path[1]}`."""

    def __new__(cls, text: str, parts: tuple[Any, ...]) -> _Path:
        made = super().__new__(cls, text)
        made.parts = parts
        return made

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, int):
            return self.parts[index]
        return super().__getitem__(index)


def _what(chain: list[_Node]) -> str:
    """How the nearest named mapping at or above the end of `chain` is called."""
    for node in reversed(chain):
        template = node.first("x-what")
        if template:
            return _fill(template, node)
    return "the file"


def _message(chain: list[_Node], error: ValidationError) -> str:
    """The clinic-facing message: the nearest `x-message`, else the schema library's."""
    for depth in range(len(chain) - 1, -1, -1):
        node = chain[depth]
        template = node.first("x-message")
        if template:
            return _fill(template, node, _what(chain[:depth]) if depth else "the file")
        if depth < len(chain) - 1 and node.first("x-what"):
            break  # never borrow a message from a mapping above the value
    node = chain[-1]
    if error.validator == "type" and "object" in _as_list(error.validator_value):
        return f"{_what(chain)} must be a mapping of keys to values"
    dotted = _fill("{path}", node) or "the file"
    return f"{dotted}: {error.message}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _own_line(value: Any) -> int:
    return getattr(value, "line", 1) or 1


def _line(chain: list[_Node]) -> int:
    """The line of the value at the end of `chain` (its key's line in the mapping above)."""
    if len(chain) == 1:
        return _own_line(chain[0].value)
    parent, step = chain[-2].value, chain[-1].path[-1]
    if isinstance(parent, LineDict):
        return parent.line_of(step)
    if isinstance(parent, LineList):
        return parent.line_of(step)
    return _own_line(parent)
