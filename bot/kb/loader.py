"""Load and validate the clinic folder: `settings.yml` and `knowledge/*.yml`.

Every problem is reported with its file and line; all problems of a load are collected so
that the clinic can fix them in one go. Nothing here guesses a default for protocol content.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.channels.web_format import ORIGIN_PATTERN
from bot.kb.model import (
    ACTIVITY_STATUSES,
    LEVELS,
    RED_FLAG_SIGNS,
    TOPIC_TYPES,
    AlertChannels,
    Clinic,
    ClinicSettings,
    DayRange,
    EmailAlerts,
    KnowledgeBase,
    OpeningHours,
    RedFlag,
    TelegramSettings,
    Topic,
    TreatmentKind,
    WebSettings,
    Where,
    Window,
)
from bot.screening.lexicon import parse_lexicon
from bot.yamlsrc import LineDict, LineList, SourceError, load_yaml

META_FILE = "kb.yml"
SCREENING_FILE = "screening.yml"
PHRASES_FILE = "phrases.yml"
CLINIC_PLACEHOLDERS = {"clinic_name", "clinic_phone", "emergency_number", "opening_hours"}
# Phrases every KB must define, with the extra placeholders each may use.
REQUIRED_PHRASES: dict[str, set[str]] = {
    "day_label.treatment_day": {"day"},
    "day_label.day": {"day"},
    "day_label.before": {"day"},
    "notice.question": set(),
    "notice.urgent": set(),
    "notice.emergency": set(),
    "no_guidance": set(),
    "before_treatment": set(),
    "summary.header": {"day_label"},
    "summary.allowed": {"items"},
    "summary.caution": {"items"},
    "summary.not_yet": {"items"},
    "summary.watch_for": {"items"},
    "summary.item_separator": set(),
    "date.ask": set(),
    "date.unclear": set(),
    "date.future": set(),
    "date.too_old": set(),
    "date.saved": {"treatment_date", "day"},
    "handoff.recorded": set(),
    "handoff.declined": set(),
    "handoff.offer_yes": set(),
    "handoff.offer_no": set(),
    "anything_else": set(),
    "escalation.urgent_open": {"response_minutes"},
    "escalation.urgent_closed": {"next_opening"},
    "escalation.emergency": set(),
    "escalation.unplaced": set(),
    "escalation.call_us": set(),
    "escalation.acknowledged": set(),
    "chat.greet": set(),
    "chat.thanks": set(),
    "chat.goodbye": set(),
    "escalation.deadline_passed": set(),
    "link.linked": {"treatment_date", "day"},
    "link.code_used": set(),
    "link.code_expired": set(),
    "link.code_unknown": set(),
    "telegram.help": set(),
    "telegram.unknown_command": set(),
    "telegram.private_only": set(),
    "telegram.forget_confirm": set(),
    "telegram.forget_yes": set(),
    "telegram.forget_no": set(),
    "telegram.forgotten": set(),
    "telegram.forget_cancelled": set(),
    "telegram.photo_added": set(),
    "telegram.photo_new": set(),
    "telegram.photo_failed": set(),
    "telegram.voice": set(),
    "telegram.unsupported": set(),
    "telegram.edited": set(),
    "telegram.error": set(),
    "telegram.command_help": set(),
    "telegram.command_today": set(),
    "telegram.command_human": set(),
    "telegram.command_forget": set(),
    "web.launcher": set(),
    "web.dialog": set(),
    "web.subtitle": set(),
    "web.close": set(),
    "web.input_label": set(),
    "web.placeholder": set(),
    "web.send": set(),
    "web.typing": set(),
    "web.you_said": set(),
    "web.bot_said": set(),
    "web.unread": {"count"},
    "web.too_long": {"max_length"},
    "web.empty": set(),
    "web.send_failed": set(),
    "web.error": set(),
    "web.busy": set(),
    "web.banner_urgent": set(),
    "web.banner_emergency": set(),
    "web.new_chat": set(),
    "web.forget_confirm": set(),
    "web.forget_yes": set(),
    "web.forget_no": set(),
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)|(\+))?\s*$")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# A Telegram bot's username: 5-32 letters, digits or underscores, ending in "bot".
_BOT_USERNAME = re.compile(r"^[A-Za-z0-9_]{2,29}[Bb][Oo][Tt]$")
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


class KnowledgeBaseError(Exception):
    """The clinic folder is invalid; `errors` lists every problem with file and line."""

    def __init__(self, errors: list[SourceError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class _Collector:
    """Collects errors while validation goes on."""

    def __init__(self) -> None:
        self.errors: list[SourceError] = []

    def add(self, file: str, line: int, message: str) -> None:
        self.errors.append(SourceError(file, line, message))


def load_clinic(clinic_dir: Path, known_topics: Iterable[str] | None = None) -> Clinic:
    """Load the clinic folder, raising `KnowledgeBaseError` listing every problem found.

    `known_topics` are the topic keys the bot can recognise (its topic intents); a KB topic
    outside that set is an error, since no client question could ever reach it.
    """
    clinic_dir = Path(clinic_dir)
    errs = _Collector()
    kb_dir = clinic_dir / "knowledge"
    digest = hashlib.sha256()

    def read(path: Path) -> Any:
        name = _display(path, clinic_dir)
        try:
            digest.update(name.encode() + b"\0" + path.read_bytes())
            return load_yaml(path, name)
        except SourceError as exc:
            errs.errors.append(exc)
        except OSError as exc:
            errs.add(name, 0, f"cannot read file: {exc.strerror}")
        return None

    settings_path = clinic_dir / "settings.yml"
    if not settings_path.is_file():
        raise KnowledgeBaseError([SourceError(str(settings_path), 0, "file is missing")])
    raw_settings = read(settings_path)
    screening_path = clinic_dir / SCREENING_FILE
    if not screening_path.is_file():
        errs.add(_display(screening_path, clinic_dir), 0, "file is missing")
    raw_screening = read(screening_path) if screening_path.is_file() else None
    meta_path, phrases_path = kb_dir / META_FILE, kb_dir / PHRASES_FILE
    for required in (meta_path, phrases_path):
        if not required.is_file():
            errs.add(_display(required, clinic_dir), 0, "file is missing")
    if errs.errors:
        raise KnowledgeBaseError(errs.errors)

    meta = read(meta_path)
    phrases_raw = read(phrases_path)
    topic_files = sorted(p for p in kb_dir.glob("*.yml") if p.name not in (META_FILE, PHRASES_FILE))
    topic_docs = [(p, read(p)) for p in topic_files]
    if errs.errors:
        raise KnowledgeBaseError(errs.errors)

    meta_name = _display(meta_path, clinic_dir)
    version, kinds, sources = _parse_meta(meta, meta_name, errs)
    settings = _parse_settings(raw_settings, _display(settings_path, clinic_dir), kinds, errs)
    phrases = _parse_phrases(phrases_raw, _display(phrases_path, clinic_dir), errs)
    known = set(known_topics) if known_topics is not None else None
    topics: dict[str, Topic] = {}
    for path, doc in topic_docs:
        _parse_topic_file(doc, _display(path, clinic_dir), kinds, sources, known, topics, errs)
    symptom_topics = {k for k, t in topics.items() if t.type == "symptom"}
    used_signs = {flag.sign for t in topics.values() for flag in t.red_flags}
    lexicon = parse_lexicon(
        raw_screening, _display(screening_path, clinic_dir), symptom_topics, errs, used_signs
    )
    if errs.errors:
        raise KnowledgeBaseError(errs.errors)
    kb = KnowledgeBase(
        version=f"{version}+{digest.hexdigest()[:8]}",
        topics=topics,
        kinds=kinds,
        sources=sources,
        phrases=phrases,
    )
    assert settings is not None and lexicon is not None  # no errors means both parsed
    return Clinic(settings=settings, kb=kb, lexicon=lexicon)


def clinic_files(clinic_dir: Path) -> list[Path]:
    """Every file whose change means the clinic data must be reloaded."""
    clinic_dir = Path(clinic_dir)
    return [
        clinic_dir / "settings.yml",
        clinic_dir / SCREENING_FILE,
        *sorted((clinic_dir / "knowledge").glob("*.yml")),
    ]


def _display(path: Path, clinic_dir: Path) -> str:
    try:
        return str(Path(clinic_dir.name) / path.relative_to(clinic_dir))
    except ValueError:
        return str(path)


def _mapping(value: Any, file: str, line: int, what: str, errs: _Collector) -> LineDict | None:
    if isinstance(value, LineDict):
        return value
    errs.add(file, getattr(value, "line", line), f"{what} must be a mapping of keys to values")
    return None


def _check_keys(
    node: LineDict, allowed: set[str], required: set[str], file: str, what: str, errs: _Collector
) -> None:
    for key in node:
        if key not in allowed:
            hint = f"; allowed: {', '.join(sorted(allowed))}"
            errs.add(file, node.line_of(key), f"unknown key '{key}' in {what}{hint}")
    for key in sorted(required - set(node)):
        errs.add(file, node.line, f"missing '{key}' in {what}")


def _text(node: LineDict, key: str, file: str, what: str, errs: _Collector) -> str | None:
    value = node.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if key in node:
        errs.add(file, node.line_of(key), f"'{key}' of {what} must be non-empty text")
    return None


def _check_template(
    text: str, allowed: set[str], file: str, line: int, what: str, errs: _Collector
) -> None:
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


def _parse_meta(meta: Any, file: str, errs: _Collector):
    kinds: dict[str, TreatmentKind] = {}
    sources: dict[str, str] = {}
    node = _mapping(meta, file, 1, "the KB file", errs)
    if node is None:
        return "invalid", kinds, sources
    _check_keys(
        node,
        {"version", "treatment_kinds", "sources"},
        {"version", "treatment_kinds", "sources"},
        file,
        "kb.yml",
        errs,
    )
    version = str(node.get("version", "")).strip() or "unversioned"
    raw_kinds = (
        _mapping(
            node.get("treatment_kinds"),
            file,
            node.line_of("treatment_kinds"),
            "treatment_kinds",
            errs,
        )
        if "treatment_kinds" in node
        else None
    )
    for key, value in (raw_kinds or {}).items():
        kn = _mapping(value, file, raw_kinds.line_of(key), f"treatment kind '{key}'", errs)
        if kn is None:
            continue
        _check_keys(kn, {"label", "shift_days"}, {"label"}, file, f"treatment kind '{key}'", errs)
        shifts = {"activity": 0, "symptom": 0}
        if "shift_days" in kn:
            sn = _mapping(kn["shift_days"], file, kn.line_of("shift_days"), "shift_days", errs)
            if sn is not None:
                _check_keys(sn, {"activity", "symptom"}, set(), file, "shift_days", errs)
                for part in ("activity", "symptom"):
                    val = sn.get(part, 0)
                    if isinstance(val, bool) or not isinstance(val, int):
                        errs.add(
                            file,
                            sn.line_of(part),
                            f"shift_days.{part} must be a whole number of days",
                        )
                    else:
                        shifts[part] = val
        kinds[str(key)] = TreatmentKind(
            str(key), str(kn.get("label", key)), shifts["activity"], shifts["symptom"]
        )
    raw_sources = (
        _mapping(node.get("sources"), file, node.line_of("sources"), "sources", errs)
        if "sources" in node
        else None
    )
    for key, value in (raw_sources or {}).items():
        sources[str(key)] = str(value)
    return version, kinds, sources


def _parse_hours(node: Any, file: str, line: int, errs: _Collector) -> OpeningHours | None:
    hn = _mapping(node, file, line, "opening_hours", errs)
    if hn is None:
        return None
    _check_keys(hn, set(WEEKDAYS) | {"text"}, set(WEEKDAYS), file, "opening_hours", errs)
    spans: list[tuple[time, time] | None] = []
    for day in WEEKDAYS:
        value = hn.get(day)
        if value is None or (isinstance(value, str) and value.strip().lower() == "closed"):
            spans.append(None)
            continue
        match = _HOURS.match(str(value))
        if not match:
            errs.add(
                file,
                hn.line_of(day),
                f"opening_hours.{day} must be 'HH:MM-HH:MM' or 'closed', not '{value}'",
            )
            spans.append(None)
            continue
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60) or (h1, m1) >= (h2, m2):
            errs.add(
                file, hn.line_of(day), f"opening_hours.{day}: '{value}' is not a valid time span"
            )
            spans.append(None)
            continue
        spans.append((time(h1, m1), time(23, 59, 59) if h2 == 24 else time(h2, m2)))
    text = hn.get("text")
    if not isinstance(text, str) or not text.strip():
        text = ", ".join(
            f"{d.capitalize()} {s[0]:%H:%M}-{s[1]:%H:%M}"
            for d, s in zip(WEEKDAYS, spans, strict=False)
            if s
        )
    return OpeningHours(tuple(spans), text.strip())


def _parse_settings(raw: Any, file: str, kinds: dict[str, TreatmentKind], errs: _Collector):
    node = _mapping(raw, file, 1, "settings.yml", errs)
    if node is None:
        return None
    node = node.get("clinic") if set(node) == {"clinic"} else node
    node = _mapping(node, file, 1, "clinic settings", errs)
    if node is None:
        return None
    required = {
        "name",
        "phone",
        "emergency_number",
        "time_zone",
        "default_treatment_kind",
        "opening_hours",
    }
    _check_keys(
        node,
        required | {"date_order", "escalation", "alerts", "telegram", "web"},
        required,
        file,
        "clinic settings",
        errs,
    )
    values = {
        k: _text(node, k, file, "clinic settings", errs) for k in required - {"opening_hours"}
    }
    tz = values.get("time_zone")
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            errs.add(
                file,
                node.line_of("time_zone"),
                f"unknown time zone '{tz}' (use an IANA name such as Europe/London)",
            )
    kind = values.get("default_treatment_kind")
    if kind and kinds and kind not in kinds:
        errs.add(
            file,
            node.line_of("default_treatment_kind"),
            f"unknown treatment kind '{kind}'; known: {', '.join(kinds)}",
        )
    order = str(node.get("date_order", "DMY")).upper()
    if order not in ("DMY", "MDY"):
        errs.add(file, node.line_of("date_order"), "date_order must be DMY or MDY")
    hours = (
        _parse_hours(node.get("opening_hours"), file, node.line_of("opening_hours"), errs)
        if "opening_hours" in node
        else None
    )
    response_minutes, deadline_minutes = 30, 30
    if "escalation" in node:
        en = _mapping(node["escalation"], file, node.line_of("escalation"), "escalation", errs)
        if en is not None:
            _check_keys(
                en, {"response_minutes", "ack_deadline_minutes"}, set(), file, "escalation", errs
            )
            for key in ("response_minutes", "ack_deadline_minutes"):
                value = en.get(key, 30)
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    errs.add(
                        file,
                        en.line_of(key),
                        f"escalation.{key} must be a whole number of minutes above 0",
                    )
            response_minutes = en.get("response_minutes", 30)
            deadline_minutes = en.get("ack_deadline_minutes", 30)
    alerts = (
        _parse_alerts(node.get("alerts"), file, node.line_of("alerts"), errs)
        if "alerts" in node
        else AlertChannels()
    )
    telegram = _parse_telegram(node.get("telegram"), file, node.line_of("telegram"), errs)
    web = _parse_web(node.get("web"), file, node.line_of("web"), errs)
    if any(v is None for v in values.values()) or hours is None:
        return None
    return ClinicSettings(
        name=values["name"],
        phone=values["phone"],
        emergency_number=values["emergency_number"],
        time_zone=values["time_zone"],
        date_order=order,
        default_treatment_kind=values["default_treatment_kind"],
        opening_hours=hours,
        response_minutes=response_minutes,
        ack_deadline_minutes=deadline_minutes,
        alerts=alerts,
        telegram=telegram,
        web=web,
    )


def _parse_telegram(raw: Any, file: str, line: int, errs: _Collector) -> TelegramSettings:
    """The clients' Telegram bot: `bot_username` (for deep links) and `link_valid_days`."""
    if raw is None:
        return TelegramSettings()
    node = _mapping(raw, file, line, "telegram", errs)
    if node is None:
        return TelegramSettings()
    _check_keys(node, {"bot_username", "link_valid_days"}, set(), file, "telegram", errs)
    username = node.get("bot_username")
    if username is not None:
        username = str(username).strip()
        if username and not _BOT_USERNAME.match(username):
            errs.add(
                file,
                node.line_of("bot_username"),
                f"telegram.bot_username '{username}' is not a Telegram bot username: 5-32 "
                "letters, digits or underscores ending in 'bot', without the @",
            )
            username = None
    days = node.get("link_valid_days", 14)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        errs.add(
            file,
            node.line_of("link_valid_days"),
            "telegram.link_valid_days must be a whole number of days, 1 or more",
        )
        days = 14
    return TelegramSettings(username or None, days)


