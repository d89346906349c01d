"""End to end: the trained model, the real action server and Rasa's REST channel on loopback."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest

from bot.kb.loader import load_clinic
from bot.serve.harness import free_port
from bot.serve.rasa_tuning import MAX_USER_TURNS_PER_SESSION
from bot.settings import PROJECT_DIR
from tests.conftest import AFTERCARE, RunningBot, edit

pytestmark = pytest.mark.integration


def ask(lines: list[str], env: dict[str, str]) -> list[dict]:
    result = subprocess.run(
        [AFTERCARE, "ask", "--jsonl"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=PROJECT_DIR,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_ask_jsonl_answers_every_line_in_order(trained_model, clinic_dir):
    questions = [
        {"text": "can I wear makeup?", "day": 4},
        {"text": "is oozing normal?", "day": 4},
        {"text": "is oozing normal?", "day": 0},
        {"text": "when can i go back to the gym", "day": None},
        {"text": "what can I do today?", "day": 2},
        {"text": "my face is really swollen, is that normal on day 1?", "day": 3},
        {"text": "whats the capital of france", "day": 3},
    ]
    lines = [json.dumps(q) for q in questions]
    lines.insert(3, "this is not json")
    out = ask(lines, {"AFTERCARE_CLINIC_DIR": str(clinic_dir)})
    assert len(out) == len(lines)
    assert out[3] == {"line": 4, "error": "not JSON: Expecting value"}
    rows = out[:3] + out[4:]
    assert [r["text"] for r in rows] == [q["text"] for q in questions]
    fields = {
        "text",
        "intent",
        "confidence",
        "topic",
        "status",
        "escalation",
        "reply",
        "kb_version",
        "entry",
    }
    assert all(fields <= set(r) for r in rows)
    makeup, oozing4, oozing0, gym, summary, swelling, france = rows
    assert (makeup["topic"], makeup["status"], makeup["escalation"], makeup["entry"]) == (
        "makeup",
        "allowed",
        "none",
        "makeup@4-6",
    )
    assert (oozing4["topic"], oozing4["status"], oozing4["escalation"]) == (
        "oozing",
        "red_flag",
        "urgent",
    )
    assert (oozing0["status"], oozing0["escalation"]) == ("expected", "none")
    assert gym["intent"] == "exercise" and gym["topic"] is None and gym["responses"] == ["date.ask"]
    assert summary["intent"] == "day_summary" and summary["entry"] == "summary@2"
    assert (swelling["topic"], swelling["status"], swelling["answered_day"]) == (
        "swelling",
        "expected",
        1,
    )
    assert (france["topic"], france["escalation"]) == (None, "question")
    version = load_clinic(clinic_dir).kb.version
    assert {r["kb_version"] for r in rows} == {version}
    assert makeup["reply"].endswith(
        load_clinic(clinic_dir).kb.topic("makeup").window_on(4, "medical").answer
    )


def test_client_gets_day_4_answers_and_sees_a_kb_edit_without_restart(
    trained_model, clinic_dir, tmp_path
):
    env = {
        "AFTERCARE_CLINIC_DIR": str(clinic_dir),
        "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "AFTERCARE_TRACKER_DB": str(tmp_path / "tracker.db"),
    }
    kb = load_clinic(clinic_dir).kb
    makeup_day4 = kb.topic("makeup").window_on(4, "medical").answer
    oozing_day4 = kb.topic("oozing").window_on(4, "medical").answer
    bot = RunningBot(env)
    bot.start()
    try:
        assert bot.say("hi")
        confirmation = " ".join(bot.say("my treatment was 4 days ago"))
        assert "day 4" in confirmation
        makeup = " ".join(bot.say("can I wear makeup?"))
        assert makeup_day4 in makeup
        oozing = " ".join(bot.say("is oozing normal?"))
        assert (
            oozing_day4 in oozing and "020 7946 0321" in oozing
        )  # the urgent notice, with the clinic's phone

        edit(
            clinic_dir / "knowledge" / "activities_skincare.yml",
            "Yes, you can wear makeup again.",
            "Good news: makeup is fine again.",
        )
        edited = " ".join(bot.say("can I wear makeup?"))
        assert "Good news: makeup is fine again." in edited and makeup_day4 not in edited

        # A long conversation goes on in a new Rasa session (bot.serve.rasa_tuning) that keeps
        # what the conversation knew, and the answers do not change.
        questions = ["can I go to the gym?", "is it ok to swim?", "can I use sunscreen?"]
        for i in range(MAX_USER_TURNS_PER_SESSION):
            assert bot.say(questions[i % len(questions)])
        again = " ".join(bot.say("can I wear makeup?"))
        assert "Good news: makeup is fine again." in again
        events = httpx.get(
            f"http://127.0.0.1:{bot.port}/conversations/client-42/tracker",
            params={"include_events": "ALL"},
            timeout=30,
        ).json()["events"]
        starts = [i for i, e in enumerate(events) if e["event"] == "session_started"]
        assert len(starts) >= 2
        newest = events[starts[-1] :]
        first_user = next(i for i, e in enumerate(newest) if e["event"] == "user")
        carried = {e["name"] for e in newest[:first_user] if e["event"] == "slot"}
        assert "last_answer" in carried
    finally:
        assert bot.stop() == 0

    restarted = RunningBot(env)
    restarted.start()
    try:
        again = " ".join(restarted.say("can i wear makeup"))
        assert (
            "Good news: makeup is fine again." in again
        )  # the date survived the restart: no date question
        _a_question_level_reply_in_the_date_form_keeps_its_offer(restarted, env)
    finally:
        restarted.stop()


def _a_question_level_reply_in_the_date_form_keeps_its_offer(bot: RunningBot, env) -> None:
    """Issue 12, through Rasa: the date form's reply offers the team, and "yes" is heard."""
    from bot.settings import Settings
    from bot.storage.engine import session_factory
    from bot.storage.escalations import EscalationRepository

    sender = "client-form"
    assert "when was your treatment" in " ".join(bot.say("can I wear makeup?", sender)).lower()
    reply = " ".join(bot.say("yesterday, and there's a hard lump on my cheek", sender))
    assert "talk to a person" in reply and "day 1" in reply
    assert "noted this for" in " ".join(bot.say("yes please", sender))  # no alert channel
    repo = EscalationRepository(session_factory(Settings.from_env(env).database_url))
    (record,) = (e for e in repo.list() if e.sender_id == sender)
    assert record.level == "question" and "lump" in record.message


