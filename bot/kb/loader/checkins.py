"""clinic/checkins.yml: the proactive check-ins. The shape comes from `schemas/checkins.yml`;
here: treatment kinds exist, a window ends after it starts, texts can be filled."""

from __future__ import annotations

from datetime import time
from typing import Any

from bot.kb.checkins import Checkin, CheckinSettings
from bot.kb.loader.common import CLINIC_PLACEHOLDERS, Collector, check_template
from bot.kb.loader.schema import validate
from bot.kb.loader.yamlsrc import LineDict

# What a check-in's text may use besides the clinic's own placeholders.
CHECKIN_PLACEHOLDERS = CLINIC_PLACEHOLDERS | {"name", "day", "treatment_date", "changes_today"}


def parse_checkins(raw: Any, file: str, kinds: set[str], errs: Collector) -> CheckinSettings:
    """The check-ins (disabled when the file has problems, which go to `errs`)."""
    if not validate(raw, "checkins", file, errs) or not isinstance(raw, LineDict):
        return CheckinSettings()
    quiet = raw["quiet_hours"]
    items = []
    quiet_hours = (_clock(quiet["from"]), _clock(quiet["to"]))
    for key, node in raw["checkins"].items():
        item = _checkin(str(key), node, file, kinds, errs)
        if item is not None and _silenced(item, *quiet_hours):
            errs.add(
                file,
                node.line_of("window"),
                f"check-in '{key}': its whole window is in the quiet hours, so it would never"
                " be sent",
            )
        elif item is not None:
            items.append(item)
    for meaning, text in raw["replies"].items():
        check_template(
            text, CLINIC_PLACEHOLDERS, file, raw["replies"].line_of(meaning), meaning, errs
        )
    return CheckinSettings(
        enabled=raw["enabled"],
        items=tuple(sorted(items, key=lambda c: (c.day, c.start))),
        quiet_start=_clock(quiet["from"]),
        quiet_end=_clock(quiet["to"]),
        answer_hours=raw["answer_hours"],
        on_time_minutes=raw["on_time_minutes"],
        wrong_level=raw["wrong_level"],
        unnamed=raw["unnamed"].strip(),
        and_word=raw["and_word"].strip(),
        separator=raw["separator"],
        titles={k: str(v).strip() for k, v in raw["quick_replies"].items()},
        replies={k: str(v).strip() for k, v in raw["replies"].items()},
    )


def _checkin(key: str, node: LineDict, file: str, kinds: set[str], errs: Collector):
    window = node["window"]
    start, end = _clock(window["from"]), _clock(window["to"])
    line = node.line_of("window")
    if end <= start:
        errs.add(file, line, f"check-in '{key}': the window must end after it starts (same day)")
        return None
    unknown = [k for k in node.get("kinds") or () if kinds and k not in kinds]
    if unknown:
        errs.add(
            file,
            node.line_of("kinds"),
            f"check-in '{key}': unknown treatment kind(s) {', '.join(unknown)}; known: "
            + ", ".join(sorted(kinds)),
        )
    what = f"check-in '{key}'"
    check_template(node["text"], CHECKIN_PLACEHOLDERS, file, node.line_of("text"), what, errs)
    return Checkin(
        key=key,
        day=node["day"],
        start=start,
        end=end,
        text=node["text"].strip(),
        kinds=frozenset(str(k).strip() for k in node.get("kinds") or ()),
        quick_replies=tuple(dict.fromkeys(node.get("quick_replies") or ())),
    )


def _silenced(item: Checkin, start: time, end: time) -> bool:
    """Whether the quiet hours (`start` to `end`, maybe across midnight) cover the window."""
    if start == end:
        return False
    if start < end:
        return start <= item.start and item.end <= end
    return item.start >= start or item.end <= end


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