def _parse_web(raw: Any, file: str, line: int, errs: _Collector) -> WebSettings:
    """The website widget: `colour`, `allowed_origins` (sites that embed it), `max_message_length`."""
    if raw is None:
        return WebSettings()
    node = _mapping(raw, file, line, "web", errs)
    if node is None:
        return WebSettings()
    _check_keys(node, {"colour", "allowed_origins", "max_message_length"}, set(), file, "web", errs)
    colour = str(node.get("colour", WebSettings.colour)).strip()
    if not _COLOUR.match(colour):
        errs.add(
            file,
            node.line_of("colour"),
            f"web.colour '{colour}' is not a colour: write it as #rrggbb (e.g. \"#1f6f78\")",
        )
        colour = WebSettings.colour
    origins = node.get("allowed_origins", [])
    if not isinstance(origins, list):
        errs.add(
            file,
            node.line_of("allowed_origins"),
            "web.allowed_origins must be a list of site addresses, e.g. "
            '["https://www.example-clinic.com"]',
        )
        origins = []
    checked = []
    for origin in origins:
        text = str(origin).strip().rstrip("/")
        if not ORIGIN_PATTERN.match(text):
            errs.add(
                file,
                getattr(origin, "line", node.line_of("allowed_origins")),
                f"web.allowed_origins: '{origin}' is not a site address: scheme and host only, "
                "like https://www.example-clinic.com (no path)",
            )
            continue
        checked.append(text.lower())
    limit = node.get("max_message_length", WebSettings.max_message_length)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 20 <= limit <= 10000:
        errs.add(
            file,
            node.line_of("max_message_length"),
            "web.max_message_length must be a whole number of characters from 20 to 10000",
        )
        limit = WebSettings.max_message_length
    return WebSettings(colour.lower(), tuple(checked), limit)


