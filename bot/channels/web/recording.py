"""The widget's conversation as Rasa keeps it, and what the channel does when a turn gives
the client nothing (`bot.channels.recovery`): a red flag is still screened and its reply joins
the chat; a message whose turn never ended is answered there later."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.events import BotUttered
from sanic.request import Request

from bot import logs
from bot.channels.recovery import Rescue, inbound_log
from bot.service import AftercareService, Reply
from bot.service.messages import QUIET_MARKER
from bot.storage.inbound import RECOVERED, RECOVERING, InboundLog, Pending

log = logging.getLogger(__name__)

CHANNEL_NAME = "web"


class WebOutput(CollectingOutputChannel):
    """Collects a turn's replies; the widget reads them back from the conversation."""

    quiet = False  # the action was quiet on purpose (a team member has the chat)

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    async def send_custom_json(self, recipient_id: str, json_message: dict, **kwargs: Any) -> None:
        """Only our quiet marker comes this way: noted, never shown."""
        if json_message == QUIET_MARKER:
            self.quiet = True


async def record_reply(agent: Any, conversation: str, reply: Reply) -> None:
    """Add a reply to a conversation as a bot message (the widget reads it from the history);
    a red-flag reply keeps its level for the widget's banner."""
    metadata = {"response_key": reply.key}
    if reply.escalation:
        metadata["escalation"] = reply.escalation
    if reply.alert_unsent:
        metadata["alert_unsent"] = True
    async with agent.lock_store.lock(conversation):
        tracker = await agent.processor.fetch_tracker_and_update_session(conversation, WebOutput())
        tracker.update(BotUttered(reply.text, metadata=metadata))
        await agent.processor.save_tracker(tracker)


class Recovering:
    """The widget channel's part of "nothing lost" (mixed into `WebInput`, which provides
    `service` and the Sanic app)."""

    service: Callable[[], AftercareService]
    sanic_app: Any
    to_rasa: Callable[..., Awaitable[bool | None]]

    def inbound(self) -> InboundLog:
        """Where client messages are recorded until their turn ends."""
        return inbound_log(self.service())

    async def answer(
        self, request: Request, conversation: str, text: str, metadata: dict[str, Any]
    ) -> bool:
        """One client message's turn, recorded until it ends; a failed or overlong turn falls
        back on screening. Whether the client got an answer (or will, from the recovery path)."""
        words = None if metadata else text  # a button's payload is not the client's words
        inbound = self.inbound()
        inbound_id = await self._record(inbound, conversation, words)
        result = await self.to_rasa(conversation, text, metadata)
        answered = result is True
        if not answered:
            if await self.was_recovered(inbound, inbound_id):
                answered = True  # the recovery path answers it in the chat
            else:
                stored = result is None  # the turn ended: the message is in the chat
                answered = await self.after_failed_turn(request, conversation, words, stored)
        if inbound_id is not None:
            with suppress(Exception):
                await asyncio.to_thread(inbound.finish, inbound_id)
        return answered

    @staticmethod
    async def _record(inbound: InboundLog, conversation: str, words: str | None) -> int | None:
        """Record the message; None when the database failed (it is answered all the same)."""
        with logs.hiding(words or ""):
            try:
                return await asyncio.to_thread(inbound.record, CHANNEL_NAME, conversation, words)
            except Exception:  # noqa: BLE001 - never refuse a message because of the record
                log.exception("Could not record a web message in %s", conversation)
                return None

    @staticmethod
    async def was_recovered(inbound: InboundLog, inbound_id: int | None) -> bool:
        if inbound_id is None:
            return False
        return await asyncio.to_thread(inbound.state_of, inbound_id) in (RECOVERING, RECOVERED)

    async def after_failed_turn(
        self, request: Request, conversation: str, text: str | None, stored: bool = False
    ) -> bool:
        """The turn gave nothing (the action server is down, Rasa failed): a red flag is still
        screened here, and its reply (the emergency number first) joins the chat. Whether
        there was one."""
        rescue = Rescue(self.service)
        replies = await rescue.red_flag_replies(conversation, text)
        for reply in replies:
            await record_reply(request.app.ctx.agent, conversation, reply)
        # A message the turn kept, in a chat a team member owns: they see it, and it was
        # screened here; no reply is expected.
        return bool(replies) or (stored and await rescue.quiet_on_purpose(conversation))

    async def deliver_recovered(self, pending: Pending, replies: list[Reply]) -> None:
        """A recovered message's replies join its chat (the widget shows them at its next poll)."""
        agent = await self.agent_when_ready()
        for reply in replies:
            await record_reply(agent, pending.sender_id, reply)

    async def agent_when_ready(self, timeout: float = 180.0) -> Any:
        """Rasa's agent, once it has loaded the model (a sweep may start before that)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            agent = getattr(getattr(self.sanic_app, "ctx", None), "agent", None)
            if agent is not None and agent.is_ready():
                return agent
            await asyncio.sleep(0.5)
        raise RuntimeError("Rasa's agent did not load")
