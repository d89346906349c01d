"""Nothing lost between a channel and its answer (issue 14).

Each channel records a client message in the inbound log before it acknowledges it
(`InboundLog.record`, owned by this process under a lease it renews) and marks it done when
the turn ends. Three things can still go wrong, and all end in the same screening, which needs
neither Rasa's turn nor the action server (the screener runs in this process,
`AftercareService.screen_unanswered`):

- **the turn fails** (the action server is down, Rasa raised) or **takes longer than the
  recovery delay** (`AFTERCARE_RECOVER_AFTER_SECONDS`; it is then cancelled, so no late second
  answer follows): `Rescue` screens the text at once, so a red flag still gets its reply (the
  emergency number first) and its escalation instead of "something went wrong";
- **the process dies** (killed, crashed) before the turn ends: its leases run out and
  `Recovery`, in whichever process runs the channel next, claims each message (one claimer
  across processes), screens it and tells the client: the red-flag reply, or that a fault
  stopped the answer and to send it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot import logs
from bot.service import AftercareService, Reply
from bot.storage.inbound import InboundLog, Pending

log = logging.getLogger(__name__)

Deliver = Callable[[Pending, list[Reply]], Awaitable[None]]


class Rescue:
    """The screening a channel falls back on when a turn gives the client nothing."""

    def __init__(self, service: Callable[[], AftercareService]) -> None:
        self._service = service

    async def red_flag_replies(self, sender_id: str, text: str | None) -> list[Reply]:
        """The red-flag reply for `text` (escalated already), or [] when it holds none."""
        if not text or text.startswith("/"):
            return []  # a button or command payload: nothing the client wrote
        with logs.hiding(text):
            try:
                outcome = await asyncio.to_thread(
                    self._service().screen_unanswered, sender_id, text
                )
            except Exception:  # noqa: BLE001 - the channel still answers with its error
                log.exception("Could not screen an unanswered message from %s", sender_id)
                return []
        return list(outcome.replies) if outcome is not None else []

    async def quiet_on_purpose(self, sender_id: str) -> bool:
        """Whether a team member has the chat (a turn without replies is then expected)."""
        try:
            return await asyncio.to_thread(self._service().handed_off, sender_id)
        except Exception:  # noqa: BLE001 - unknown: the client hears "try again"
            log.warning("Could not tell whether a chat is handed off", exc_info=True)
            return False


def inbound_log(service: AftercareService) -> InboundLog:
    """The inbound log of this process, with the deployment's recovery delay as the lease."""
    return InboundLog(service.sessions, service.settings.recover_after_seconds)


async def within_delay(turn: Awaitable[Any], service: AftercareService) -> bool:
    """Run a turn for at most the recovery delay; False if it took longer (it is cancelled:
    a red flag in it must not wait on a hung action server)."""
    try:
        await asyncio.wait_for(turn, service.settings.recover_after_seconds)
    except asyncio.TimeoutError:
        log.warning(
            "A turn took over %ss: answered by screening", service.settings.recover_after_seconds
        )
        return False
    return True


class Recovery:
    """Keeps this process's leases alive, and sweeps the inbound log of one channel for
    messages whose process died before their turn ended."""

    def __init__(
        self,
        channel: str,
        service: Callable[[], AftercareService],
        deliver: Deliver,
        sorry_key: str,
    ) -> None:
        self.channel, self._service, self._deliver = channel, service, deliver
        self._sorry_key = sorry_key
        self._rescue = Rescue(service)

    async def sweep(self) -> int:
        """Recover every message of the channel whose lease ran out; how many."""
        stale = await asyncio.to_thread(inbound_log(self._service()).claim_stale, self.channel)
        for pending in stale:
            try:
                await self.recover(pending)
            except Exception:  # noqa: BLE001 - the others still get theirs; this one re-expires
                log.exception(
                    "Could not recover a %s message from %s", self.channel, pending.sender_id
                )
        return len(stale)

    async def recover(self, pending: Pending) -> None:
        """Screen one message and tell its client what happened."""
        replies = await self._rescue.red_flag_replies(pending.sender_id, pending.text)
        if not replies:
            service = self._service()
            replies = [Reply(self._sorry_key, service.phrase(self._sorry_key))]
        try:
            await self._deliver(pending, replies)
        except Exception:  # noqa: BLE001 - the escalation is stored; the notifier alerts staff
            log.exception("Could not send a recovered message's reply to %s", pending.sender_id)
        await asyncio.to_thread(inbound_log(self._service()).recovered, pending.id)
        log.warning(
            "Recovered a %s message from %s whose turn never ended (%s)",
            self.channel,
            pending.sender_id,
            "red flag" if replies[0].key != self._sorry_key else "asked to resend",
        )

    async def run(self) -> None:
        """Renew, sweep (at once: what a dead process left) and purge, over and over; a round
        that fails is logged and the next one tries again."""
        rounds = 0
        while True:
            interval = 5.0
            try:
                service = self._service()
                interval = min(20.0, max(0.3, service.settings.recover_after_seconds / 3))
                inbound = inbound_log(service)
                await asyncio.to_thread(inbound.renew)
                if rounds % 100 == 0:
                    await asyncio.to_thread(inbound.purge)
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep going: the next round may work
                log.exception("The %s recovery round failed", self.channel)
            rounds += 1
            await asyncio.sleep(interval)