def _parse_alerts(raw: Any, file: str, line: int, errs: _Collector) -> AlertChannels:
    """Staff alert channels: telegram_staff, email, webhook (secrets only from the environment)."""
    if raw is None:
        return AlertChannels()
    node = _mapping(raw, file, line, "alerts", errs)
    if node is None:
        return AlertChannels()
    _check_keys(node, {"telegram_staff", "email", "webhook"}, set(), file, "alerts", errs)
    chat_id = url = None
    email = None
    if node.get("telegram_staff") is not None:
        tn = _mapping(
            node["telegram_staff"],
            file,
            node.line_of("telegram_staff"),
            "alerts.telegram_staff",
            errs,
        )
        if tn is not None:
            _check_keys(tn, {"chat_id"}, {"chat_id"}, file, "alerts.telegram_staff", errs)
            chat_id = str(tn.get("chat_id", "")).strip() or None
    if node.get("email") is not None:
        mn = _mapping(node["email"], file, node.line_of("email"), "alerts.email", errs)
        if mn is not None:
            keys = {"to", "from", "smtp_host", "smtp_port", "starttls"}
            _check_keys(mn, keys, {"to", "from", "smtp_host"}, file, "alerts.email", errs)
            to = mn.get("to")
            recipients = [to] if isinstance(to, str) else to
            if not isinstance(recipients, list) or not all(
                isinstance(r, str) and "@" in r for r in recipients
            ):
                errs.add(
                    file,
                    mn.line_of("to"),
                    "alerts.email.to must be an e-mail address or a list of them",
                )
                recipients = []
            port = mn.get("smtp_port", 25)
            if isinstance(port, bool) or not isinstance(port, int):
                errs.add(
                    file, mn.line_of("smtp_port"), "alerts.email.smtp_port must be a port number"
                )
                port = 25
            if recipients and "from" in mn and "smtp_host" in mn:
                email = EmailAlerts(
                    tuple(recipients),
                    str(mn["from"]),
                    str(mn["smtp_host"]),
                    port,
                    bool(mn.get("starttls", False)),
                )
    if node.get("webhook") is not None:
        wn = _mapping(node["webhook"], file, node.line_of("webhook"), "alerts.webhook", errs)
        if wn is not None:
            _check_keys(wn, {"url"}, {"url"}, file, "alerts.webhook", errs)
            url = str(wn.get("url", "")).strip()
            if url and not url.startswith(("http://", "https://")):
                errs.add(
                    file,
                    wn.line_of("url"),
                    "alerts.webhook.url must start with http:// or https://",
                )
                url = None
    return AlertChannels(chat_id, email, url or None)


