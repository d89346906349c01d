"""The widget's check-in setting: a client turns the check-in messages off in their chat and
back on (what /stop and /start do on Telegram), and sees whether they are on.

`POST /webhooks/web/checkins` with `{"token": ..., "on": true|false}` answers
`{"checkins": true|false}`: whether check-ins are on for the chat now (still off after "on"
when the clinic turned them off for this client). Turning them off skips the pending ones
(recorded); back on plans them again. The service's desk works on the database: in a thread.
"""

from __future__ import annotations

import asyncio

from sanic.response import HTTPResponse

from bot.channels.web.requests import Call
from bot.service import AftercareService


async def checkins_on(service: AftercareService, conversation: str) -> bool:
    """Whether check-ins are on for the chat (neither the client nor the clinic turned them
    off)."""
    return await asyncio.to_thread(service.checkin_desk.enabled, conversation)


async def switch_checkins(call: Call, service: AftercareService) -> HTTPResponse:
    """The setting's route: 400 for a body without a boolean `on`, else the state after the
    change (the token is checked like every chat request's)."""
    checked = await call.chat()
    if isinstance(checked, HTTPResponse):
        return checked
    body, conversation = checked
    on = body.get("on")
    if not isinstance(on, bool):
        return call.reply({"error": "bad_request", "field": "on"}, status=400)
    desk = service.checkin_desk
    if on:
        await asyncio.to_thread(desk.start, call.clinic, conversation)
    else:
        await asyncio.to_thread(desk.stop, conversation)
    return call.reply({"checkins": await checkins_on(service, conversation)})
