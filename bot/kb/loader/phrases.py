"""clinic/knowledge/phrases.yml: every phrase the bot says around its answers.

The one list of phrase keys and the placeholders each may use is `schemas/phrases.yml`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from bot.kb.loader.common import CLINIC_PLACEHOLDERS, Collector, check_template
from bot.kb.loader.schema import schema
from bot.kb.loader.yamlsrc import LineDict


@lru_cache(maxsize=1)
def catalogue() -> dict[str, frozenset[str]]:
    """Every phrase key, with the placeholders it may use besides the clinic's own."""
    return {key: frozenset(names) for key, names in schema("phrases")["phrases"].items()}


@lru_cache(maxsize=1)
def verbatim() -> frozenset[str]:
    """Phrases kept exactly as written (e.g. a separator: its spaces matter)."""
    return frozenset(schema("phrases").get("verbatim") or ())


def phrase_keys(prefix: str) -> list[str]:
    """The keys under a section, in catalogue order, without the prefix ("web." -> "send")."""
    return [k[len(prefix) :] for k in catalogue() if k.startswith(prefix)]


def _flatten(node: LineDict, prefix: str = "") -> Iterable[tuple[str, Any, int]]:
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, LineDict):
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value, node.line_of(key)


def parse_phrases(raw: Any, file: str, errs: Collector) -> dict[str, str]:
    """Every phrase by dotted key; unknown, missing and broken ones go to `errs`."""
    if not isinstance(raw, LineDict):
        errs.add(file, getattr(raw, "line", 1), "phrases.yml must be a mapping of keys to values")
        return {}
    known, phrases, seen = catalogue(), {}, set()
    for key, value, line in _flatten(raw):
        seen.add(key)
        if key not in known:
            errs.add(file, line, f"unknown phrase '{key}'; known: {', '.join(sorted(known))}")
        elif not isinstance(value, str) or (not value.strip() and key not in verbatim()):
            errs.add(file, line, f"phrase '{key}' must be text")
        else:
            phrases[key] = value if key in verbatim() else value.strip()
            allowed = CLINIC_PLACEHOLDERS | known[key]
            check_template(value, allowed, file, line, f"phrase '{key}'", errs)
    for key in sorted(set(known) - seen):
        errs.add(file, raw.line, f"missing phrase '{key}'")
    return phrases