def _flatten(node: LineDict, prefix: str = "") -> Iterable[tuple[str, Any, int]]:
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, LineDict):
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value, node.line_of(key)


def _parse_phrases(raw: Any, file: str, errs: _Collector) -> dict[str, str]:
    node = _mapping(raw, file, 1, "phrases.yml", errs)
    phrases: dict[str, str] = {}
    if node is None:
        return phrases
    lines: dict[str, int] = {}
    for key, value, line in _flatten(node):
        lines[key] = line
        if key not in REQUIRED_PHRASES:
            errs.add(
                file, line, f"unknown phrase '{key}'; known: {', '.join(sorted(REQUIRED_PHRASES))}"
            )
        elif not isinstance(value, str) or (not value.strip() and key != "summary.item_separator"):
            errs.add(file, line, f"phrase '{key}' must be text")
        else:
            phrases[key] = value.strip() if key != "summary.item_separator" else value
            allowed = CLINIC_PLACEHOLDERS | REQUIRED_PHRASES[key]
            _check_template(value, allowed, file, line, f"phrase '{key}'", errs)
    for key in sorted(set(REQUIRED_PHRASES) - set(lines)):
        errs.add(file, node.line, f"missing phrase '{key}'")
    return phrases


def _sources(
    node: LineDict, file: str, known: dict[str, str], what: str, errs: _Collector
) -> tuple[str, ...]:
    value = node.get("sources")
    if value is None:
        errs.add(
            file, node.line, f"missing 'sources' in {what} (cite where the guidance comes from)"
        )
        return ()
    items = [value] if isinstance(value, str | int) else value
    if not isinstance(items, list) or not items:
        errs.add(
            file, node.line_of("sources"), f"'sources' of {what} must be a list of source keys"
        )
        return ()
    result = []
    for item in items:
        if str(item) not in known:
            errs.add(
                file,
                node.line_of("sources"),
                f"unknown source '{item}' in {what}; known: {', '.join(known)}",
            )
        result.append(str(item))
    return tuple(result)


