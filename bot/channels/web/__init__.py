"""The website chat widget: `bot.channels.web.WebInput` in credentials.yml."""

from __future__ import annotations

_EXPORTS = {"WebInput": "bot.channels.web.input", "WebOutput": "bot.channels.web.recording"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    """Rasa and Sanic load only when the channel itself is used: importing
    `bot.channels.web.format` (the runner, the demo site) must not cost their start-up."""
    if name not in _EXPORTS:
        raise AttributeError(name)
    import importlib  # lazy export (PEP 562): the start-up cost above

    return getattr(importlib.import_module(_EXPORTS[name]), name)
