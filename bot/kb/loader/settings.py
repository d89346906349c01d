"""clinic/settings.yml: the shape from `schemas/settings.yml`, then what a shape cannot say
(a real time zone, a known treatment kind, opening hours that are times)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.kb.loader.common import Collector
from bot.kb.loader.schema import validate
from bot.kb.loader.yamlsrc import LineDict
from bot.kb.model import (
    AlertChannels,
    ClinicSettings,
    EmailAlerts,
    InboxSettings,
    Language,
    OpeningHours,
    PrivacySettings,
    TelegramSettings,
    TreatmentKind,
    WebSettings,
)

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
DEFAULT_MINUTES = 30


def parse_settings(
    raw: Any, file: str, kinds: dict[str, TreatmentKind], language: Language | None, errs: Collector
) -> ClinicSettings | None:
    """The clinic's settings, or None after reporting every problem to `errs`."""
    node = raw.get("clinic") if isinstance(raw, dict) and set(raw) == {"clinic"} else raw
    shape_ok = validate(node, "settings", file, errs)
    if not isinstance(node, LineDict):
        return None
    _check_time_zone(node, file, errs)
    kind = str(node.get("default_treatment_kind", "")).strip()
    if kind and kinds and kind not in kinds:
        errs.add(
            file,
            node.line_of("default_treatment_kind"),
            f"unknown treatment kind '{kind}'; known: {', '.join(kinds)}",
        )
    if not shape_ok:
        return None
    hours = _opening_hours(node["opening_hours"], file, language, errs)
    escalation = node.get("escalation") or {}
    if hours is None:
        return None
    return ClinicSettings(
        name=node["name"].strip(),
        phone=node["phone"].strip(),
        emergency_number=node["emergency_number"].strip(),
        time_zone=node["time_zone"].strip(),
        date_order=str(node.get("date_order", "DMY")).upper(),
        default_treatment_kind=kind,
        opening_hours=hours,
        response_minutes=escalation.get("response_minutes", DEFAULT_MINUTES),
        ack_deadline_minutes=escalation.get("ack_deadline_minutes", DEFAULT_MINUTES),
        alerts=_alerts(node.get("alerts"), file, errs),
        telegram=_telegram(node.get("telegram")),
        web=_web(node.get("web")),
        privacy=_privacy(node.get("privacy")),
        inbox=_inbox(node.get("inbox")),
    )


def _inbox(node: Any) -> InboxSettings:
    node = node or {}
    canned = tuple(
        (str(c["title"]).strip(), str(c["text"]).strip()) for c in node.get("canned_replies") or ()
    )
    return InboxSettings(node.get("handoff_idle_minutes", DEFAULT_MINUTES), canned)


def _check_time_zone(node: LineDict, file: str, errs: Collector) -> None:
    zone = node.get("time_zone")
    if not isinstance(zone, str) or not zone.strip():
        return  # the shape check reports it
    zone = zone.strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        errs.add(
            file,
            node.line_of("time_zone"),
            f"unknown time zone '{zone}' (use an IANA name such as Europe/London)",
        )


def _opening_hours(
    node: LineDict, file: str, language: Language | None, errs: Collector
) -> OpeningHours | None:
    spans: list[tuple[time, time] | None] = []
    ok = True
    for day in WEEKDAY_KEYS:
        value = node.get(day)
        if value is None or value.strip().lower() == "closed":
            spans.append(None)
            continue
        h1, m1, h2, m2 = (int(g) for g in _HOURS.match(value).groups())
        if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60) or (h1, m1) >= (h2, m2):
            errs.add(
                file, node.line_of(day), f"opening_hours.{day}: '{value}' is not a valid time span"
            )
            ok = False
            spans.append(None)
            continue
        spans.append((time(h1, m1), time(23, 59, 59) if h2 == 24 else time(h2, m2)))
    text = (node.get("text") or "").strip() or _hours_text(spans, language)
    return OpeningHours(tuple(spans), text) if ok else None


def _hours_text(spans: list[tuple[time, time] | None], language: Language | None) -> str:
    """The opening hours in words when the clinic wrote no `text`."""
    names = [w.short for w in language.weekdays] if language else list(WEEKDAY_KEYS)
    return ", ".join(
        f"{name} {s[0]:%H:%M}-{s[1]:%H:%M}" for name, s in zip(names, spans, strict=True) if s
    )


FALLBACK_NAMES = {"telegram_staff": "telegram", "email": "email", "webhook": "webhook"}


def _alerts(node: LineDict | None, file: str, errs: Collector) -> AlertChannels:
    if not node:
        return AlertChannels()
    channels = _alert_channels(node)
    fallback = FALLBACK_NAMES.get(str(node.get("fallback") or ""))
    if fallback is None:
        return channels
    configured = channels.configured()
    if fallback not in configured or len(configured) < 2:
        errs.add(
            file,
            node.line_of("fallback"),
            f"alerts.fallback: '{node['fallback']}' must be configured under alerts, beside at"
            " least one other channel (the fallback is used only when another one fails)",
        )
    return replace(channels, fallback=fallback)


def _alert_channels(node: LineDict) -> AlertChannels:
    chat = node.get("telegram_staff") or {}
    chat_id = str(chat.get("chat_id", "")).strip() or None
    email = None
    if node.get("email"):
        mail = node["email"]
        to = mail["to"]
        email = EmailAlerts(
            tuple([to] if isinstance(to, str) else to),
            str(mail["from"]),
            str(mail["smtp_host"]),
            mail.get("smtp_port", 25),
            bool(mail.get("starttls", False)),
        )
    url = str((node.get("webhook") or {}).get("url", "")).strip() or None
    return AlertChannels(chat_id, email, url)


def _telegram(node: LineDict | None) -> TelegramSettings:
    if not node:
        return TelegramSettings()
    username = str(node.get("bot_username") or "").strip() or None
    return TelegramSettings(username, node.get("link_valid_days", TelegramSettings.link_valid_days))


def _privacy(node: LineDict | None) -> PrivacySettings:
    """Each window as written; one left out or null keeps that data forever."""
    if not node:
        return PrivacySettings()
    return PrivacySettings(**{name: node.get(name) for name in vars(PrivacySettings())})


def _web(node: LineDict | None) -> WebSettings:
    if not node:
        return WebSettings()
    origins = tuple(str(o).strip().rstrip("/").lower() for o in node.get("allowed_origins", []))
    return WebSettings(
        colour=str(node.get("colour", WebSettings.colour)).strip().lower(),
        allowed_origins=origins,
        max_message_length=node.get("max_message_length", WebSettings.max_message_length),
        chat_days=node.get("chat_days", WebSettings.chat_days),
    )
