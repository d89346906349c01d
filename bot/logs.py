"""No secret and no client text in any log line (issue 14).

`install()` runs first in every process we start (`aftercare ...`, Rasa, the action server). It
wraps the logging module's record factory, so every record of every library (Rasa and its
structlog, sanic, httpx, python-telegram-bot, ours) and every Python warning is redacted once,
when it is made, before any handler formats it:

- a Telegram bot token, anywhere (`.../bot123456:AA.../getUpdates` in httpx's request lines);
- every secret value given to `install` (the deployment's secrets, from the environment);
- the text of the client message being handled: code that handles one wraps the work in
  `hiding(text)` (a context variable, so it follows the message through every await).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import re
from collections.abc import Iterable, Iterator

# `bot<digits>:<35 url-safe characters>` as Telegram issues them; also without the `bot` prefix.
TELEGRAM_TOKEN = re.compile(r"(?<![A-Za-z0-9])(bot)?\d{5,}:[A-Za-z0-9_-]{30,}")
SECRET_MARK = "<secret>"
TEXT_MARK = "<client text>"
# Shorter secrets are refused by the settings; shorter values would redact ordinary words.
MIN_SECRET_LENGTH = 8
# Pieces of a client message this long or longer are hidden too (a library may log a part of it).
MIN_FRAGMENT_LENGTH = 8
# A whole message shorter than this ("ok", "yes") is not hidden: it would blank common words.
MIN_MESSAGE_LENGTH = 4
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CUT = "\x00"
_PIECES = re.compile(r"[\"'{}\[\]:,;\n\r\t]+")
# Library loggers whose lower lines are request-by-request noise: URLs, or whole updates
# (python-telegram-bot's DEBUG prints each update, text included, before any handler runs).
QUIET_LOGGERS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "hpack": logging.WARNING,
    "telegram": logging.INFO,
}

_client_text: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "aftercare_client_text", default=()
)
_secrets: tuple[str, ...] = ()
_installed = False


def _fragments(text: str) -> tuple[str, ...]:
    """The message, how JSON and Python escape it, and each of its pieces between quotes,
    brackets, colons, commas and line breaks that is long enough, longest first."""
    whole = text.strip()
    parts = {whole, json.dumps(whole)[1:-1], repr(whole)[1:-1]}
    parts |= {p.strip() for p in _PIECES.split(whole)}
    kept = [
        p
        for p in parts
        if len(p) >= MIN_FRAGMENT_LENGTH or (p == whole and len(p) >= MIN_MESSAGE_LENGTH)
    ]
    return tuple(sorted(kept, key=len, reverse=True))


@contextlib.contextmanager
def hiding(text: str | None) -> Iterator[None]:
    """Within this block (and what it awaits), `text` never reaches a log line."""
    if not text or not text.strip():
        yield
        return
    token = _client_text.set(_client_text.get() + (text,))
    try:
        yield
    finally:
        _client_text.reset(token)


def hide_also(texts: Iterable[str]) -> None:
    """Inside a `hiding` block: hide these texts too until it ends (the conversation's
    earlier messages, which a library may print with the current one). Outside: nothing.
    Cheap on every message: the texts are only read when a log line is written."""
    current = _client_text.get()
    if current:
        _client_text.set(current + tuple(t for t in texts if t and t not in current))


def redact(line: str) -> str:
    """`line` without tokens, secrets or the client text being handled."""
    if not line:
        return line
    line = TELEGRAM_TOKEN.sub(lambda m: ("bot" if m.group(1) else "") + SECRET_MARK, line)
    for secret in _secrets:
        if secret in line:
            line = line.replace(secret, SECRET_MARK)
    hidden = _client_text.get()
    if hidden:
        # A colour code ends in a letter ("\x1b[35m"): mark where it ends, so the text right
        # after it still starts a word (Rasa colours its console lines in a terminal).
        marked = _ANSI.sub(lambda m: m.group(0) + _CUT, line) if "\x1b" in line else line
        line = _pattern(hidden).sub(TEXT_MARK, marked).replace(_CUT, "")
    return line


@functools.lru_cache(maxsize=256)
def _pattern(texts: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for every fragment of the texts (longest first), whole words only:
    "fine" leaves "define" alone. Made once per set of texts, on the first log line."""
    fragments = sorted({f for text in texts for f in _fragments(text)}, key=len, reverse=True)
    if not fragments:
        return re.compile(r"(?!x)x")  # matches nothing
    alternatives = "|".join(re.escape(f) for f in fragments)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _redacted_record(record: logging.LogRecord) -> logging.LogRecord:
    """Render the record's message (and traceback) now, redacted."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep it visible, but as plain text
        message = f"{record.msg!r} {record.args!r}"
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def add_secrets(secrets: Iterable[str | None]) -> None:
    """Hide these values too (e.g. a webhook URL with its key in the path, read from YAML)."""
    global _secrets
    extra = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
    if not extra <= set(_secrets):
        _secrets = tuple(sorted(set(_secrets) | extra, key=len, reverse=True))


def install(secrets: Iterable[str | None] = ()) -> None:
    """Redact every log record of this process from now on; Python warnings are logged too.

    Safe to call more than once: later calls add secrets."""
    global _installed
    add_secrets(secrets)
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        return _redacted_record(make_record(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    logging.captureWarnings(True)
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    _installed = True
