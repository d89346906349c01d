"""Which intents are conversation (greetings, dates, hand-off) and which are KB topics.

A topic intent has the same name as its KB topic key; every domain intent that is not a
conversation intent is a topic.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

CONVERSATION_INTENTS = frozenset(
    {
        "greet",
        "thanks",
        "goodbye",
        "affirm",
        "deny",
        "day_summary",
        "request_human",
        "give_treatment_date",
        "out_of_scope",
        "nlu_fallback",
        "checkin_fine",
        "checkin_worried",
        "checkin_wrong",
    }
)
# Intents answered by the "no guidance" reply rather than a topic.
UNANSWERABLE_INTENTS = frozenset({"out_of_scope", "nlu_fallback"})


def domain_intents(domain_file: Path) -> list[str]:
    """The intent names declared in domain.yml."""
    data = yaml.safe_load(Path(domain_file).read_text(encoding="utf-8")) or {}
    names = []
    for item in data.get("intents", []):
        names.append(next(iter(item)) if isinstance(item, dict) else str(item))
    return names


@functools.lru_cache(maxsize=4)
def button_intents(domain_file: Path) -> frozenset[str]:
    """Intents a client's button press may send: those the project's domain declares."""
    return frozenset(domain_intents(domain_file))


def topic_intents(domain_file: Path) -> set[str]:
    """Intents that name a KB topic."""
    return {name for name in domain_intents(domain_file) if name not in CONVERSATION_INTENTS}
