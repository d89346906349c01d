"""`aftercare ask --jsonl`: answer a list of questions as the live bot would.

Reads JSON lines `{"text": "...", "day": 4}` (day may be null: date unknown) and writes one
JSON line per input, in order. Each line is a fresh conversation whose treatment was `day`
days ago, answered by the trained model and the real action server. A malformed line gets
an `error` line and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from bot.domain.days import date_for_day
from bot.serve.harness import LocalBot, run_async
from bot.service import AftercareService
from bot.settings import Settings


def register(sub) -> None:
    """Add `ask --jsonl`."""
    ask = sub.add_parser("ask", help="answer JSON-line questions from stdin as the live bot would")
    ask.add_argument(
        "--jsonl", action="store_true", help='input lines {"text": "...", "day": 4 | null}'
    )
    ask.add_argument("--model", help="model file (default: the newest in models/)")
    ask.set_defaults(func=ask_command)


def ask_command(settings: Settings, args: argparse.Namespace) -> int:
    """Answer stdin's JSON lines; stdout carries only the JSON lines."""
    if not args.jsonl:
        print("aftercare ask: only --jsonl input is supported", file=sys.stderr)
        return 2
    # Rasa and TensorFlow print to stdout; keep it for JSON lines only by sending fd 1 to
    # stderr and writing results to a private copy of the real stdout.
    sys.stdout.flush()
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    def write(line: str) -> None:
        results.write(line)
        results.flush()

    try:
        return run_ask(sys.stdin, write, settings, Path(args.model) if args.model else None)
    finally:
        results.close()


def parse_line(line: str) -> tuple[str, int | None]:
    """Validate one input line; raises ValueError with a readable reason."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    text, day = data.get("text"), data.get("day")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('"text" must be a non-empty string')
    if day is not None and (isinstance(day, bool) or not isinstance(day, int)):
        raise ValueError('"day" must be a whole number or null')
    if day is not None and not -366 <= day <= 3650:
        raise ValueError('"day" must be between -366 and 3650')
    return text, day


async def answer_lines(
    bot: LocalBot, service: AftercareService, lines: Iterable[str], emit: Callable[[dict], None]
) -> int:
    """Answer each input line, emitting one output record per non-blank line, in order.
    Returns how many turns failed (no reply: an action failed); each is an error line."""
    failed = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            text, day = parse_line(line)
        except ValueError as exc:
            emit({"line": number, "error": str(exc)})
            continue
        sender = f"ask-{uuid.uuid4().hex}"
        if day is not None:
            zone = service.clinic().settings.time_zone
            service.treatments.set_date(sender, date_for_day(day, zone), source="ask")
        messages = await bot.send(sender, text)
        if not any(m.get("text") for m in messages):
            failed += 1
            emit({"line": number, "error": "no reply: the turn failed (see the log on stderr)"})
            continue
        emit(_record(text, day, messages, await bot.turn_info(sender), service))
    return failed


def _record(text: str, day, messages: list[dict], info: dict, service: AftercareService) -> dict:
    """One output line: what NLU understood and what was answered."""
    answer = info["answer"] or {}
    parts = answer.get("parts") or ([_part(answer)] if answer.get("topic") else [])
    return {
        "text": text,
        "day": day,
        "intent": info["intent"],
        "confidence": info["confidence"],
        "topic": answer.get("topic"),
        "status": answer.get("status"),
        "escalation": answer.get("escalation", "none"),
        "reply": "\n\n".join(m.get("text", "") for m in messages if m.get("text")),
        "kb_version": answer.get("kb_version") or service.clinic().kb.version,
        "entry": answer.get("entry"),
        "answered_day": answer.get("day"),
        "responses": info["response_keys"],
        "answers": parts,
    }


def _part(answer: dict) -> dict:
    keys = ("topic", "status", "escalation", "entry", "day")
    return {k: answer.get(k) for k in keys}


def run_ask(
    lines: Iterable[str], write, settings: Settings | None = None, model: Path | None = None
) -> int:
    """Answer every line, writing JSON lines through `write`. Returns the exit code."""
    base = settings or Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="aftercare-ask-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'ask.db'}"
        env = {"AFTERCARE_DATABASE_URL": db_url, "AFTERCARE_CLINIC_DIR": str(base.clinic_dir)}
        settings = base.with_env(**env)
        service = AftercareService(settings)
        service.clinic()  # fail before start-up if the KB is invalid
        bot = LocalBot(settings, model=model, env=env)
        try:
            bot.start()
            failed = run_async(
                answer_lines(
                    bot, service, lines, lambda r: write(json.dumps(r, ensure_ascii=False) + "\n")
                )
            )
        finally:
            bot.stop()
    return 1 if failed else 0