def _parse_windows(
    raw: Any,
    topic: LineDict,
    key: str,
    ttype: str,
    file: str,
    sources: dict[str, str],
    errs: _Collector,
    what: str,
) -> tuple[Window, ...]:
    if not isinstance(raw, LineList) or not raw:
        errs.add(
            file, topic.line_of(key), f"'{key}' of {what} must be a non-empty list of day windows"
        )
        return ()
    windows: list[Window] = []
    allowed = {"days", "answer", "sources"} | (
        {"status"} if ttype == "activity" else {"expected", "level"}
    )
    required = {"days", "answer"} | ({"status"} if ttype == "activity" else {"expected"})
    for index, item in enumerate(raw):
        wn = _mapping(item, file, raw.line_of(index), f"a window of {what}", errs)
        if wn is None:
            continue
        wwhat = f"{what}, window days {wn.get('days', '?')}"
        _check_keys(wn, allowed, required, file, wwhat, errs)
        days = parse_day_range(wn.get("days"))
        if days is None and "days" in wn:
            errs.add(
                file,
                wn.line_of("days"),
                f"{wwhat}: days must be like 3, '0-1', '7+', 'before' or 'any'",
            )
        answer = _text(wn, "answer", file, wwhat, errs)
        if answer:
            _check_template(answer, CLINIC_PLACEHOLDERS, file, wn.line_of("answer"), wwhat, errs)
        status, expected, level = None, None, "none"
        if ttype == "activity":
            status = wn.get("status")
            if "status" in wn and status not in ACTIVITY_STATUSES:
                errs.add(
                    file,
                    wn.line_of("status"),
                    f"{wwhat}: status '{status}' does not exist; use one of {', '.join(ACTIVITY_STATUSES)}",
                )
        else:
            expected = wn.get("expected")
            if "expected" in wn and not isinstance(expected, bool):
                errs.add(file, wn.line_of("expected"), f"{wwhat}: expected must be true or false")
            level = wn.get("level", "none")
            if level not in LEVELS:
                errs.add(
                    file,
                    wn.line_of("level"),
                    f"{wwhat}: level '{level}' does not exist; use one of {', '.join(LEVELS)}",
                )
            elif expected is True and level != "none":
                errs.add(
                    file,
                    wn.line_of("level"),
                    f"{wwhat}: an expected symptom has level none, not '{level}'",
                )
            elif expected is False and level == "none":
                errs.add(
                    file,
                    wn.line_of("expected") if "level" not in wn else wn.line_of("level"),
                    f"{wwhat}: a symptom that is not expected needs a level (question, urgent or emergency)",
                )
        src = _sources(wn, file, sources, wwhat, errs)
        if days is not None and answer:
            windows.append(Window(days, answer, src, Where(file, wn.line), status, expected, level))
    _check_coverage(windows, file, topic.line_of(key), what, errs)
    return tuple(windows)


