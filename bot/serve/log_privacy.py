"""Where a client message enters Rasa or the action server, its text is hidden from the logs.

`bot.logs` redacts every log record of the process; these hooks tell it which text to hide
while a message is handled: Rasa's `MessageProcessor` (every channel, REST, widget and
Telegram, goes through `handle_message`; the HTTP API's parse through `parse_message`) and
rasa-sdk's `ActionExecutor.run` (the tracker's latest message). Installed by
`bot.serve.rasa_server`, `bot.serve.action_server` and `LocalBot`; idempotent.
"""

from __future__ import annotations

import functools
from typing import Any

from bot import logs
from bot.settings import Settings


def install(settings: Settings) -> None:
    """Redact this process's logs: the deployment's secrets, tokens, the message in hand."""
    logs.install(settings.secret_values())


def hide_in_rasa() -> None:
    """Rasa's message processing runs inside `logs.hiding(message text)`."""
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor.handle_message, "_hides_text", False):
        return
    handle, parse = MessageProcessor.handle_message, MessageProcessor.parse_message

    @functools.wraps(handle)
    async def handle_message(self: MessageProcessor, message: Any) -> Any:
        with logs.hiding(getattr(message, "text", None)):
            return await handle(self, message)

    @functools.wraps(parse)
    async def parse_message(self: MessageProcessor, message: Any, *args: Any, **kw: Any) -> Any:
        with logs.hiding(getattr(message, "text", None)):
            return await parse(self, message, *args, **kw)

    handle_message._hides_text = True  # type: ignore[attr-defined]
    MessageProcessor.handle_message = handle_message
    MessageProcessor.parse_message = parse_message


def latest_text(action_call: dict[str, Any]) -> str | None:
    """The client text an action call is about (the tracker's latest message)."""
    latest = (action_call.get("tracker") or {}).get("latest_message") or {}
    text = latest.get("text")
    return text if isinstance(text, str) else None


def hide_in_actions() -> None:
    """rasa-sdk runs each action inside `logs.hiding(the latest message's text)`."""
    from rasa_sdk.executor import ActionExecutor

    if getattr(ActionExecutor.run, "_hides_text", False):
        return
    run = ActionExecutor.run

    @functools.wraps(run)
    async def run_action(self: ActionExecutor, action_call: dict[str, Any]) -> Any:
        with logs.hiding(latest_text(action_call)):
            return await run(self, action_call)

    run_action._hides_text = True  # type: ignore[attr-defined]
    ActionExecutor.run = run_action
