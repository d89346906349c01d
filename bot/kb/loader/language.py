"""clinic/language.yml: how clients write dates, days and numbers, and how replies show a
date. The shape comes from `schemas/language.yml`; here: the formats can be filled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.kb.loader.common import Collector, words
from bot.kb.loader.schema import validate
from bot.kb.model import Language, Name

SAMPLE = datetime(2026, 11, 18, 9, 30)


def parse_language(raw: Any, file: str, errs: Collector) -> Language | None:
    """The language, or None after reporting its problems to `errs`."""
    if not validate(raw, "language", file, errs):
        return None
    language = Language(
        date_format=raw["date_format"],
        time_format=raw["time_format"],
        weekdays=tuple(_name(n) for n in raw["weekdays"]),
        months=tuple(_name(n) for n in raw["months"]),
        numbers={str(k).lower(): int(v) for k, v in raw["numbers"].items()},
        ordinals={str(k).lower(): int(v) for k, v in raw["ordinals"].items()},
        treatment_words=words(raw["treatment_words"]),
        shorthand={k: words(v) for k, v in raw["shorthand"].items()},
        no_date=words(raw["no_date"]),
    )
    for key, show in (("date_format", language.format_date), ("time_format", language.format_time)):
        try:
            show(SAMPLE)
        except (KeyError, IndexError, ValueError) as exc:
            errs.add(
                file,
                raw.line_of(key),
                f"{key} cannot be filled ({type(exc).__name__}: {exc}); placeholders: {{weekday}}, "
                "{weekday_long}, {day}, {month}, {month_long}, {year}, {hour}, {minute}",
            )
            return None
    return language


def _name(node: Any) -> Name:
    return Name(node["short"].strip(), node["long"].strip(), words(node["forms"]))
