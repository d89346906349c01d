"""Nothing lost between a channel and its answer (issue 14): the inbound log and its leases,
the Telegram update queue that records before acknowledging, and the recovery path."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from telegram import Update

from bot.channels.recovery import Recovery, Rescue, within_delay
from bot.channels.telegram.inbound import RecordingQueue, words_of
from bot.domain.days import now_utc
from bot.settings import Settings, SettingsError
from bot.storage.inbound import DONE, RECEIVED, RECOVERED, InboundLog

EMERGENCY = "my lips and tongue are swelling up and my throat feels tight"


def telegram_update(update_id: int, text: str, chat_type: str = "private") -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": {"id": 77, "is_bot": False, "first_name": "Ana"},
                "chat": {"id": 77 if chat_type == "private" else -5, "type": chat_type},
                "date": 1_790_000_000,
                "text": text,
            },
        },
        None,
    )


def later(seconds: float):
    return now_utc() + timedelta(seconds=seconds)


def test_a_resent_message_is_dropped_while_answered_and_its_text_goes_when_done(service):
    inbound = InboundLog(service.sessions)
    first = inbound.record("telegram", "telegram-77", "hello", external_id="10", address="77")
    assert first is not None and inbound.state_of(first) == RECEIVED
    assert inbound.record("telegram", "telegram-77", "hello", external_id="10") is None
    # The widget has no id of its own: every message is a new record.
    assert inbound.record("web", "w1", "hi") != inbound.record("web", "w1", "hi")
    assert inbound.finish(first) and inbound.state_of(first) == DONE
    assert inbound.record("telegram", "telegram-77", "hello", external_id="10") is None
    assert inbound.claim_stale("telegram", now=later(3600)) == []  # nothing left to recover


def test_a_live_process_keeps_its_messages_and_a_dead_ones_are_claimed_once(service):
    alive = InboundLog(service.sessions, lease_seconds=60, owner="alive")
    dead = InboundLog(service.sessions, lease_seconds=1, owner="dead")
    sweeper, other_sweeper = (
        InboundLog(service.sessions, lease_seconds=1, owner="sweeper-1"),
        InboundLog(service.sessions, lease_seconds=1, owner="sweeper-2"),
    )
    waiting = alive.record("telegram", "telegram-77", "help", external_id="1", address="77")
    lost = dead.record("telegram", "telegram-78", "help me", external_id="2", address="78")
    assert alive.renew() == 1
    claimed = sweeper.claim_stale("telegram", now=later(5))
    assert [(p.id, p.text, p.address) for p in claimed] == [(lost, "help me", "78")]
    assert other_sweeper.claim_stale("telegram", now=later(5)) == []  # one claimer only
    assert not dead.finish(lost)  # too late: the recovery path answers it
    assert sweeper.claim_stale("web", now=later(3600)) == []
    # A claim whose claimer died runs out too; the live process's message never does.
    assert [p.id for p in other_sweeper.claim_stale("telegram", now=later(10))] == [lost]
    assert alive.state_of(waiting) == RECEIVED


def test_a_resent_update_whose_process_died_before_answering_is_taken_over(service):
    dead = InboundLog(service.sessions, lease_seconds=0.01, owner="dead")
    first = dead.record("telegram", "telegram-77", "my face is swollen", external_id="30")
    asyncio.run(asyncio.sleep(0.05))
    again = InboundLog(service.sessions, owner="new").record(
        "telegram", "telegram-77", "my face is swollen", external_id="30"
    )
    assert again == first


def test_forget_and_purge_remove_inbound_rows_whatever_their_state(service):
    inbound = InboundLog(service.sessions)
    waiting = inbound.record("web", "w-forget", "my face is swollen")
    stuck = inbound.record("web", "w-stuck", "my face is swollen too")
    assert inbound.forget("w-forget") == 1 and inbound.state_of(waiting) is None
    assert inbound.purge() == 0  # recent rows stay (a re-sent copy is still dropped)
    assert inbound.purge(now=later(3 * 24 * 3600)) == 1 and inbound.state_of(stuck) is None


def test_the_recovery_path_screens_a_stranded_red_flag_and_escalates_it(service):
    dead = InboundLog(service.sessions, lease_seconds=0.01, owner="dead")
    stranded = dead.record("telegram", "telegram-77", EMERGENCY, external_id="5", address="77")
    calm = dead.record("telegram", "telegram-78", "can I wear makeup", "6", "78")
    delivered: dict[str, list] = {}

    async def deliver(pending, replies):
        delivered[pending.address] = replies

    recovery = Recovery("telegram", lambda: service, deliver, "telegram.recovered")
    asyncio.run(asyncio.sleep(0.05))
    assert asyncio.run(recovery.sweep()) == 2
    emergency = delivered["77"]
    assert emergency[0].escalation == "emergency"
    assert service.clinic().settings.emergency_number in emergency[0].text
    assert [r.key for r in delivered["78"]] == ["telegram.recovered"]
    (escalation,) = service.escalations.list()
    assert (escalation.sender_id, escalation.level) == ("telegram-77", "emergency")
    assert dead.state_of(stranded) == dead.state_of(calm) == RECOVERED
    assert asyncio.run(recovery.sweep()) == 0  # never twice


def test_a_failed_turn_still_gets_the_red_flag_reply_but_not_for_a_button(service):
    rescue = Rescue(lambda: service)
    replies = asyncio.run(rescue.red_flag_replies("web-x", EMERGENCY))
    assert replies and replies[0].escalation == "emergency"
    assert asyncio.run(rescue.red_flag_replies("web-y", "can I go to the gym?")) == []
    assert asyncio.run(rescue.red_flag_replies("web-z", "/affirm")) == []
    assert [e.sender_id for e in service.escalations.list()] == ["web-x"]


def test_a_turn_longer_than_the_recovery_delay_is_cut_short(service):
    service.settings = service.settings.with_env(AFTERCARE_RECOVER_AFTER_SECONDS="1")
    cancelled = []

    async def hung_turn():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    assert asyncio.run(within_delay(hung_turn(), service)) is False
    assert cancelled == [True]  # no late answer can follow the screening's
    assert asyncio.run(within_delay(asyncio.sleep(0), service)) is True


def test_the_telegram_queue_records_each_update_before_queueing_it_and_drops_a_resend(service):
    async def scenario():
        queue = RecordingQueue(lambda: InboundLog(service.sessions))
        await queue.put(telegram_update(900, "/human my face is bleeding"))
        await queue.put(telegram_update(900, "/human my face is bleeding"))  # re-sent
        await queue.put(telegram_update(901, "hi all", chat_type="group"))  # not a client chat
        queued = [queue.get_nowait() for _ in range(queue.qsize())]
        inbound_id = queue.recorded[900]
        stored = InboundLog(service.sessions).claim_stale("telegram", now=later(3600))
        await queue.handled(queued[0])
        return queued, inbound_id, stored, queue

    queued, inbound_id, stored, queue = asyncio.run(scenario())
    assert [u.update_id for u in queued] == [900, 901]
    assert [(p.id, p.text, p.sender_id) for p in stored] == [
        (inbound_id, "my face is bleeding", "telegram-77")
    ]
    assert queue.recorded == {}  # handled: nothing kept in memory


def test_an_update_is_answered_even_when_it_cannot_be_recorded(service):
    class Broken:
        def record(self, *args, **kwargs):
            raise RuntimeError("database is locked")

    async def scenario():
        queue = RecordingQueue(lambda: Broken())
        await queue.put(telegram_update(950, "my lips are swelling"))
        return queue.qsize(), queue.recorded

    assert asyncio.run(scenario()) == (1, {})


def test_an_update_handled_to_the_end_is_done(service):
    async def scenario():
        queue = RecordingQueue(lambda: InboundLog(service.sessions))
        await queue.put(telegram_update(960, "can I wear makeup"))
        inbound_id = queue.recorded[960]
        await queue.handled(queue.get_nowait())
        return inbound_id

    assert InboundLog(service.sessions).state_of(asyncio.run(scenario())) == DONE


def test_words_of_an_update_keep_a_commands_arguments_but_not_a_link_code():
    assert words_of(telegram_update(1, "/start ABCD1234")) is None
    assert words_of(telegram_update(2, "/human  I can't breathe")) == "I can't breathe"
    assert words_of(telegram_update(3, "swollen\neyes")) == "swollen eyes"


def test_the_recovery_delay_must_be_a_positive_number_of_seconds():
    assert Settings.from_env({}).recover_after_seconds == 60
    assert Settings.from_env({"AFTERCARE_RECOVER_AFTER_SECONDS": "5"}).recover_after_seconds == 5
    for bad in ("0", "-3", "soon"):
        with pytest.raises(SettingsError):
            Settings.from_env({"AFTERCARE_RECOVER_AFTER_SECONDS": bad})