def _check_coverage(
    windows: list[Window], file: str, line: int, what: str, errs: _Collector
) -> None:
    """Windows must not overlap, and must cover every day from 0 on."""
    ordered = sorted(windows, key=lambda w: -(10**9) if w.days.start is None else w.days.start)
    for first, second in zip(ordered, ordered[1:], strict=False):
        first_end = 10**9 if first.days.end is None else first.days.end
        second_start = -(10**9) if second.days.start is None else second.days.start
        if second_start <= first_end:
            errs.add(
                file,
                second.where.line,
                f"{what}: days {second.days.text} overlap days {first.days.text} (line {first.where.line})",
            )
    covered_to = -1  # days before 0 are optional
    for window in ordered:
        if window.days.end is not None and window.days.end < 0:
            continue
        start = 0 if window.days.start is None else window.days.start
        if start > covered_to + 1:
            missing = (
                f"{covered_to + 1}"
                if start - 1 == covered_to + 1
                else f"{covered_to + 1}-{start - 1}"
            )
            errs.add(file, line, f"{what}: days {missing} are not covered by any window")
        covered_to = max(covered_to, 10**9 if window.days.end is None else window.days.end)
    if windows and covered_to < 10**9:
        errs.add(
            file,
            line,
            f"{what}: days after {covered_to} are not covered (end the last window with '+', e.g. '7+')",
        )


