"""Telegram for clients: `bot.channels.telegram.TelegramInput` in credentials.yml."""

from __future__ import annotations

_EXPORTS = {
    "TelegramInput": "bot.channels.telegram.input",
    "TelegramOutput": "bot.channels.telegram.output",
    "chat_id_for": "bot.channels.telegram.output",
    "sender_id_for": "bot.channels.telegram.output",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    """Rasa and python-telegram-bot load only when the channel itself is used: importing
    `bot.channels.telegram.config` (the runner, the CLI) must not cost their start-up."""
    if name not in _EXPORTS:
        raise AttributeError(name)
    import importlib  # lazy export (PEP 562): the start-up cost above

    return getattr(importlib.import_module(_EXPORTS[name]), name)
