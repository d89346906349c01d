"""The clinic's screening lexicon (`clinic/screening.yml`), validated with file and line."""

from __future__ import annotations

from dataclasses import dataclass

from bot.kb.model import RED_FLAG_SIGNS
from bot.yamlsrc import LineDict, LineList

CONTEXT_KEYS = ("negation", "resolved", "hypothetical", "termination")
OPTIONAL_CONTEXT_KEYS = ("others", "over_since")


@dataclass(frozen=True)
class Lexicon:
    """Words that reveal symptoms, signs and emergencies, and how context changes them."""

    symptoms: dict[str, tuple[str, ...]]
    weak: dict[str, tuple[str, ...]]
    symptom_pairs: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]]
    signs: dict[str, tuple[str, ...]]
    emergency_phrases: tuple[str, ...]
    emergency_pairs: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
    unplaced: tuple[str, ...]
    skin_cues: tuple[str, ...]
    not_skin: tuple[str, ...]
    context: dict[str, tuple[str, ...]]


def _words(value, file: str, line: int, what: str, errs) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
        errs.add(file, getattr(value, "line", line), f"{what} must be a list of words or phrases")
        return ()
    return tuple(w.strip().lower() for w in value)


def _pairs(value, file: str, line: int, what: str, errs) -> tuple:
    """Word pairs: [[words], [words]] entries, a word of each within a few words."""
    result = []
    if not isinstance(value, list):
        errs.add(file, line, f"{what} must be a list of [[words], [words]]")
        return ()
    for index, pair in enumerate(value):
        item_line = value.line_of(index) if isinstance(value, LineList) else line
        if not isinstance(pair, list) or len(pair) != 2:
            errs.add(file, item_line, f"each entry of {what} must be two lists: [[words], [words]]")
            continue
        first = _words(pair[0], file, item_line, what, errs)
        second = _words(pair[1], file, item_line, what, errs)
        if not first or not second:
            errs.add(
                file,
                item_line,
                f"each entry of {what} needs words in both lists (an empty list never matches)",
            )
        result.append((first, second))
    return tuple(result)