def _parse_red_flags(
    raw: Any, topic: LineDict, file: str, sources: dict[str, str], errs: _Collector, what: str
) -> tuple[RedFlag, ...]:
    if not isinstance(raw, LineList):
        errs.add(file, topic.line_of("red_flags"), f"'red_flags' of {what} must be a list")
        return ()
    flags = []
    for index, item in enumerate(raw):
        fn = _mapping(item, file, raw.line_of(index), f"a red flag of {what}", errs)
        if fn is None:
            continue
        fwhat = f"{what}, red flag '{fn.get('sign', '?')}'"
        _check_keys(
            fn,
            {"sign", "days", "level", "answer", "sources"},
            {"sign", "level", "answer"},
            file,
            fwhat,
            errs,
        )
        sign = fn.get("sign")
        if "sign" in fn and sign not in RED_FLAG_SIGNS:
            errs.add(
                file,
                fn.line_of("sign"),
                f"{fwhat}: unknown sign '{sign}'; known: {', '.join(RED_FLAG_SIGNS)}",
            )
        level = fn.get("level")
        if "level" in fn and level not in LEVELS[1:]:
            errs.add(
                file,
                fn.line_of("level"),
                f"{fwhat}: level '{level}' does not exist for a red flag; use question, urgent or emergency",
            )
        days = parse_day_range(fn.get("days", "any"))
        if days is None:
            errs.add(
                file,
                fn.line_of("days"),
                f"{fwhat}: days must be like 3, '0-1', '7+', 'before' or 'any'",
            )
        answer = _text(fn, "answer", file, fwhat, errs)
        if answer:
            _check_template(answer, CLINIC_PLACEHOLDERS, file, fn.line_of("answer"), fwhat, errs)
        src = _sources(fn, file, sources, fwhat, errs)
        if sign in RED_FLAG_SIGNS and level in LEVELS[1:] and days and answer:
            flags.append(RedFlag(sign, days, level, answer, src, Where(file, fn.line)))
    return tuple(flags)


