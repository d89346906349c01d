"""clinic/screening.yml: the screening lexicon. The shape comes from `schemas/screening.yml`;
here: every KB symptom topic and every sign a red flag uses has words (or it could never
fire), and the worrying signs are signs."""

from __future__ import annotations

from typing import Any

from bot.kb.loader.common import Collector, words
from bot.kb.loader.schema import validate
from bot.kb.loader.yamlsrc import LineDict
from bot.kb.model import Lexicon, Temperature


def sign_names(raw: Any) -> list[str]:
    """The signs the lexicon defines (what a KB red flag may name), before full validation."""
    signs = raw.get("signs") if isinstance(raw, dict) else None
    return [str(s) for s in signs] if isinstance(signs, dict) else []


def parse_lexicon(
    raw: Any,
    file: str,
    symptom_topics: set[str],
    used_signs: set[str],
    errs: Collector,
    all_topics: set[str],
) -> Lexicon | None:
    """The lexicon, or None after reporting its problems to `errs`. `all_topics`: every KB
    topic, for the topic that answers conditions."""
    if not validate(raw, "screening", file, errs):
        return None
    _check_coverage(raw, file, symptom_topics, used_signs, errs)
    conditions = raw.get("conditions")
    if conditions is not None and conditions["topic"] not in all_topics:
        errs.add(
            file,
            raw.line_of("conditions"),
            f"conditions: topic '{conditions['topic']}' is not a KB topic",
        )
    symptoms = raw["symptoms"]
    context = raw["context"]
    return Lexicon(
        symptoms={t: words(e["words"]) for t, e in symptoms.items() if t in symptom_topics},
        weak={t: words(e.get("weak")) for t, e in symptoms.items() if t in symptom_topics},
        symptom_pairs={
            t: _pairs(e.get("pairs")) for t, e in symptoms.items() if t in symptom_topics
        },
        signs={s: words(w) for s, w in raw["signs"].items()},
        worrying_signs=frozenset(words(raw["worrying_signs"])),
        not_worrying_alone=frozenset(words(raw.get("not_worrying_alone"))),
        emergency_phrases=words(raw["emergency"]["phrases"]),
        emergency_pairs=_pairs(raw["emergency"]["pairs"]),
        emergency_all_clear=_pairs(raw["emergency"].get("all_clear")),
        unplaced=words(raw["unplaced"]),
        conditions=words((raw.get("conditions") or {}).get("words")),
        condition_topic=(raw.get("conditions") or {}).get("topic"),
        not_forms=frozenset(w.lower() for w in words(raw.get("not_forms"))),
        skin_cues=words(raw["skin_cues"]),
        not_skin=words(raw["not_skin"]),
        context={k: words(v) for k, v in context.items()},
        temperature=_temperature(raw.get("temperature")),
        improving=words((raw.get("improving") or {}).get("words")),
        improving_overrules=frozenset(words((raw.get("improving") or {}).get("overrules"))),
    )


def _temperature(raw: Any) -> Temperature | None:
    if raw is None:
        return None
    return Temperature(
        fever_from_celsius=float(raw["fever_from_celsius"]),
        topic=str(raw["topic"]),
        sign=str(raw["sign"]),
        words=words(raw["words"]),
        not_after=words(raw.get("not_after")),
        weather=words(raw.get("weather")),
    )


def _pairs(raw: Any) -> tuple:
    return tuple((words(first), words(second)) for first, second in raw or ())


def _check_coverage(
    raw: LineDict, file: str, symptom_topics: set[str], used_signs: set[str], errs: Collector
) -> None:
    symptoms, signs = raw["symptoms"], raw["signs"]
    for topic in symptoms:
        if topic not in symptom_topics:
            known = ", ".join(sorted(symptom_topics))
            errs.add(
                file,
                symptoms.line_of(topic),
                f"unknown symptom topic '{topic}'; symptom topics in the KB: {known}",
            )
    for topic in sorted(symptom_topics - set(symptoms)):
        errs.add(
            file,
            raw.line_of("symptoms"),
            f"symptoms: no words for the KB symptom topic '{topic}' (it could never be detected)",
        )
    for sign in sorted(set(used_signs) - set(signs)):
        errs.add(
            file,
            raw.line_of("signs"),
            f"signs: no words for '{sign}', which a KB red flag uses (it could never fire)",
        )
    temperature = raw.get("temperature")
    if temperature is not None and temperature["topic"] not in symptom_topics:
        errs.add(
            file,
            raw.line_of("temperature"),
            f"temperature: topic '{temperature['topic']}' is not a KB symptom topic",
        )
    if temperature is not None and temperature["sign"] not in signs:
        errs.add(
            file,
            raw.line_of("temperature"),
            f"temperature: sign '{temperature['sign']}' is not a sign; signs: {', '.join(signs)}",
        )
    for sign in (raw.get("improving") or {}).get("overrules") or ():
        if sign not in signs:
            errs.add(
                file,
                raw.line_of("improving"),
                f"improving.overrules: '{sign}' is not a sign; signs: {', '.join(signs)}",
            )
    for sign in raw["worrying_signs"]:
        if sign not in signs:
            errs.add(
                file,
                raw.line_of("worrying_signs"),
                f"worrying_signs: '{sign}' is not a sign; signs: {', '.join(signs)}",
            )