def parse_lexicon(
    raw, file: str, symptom_topics: set[str], errs, used_signs: set[str] = frozenset()
) -> Lexicon | None:
    """Validate the screening file; errors go to `errs` with file and line. Every KB symptom
    topic needs words, and every sign a KB red flag uses needs words, or it could never fire."""
    if not isinstance(raw, LineDict):
        errs.add(file, 1, "screening.yml must be a mapping")
        return None
    allowed = {"symptoms", "signs", "emergency", "unplaced", "context", "skin_cues", "not_skin"}
    for key in raw:
        if key not in allowed:
            errs.add(
                file,
                raw.line_of(key),
                f"unknown key '{key}'; allowed: {', '.join(sorted(allowed))}",
            )
    for key in sorted(allowed - set(raw)):
        errs.add(file, raw.line, f"missing '{key}'")
    symptoms: dict[str, tuple[str, ...]] = {}
    weak: dict[str, tuple[str, ...]] = {}
    pairs: dict[str, tuple] = {}
    section = raw.get("symptoms")
    if isinstance(section, LineDict):
        for topic, entry in section.items():
            line = section.line_of(topic)
            if topic not in symptom_topics:
                errs.add(
                    file,
                    line,
                    f"unknown symptom topic '{topic}'; symptom topics in the KB: {', '.join(sorted(symptom_topics))}",
                )
                continue
            if not isinstance(entry, LineDict) or "words" not in entry:
                errs.add(
                    file, line, f"symptoms.{topic} needs 'words' (and may have 'weak' and 'pairs')"
                )
                continue
            for key in entry:
                if key not in ("words", "weak", "pairs"):
                    errs.add(
                        file,
                        entry.line_of(key),
                        f"unknown key '{key}' in symptoms.{topic}; allowed: pairs, weak, words",
                    )
            pairs[topic] = _pairs(
                entry.get("pairs") or [],
                file,
                entry.line_of("pairs"),
                f"symptoms.{topic}.pairs",
                errs,
            )
            symptoms[topic] = _words(
                entry["words"], file, entry.line_of("words"), f"symptoms.{topic}.words", errs
            )
            weak[topic] = _words(
                entry.get("weak", LineList()),
                file,
                entry.line_of("weak"),
                f"symptoms.{topic}.weak",
                errs,
            )
    elif "symptoms" in raw:
        errs.add(file, raw.line_of("symptoms"), "symptoms must map symptom topics to their words")
    signs: dict[str, tuple[str, ...]] = {}
    section = raw.get("signs")
    if isinstance(section, LineDict):
        for sign, words in section.items():
            if sign not in RED_FLAG_SIGNS:
                errs.add(
                    file,
                    section.line_of(sign),
                    f"unknown sign '{sign}'; known: {', '.join(RED_FLAG_SIGNS)}",
                )
                continue
            signs[sign] = _words(words, file, section.line_of(sign), f"signs.{sign}", errs)
    emergency = raw.get("emergency")
    phrases: tuple[str, ...] = ()
    emergency_pairs: tuple = ()
    if isinstance(emergency, LineDict):
        phrases = _words(
            emergency.get("phrases", LineList()),
            file,
            emergency.line_of("phrases"),
            "emergency.phrases",
            errs,
        )
        emergency_pairs = _pairs(
            emergency.get("pairs") or [], file, emergency.line_of("pairs"), "emergency.pairs", errs
        )
        for key in emergency:
            if key not in ("phrases", "pairs"):
                errs.add(
                    file,
                    emergency.line_of(key),
                    f"unknown key '{key}' in emergency; allowed: pairs, phrases",
                )
        if not phrases or not emergency_pairs:
            errs.add(
                file,
                emergency.line,
                "emergency needs both 'phrases' and 'pairs' (without them emergencies go unseen)",
            )
    elif "emergency" in raw:
        errs.add(file, raw.line_of("emergency"), "emergency must have 'phrases' and 'pairs'")
    context = raw.get("context")
    contexts: dict[str, tuple[str, ...]] = {}
    if isinstance(context, LineDict):
        for key in CONTEXT_KEYS:
            if key not in context:
                errs.add(file, context.line, f"missing context.{key}")
            else:
                contexts[key] = _words(
                    context[key], file, context.line_of(key), f"context.{key}", errs
                )
        for key in OPTIONAL_CONTEXT_KEYS:
            if key in context:
                contexts[key] = _words(
                    context[key], file, context.line_of(key), f"context.{key}", errs
                )
        for key in context:
            if key not in CONTEXT_KEYS + OPTIONAL_CONTEXT_KEYS:
                allowed = ", ".join(CONTEXT_KEYS + OPTIONAL_CONTEXT_KEYS)
                errs.add(
                    file,
                    context.line_of(key),
                    f"unknown key '{key}' in context; allowed: {allowed}",
                )
    if isinstance(raw.get("symptoms"), LineDict):
        for topic in sorted(symptom_topics - set(raw["symptoms"])):
            errs.add(
                file,
                raw.line_of("symptoms"),
                f"symptoms: no words for the KB symptom topic '{topic}' (it could never be detected)",
            )
    if isinstance(raw.get("signs"), LineDict):
        for sign in sorted(set(used_signs) - {k for k, v in signs.items() if v}):
            errs.add(
                file,
                raw.line_of("signs"),
                f"signs: no words for '{sign}', which a KB red flag uses (it could never fire)",
            )
    return Lexicon(
        symptoms=symptoms,
        weak=weak,
        symptom_pairs=pairs,
        signs=signs,
        emergency_phrases=phrases,
        emergency_pairs=emergency_pairs,
        unplaced=_words(
            raw.get("unplaced", LineList()), file, raw.line_of("unplaced"), "unplaced", errs
        ),
        skin_cues=_words(
            raw.get("skin_cues", LineList()), file, raw.line_of("skin_cues"), "skin_cues", errs
        ),
        not_skin=_words(
            raw.get("not_skin", LineList()), file, raw.line_of("not_skin"), "not_skin", errs
        ),
        context=contexts,
    )