def _parse_topic_file(
    doc: Any,
    file: str,
    kinds: dict[str, TreatmentKind],
    sources: dict[str, str],
    known: set[str] | None,
    topics: dict[str, Topic],
    errs: _Collector,
) -> None:
    node = _mapping(doc, file, 1, "a topic file", errs)
    if node is None:
        return
    _check_keys(node, {"topics"}, {"topics"}, file, "a topic file", errs)
    tn = (
        _mapping(node.get("topics"), file, node.line_of("topics"), "topics", errs)
        if "topics" in node
        else None
    )
    for key, value in (tn or {}).items():
        what = f"topic '{key}'"
        line = tn.line_of(key)
        if key in topics:
            errs.add(file, line, f"{what} is already defined at {topics[key].where}")
            continue
        if known is not None and key not in known:
            errs.add(
                file,
                line,
                f"unknown topic '{key}': no intent of that name in domain.yml; known topics: {', '.join(sorted(known))}",
            )
        topic = _mapping(value, file, line, what, errs)
        if topic is None:
            continue
        ttype = topic.get("type")
        if ttype not in TOPIC_TYPES:
            errs.add(
                file,
                topic.line_of("type"),
                f"{what}: type must be one of {', '.join(TOPIC_TYPES)}, not '{ttype}'",
            )
            continue
        common = {"type", "label"}
        if ttype == "general":
            _check_keys(
                topic,
                common | {"answer", "sources", "level", "by_kind"},
                {"type", "answer"},
                file,
                what,
                errs,
            )
            answer = _text(topic, "answer", file, what, errs)
            if answer:
                _check_template(
                    answer, CLINIC_PLACEHOLDERS, file, topic.line_of("answer"), what, errs
                )
            level = topic.get("level", "none")
            if level not in LEVELS:
                errs.add(
                    file,
                    topic.line_of("level"),
                    f"{what}: level '{level}' does not exist; use one of {', '.join(LEVELS)}",
                )
            src = _sources(topic, file, sources, what, errs)
            windows = (
                (
                    Window(
                        DayRange(None, None, "any"),
                        answer,
                        src,
                        Where(file, topic.line),
                        level=level,
                    ),
                )
                if answer
                else ()
            )
            by_kind = {}
            if "by_kind" in topic:
                bk = _mapping(
                    topic["by_kind"], file, topic.line_of("by_kind"), f"by_kind of {what}", errs
                )
                for kind, text in (bk or {}).items():
                    if kind not in kinds:
                        errs.add(
                            file,
                            bk.line_of(kind),
                            f"{what}: unknown treatment kind '{kind}'; known: {', '.join(kinds)}",
                        )
                    elif not isinstance(text, str) or not text.strip():
                        errs.add(
                            file,
                            bk.line_of(kind),
                            f"{what}: by_kind.{kind} must be the answer text",
                        )
                    else:
                        _check_template(
                            text, CLINIC_PLACEHOLDERS, file, bk.line_of(kind), what, errs
                        )
                        by_kind[kind] = (
                            Window(
                                DayRange(None, None, "any"),
                                text.strip(),
                                src,
                                Where(file, bk.line_of(kind)),
                                level=level,
                            ),
                        )
            topics[key] = Topic(
                key, ttype, str(topic.get("label", key)), Where(file, line), windows, by_kind
            )
            continue
        allowed = common | {"windows", "by_kind"} | ({"red_flags"} if ttype == "symptom" else set())
        _check_keys(topic, allowed, {"type", "windows"}, file, what, errs)
        windows = (
            _parse_windows(topic.get("windows"), topic, "windows", ttype, file, sources, errs, what)
            if "windows" in topic
            else ()
        )
        by_kind: dict[str, tuple[Window, ...]] = {}
        if "by_kind" in topic:
            bk = _mapping(
                topic["by_kind"], file, topic.line_of("by_kind"), f"by_kind of {what}", errs
            )
            for kind, kraw in (bk or {}).items():
                if kind not in kinds:
                    errs.add(
                        file,
                        bk.line_of(kind),
                        f"{what}: unknown treatment kind '{kind}'; known: {', '.join(kinds)}",
                    )
                    continue
                by_kind[kind] = _parse_windows(
                    kraw, bk, kind, ttype, file, sources, errs, f"{what} ({kind})"
                )
        flags = (
            _parse_red_flags(topic["red_flags"], topic, file, sources, errs, what)
            if "red_flags" in topic
            else ()
        )
        topics[key] = Topic(
            key, ttype, str(topic.get("label", key)), Where(file, line), windows, by_kind, flags
        )