def test_bot_refuses_to_start_with_a_broken_kb(clinic_dir, trained_model):
    edit(
        clinic_dir / "knowledge" / "symptoms.yml",
        "        level: urgent\n",
        "        level: critical\n",
    )
    result = subprocess.run(
        [AFTERCARE, "run", "--port", str(free_port()), "--action-port", str(free_port())],
        cwd=PROJECT_DIR,
        env={**os.environ, "AFTERCARE_CLINIC_DIR": str(clinic_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "clinic/knowledge/symptoms.yml:" in result.stderr and "critical" in result.stderr


def test_a_red_flag_said_to_have_partly_settled_still_escalates(trained_model, clinic_dir):
    """ "...but it stopped/settled" clears a symptom only when it wholly stopped (review of the
    rule; not in the red-flag sets, whose every message the screening net learns from)."""
    messages = [
        "oozing yellow pus but they stopped the antibiotics",
        "fever and chills but it settled a little with paracetamol",
        "there is pus but it cleared up on one side",
        "I've got a temperature of 39 but it settled a bit",
        "my skin is blistering but it stopped spreading",
    ]
    out = ask(
        [json.dumps({"text": m, "day": 3}) for m in messages],
        {"AFTERCARE_CLINIC_DIR": str(clinic_dir)},
    )
    assert [r["escalation"] for r in out] == ["urgent"] * len(messages)
