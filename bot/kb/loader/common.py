"""What every clinic file's loader shares: the error collector, day ranges, placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

from bot.kb.loader.yamlsrc import SourceError
from bot.kb.model import DayRange

CLINIC_PLACEHOLDERS = frozenset(
    {"clinic_name", "clinic_phone", "emergency_number", "opening_hours"}
)
_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)|(\+))?\s*$")


class KnowledgeBaseError(Exception):
    """The clinic folder is invalid; `errors` lists every problem with file and line."""

    def __init__(self, errors: list[SourceError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class Collector:
    """Collects errors while validation goes on, so the clinic can fix them in one go."""

    def __init__(self) -> None:
        self.errors: list[SourceError] = []

    def add(self, file: str, line: int, message: str) -> None:
        """One problem at file:line."""
        self.errors.append(SourceError(file, line, message))

    def raise_if_any(self) -> None:
        """Stop the load with every problem so far, each file's in line order."""
        if self.errors:
            files = list(dict.fromkeys(e.file for e in self.errors))
            ordered = sorted(self.errors, key=lambda e: (files.index(e.file), e.line))
            raise KnowledgeBaseError(list(dict.fromkeys(ordered)))


def display(path: Path, clinic_dir: Path) -> str:
    """How a clinic file is named in messages: `clinic/knowledge/kb.yml`."""
    try:
        return str(Path(clinic_dir.name) / path.relative_to(clinic_dir))
    except ValueError:
        return str(path)


def check_template(
    text: str, allowed: set[str] | frozenset[str], file: str, line: int, what: str, errs: Collector
) -> None:
    """A text's {placeholders} must be known and fillable."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        errs.add(file, line, f"{what}: broken {{placeholder}} ({exc}); write {{{{ for a brace")
        return
    try:
        text.format(**{name: "x" for name in allowed})
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        if all(f in allowed for f in fields):
            errs.add(
                file,
                line,
                f"{what}: a {{placeholder}} cannot be filled ({type(exc).__name__}: {exc})",
            )
    for name in fields:
        if name not in allowed:
            errs.add(
                file,
                line,
                f"{what}: unknown placeholder {{{name}}}; allowed: "
                + ", ".join("{" + a + "}" for a in sorted(allowed)),
            )


def parse_day_range(value: Any) -> DayRange | None:
    """Parse `3`, `"0-1"`, `"7+"`, `"before"` (all days before treatment) or `"any"`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return DayRange(value, value, str(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text == "before":
        return DayRange(None, -1, text)
    if text == "any":
        return DayRange(None, None, text)
    match = _RANGE.match(text)
    if not match:
        return None
    start = int(match.group(1))
    if match.group(3):
        return DayRange(start, None, text)
    end = int(match.group(2)) if match.group(2) is not None else start
    return DayRange(start, end, text) if end >= start else None


def words(values: Any) -> tuple[str, ...]:
    """A list of words as the lexicon keeps them: stripped, lower case."""
    return tuple(str(w).strip().lower() for w in values or ())
