"""Load and validate the clinic folder: `settings.yml`, `screening.yml`, `language.yml` and
`knowledge/*.yml`, one module per file.

Every problem is reported with its file and line, and all problems of a load are collected so
that the clinic can fix them in one go. Each file's shape is a declarative schema
(`schemas/`); the modules check what a shape cannot say. Nothing here guesses a default for
protocol content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.kb.checkins import CheckinSettings
from bot.kb.loader.checkins import parse_checkins
from bot.kb.loader.common import Collector, KnowledgeBaseError, display, parse_day_range
from bot.kb.loader.language import parse_language
from bot.kb.loader.meta import parse_meta
from bot.kb.loader.phrases import catalogue, parse_phrases, phrase_keys
from bot.kb.loader.screening import parse_lexicon, sign_names
from bot.kb.loader.settings import parse_settings
from bot.kb.loader.topics import TopicContext, parse_topic_file
from bot.kb.loader.yamlsrc import SourceError, load_yaml
from bot.kb.model import Clinic, KnowledgeBase, Topic

__all__ = [
    "KnowledgeBaseError",
    "SourceError",
    "catalogue",
    "clinic_files",
    "load_clinic",
    "parse_day_range",
    "phrase_keys",
]

SETTINGS_FILE, SCREENING_FILE, LANGUAGE_FILE = "settings.yml", "screening.yml", "language.yml"
CHECKINS_FILE = "checkins.yml"  # optional: without it, no check-ins are sent
META_FILE, PHRASES_FILE = "kb.yml", "phrases.yml"


class _Reader:
    """Reads the clinic's files once each, fingerprinting what it read."""

    def __init__(self, clinic_dir: Path, errs: Collector):
        self.clinic_dir, self.errs = clinic_dir, errs
        self.digest = hashlib.sha256()

    def name(self, path: Path) -> str:
        return display(path, self.clinic_dir)

    def require(self, *paths: Path) -> None:
        for path in paths:
            if not path.is_file():
                self.errs.add(self.name(path), 0, "file is missing")

    def read(self, path: Path) -> Any:
        name = self.name(path)
        try:
            self.digest.update(name.encode() + b"\0" + path.read_bytes())
            return load_yaml(path, name)
        except SourceError as exc:
            self.errs.errors.append(exc)
        except OSError as exc:
            self.errs.add(name, 0, f"cannot read file: {exc.strerror}")
        return None


def clinic_files(clinic_dir: Path) -> list[Path]:
    """Every file whose change means the clinic data must be reloaded."""
    clinic_dir = Path(clinic_dir)
    return [
        clinic_dir / SETTINGS_FILE,
        clinic_dir / SCREENING_FILE,
        clinic_dir / LANGUAGE_FILE,
        clinic_dir / CHECKINS_FILE,
        *sorted((clinic_dir / "knowledge").glob("*.yml")),
    ]


def load_clinic(clinic_dir: Path, known_topics: Iterable[str] | None = None) -> Clinic:
    """Load the clinic folder, raising `KnowledgeBaseError` listing every problem found.

    `known_topics` are the topic keys the bot can recognise (its topic intents); a KB topic
    outside that set is an error, since no client question could ever reach it.
    """
    clinic_dir, errs = Path(clinic_dir), Collector()
    reader = _Reader(clinic_dir, errs)
    kb_dir = clinic_dir / "knowledge"
    settings_path = clinic_dir / SETTINGS_FILE
    if not settings_path.is_file():
        raise KnowledgeBaseError([SourceError(str(settings_path), 0, "file is missing")])
    reader.require(
        clinic_dir / SCREENING_FILE,
        clinic_dir / LANGUAGE_FILE,
        kb_dir / META_FILE,
        kb_dir / PHRASES_FILE,
    )
    errs.raise_if_any()
    raw = {
        "settings": reader.read(settings_path),
        "screening": reader.read(clinic_dir / SCREENING_FILE),
        "language": reader.read(clinic_dir / LANGUAGE_FILE),
        "meta": reader.read(kb_dir / META_FILE),
        "phrases": reader.read(kb_dir / PHRASES_FILE),
        "checkins": reader.read(clinic_dir / CHECKINS_FILE)
        if (clinic_dir / CHECKINS_FILE).is_file()
        else None,
    }
    topic_files = sorted(p for p in kb_dir.glob("*.yml") if p.name not in (META_FILE, PHRASES_FILE))
    topic_docs = [(reader.name(p), reader.read(p)) for p in topic_files]
    errs.raise_if_any()
    return _parse(raw, topic_docs, reader, known_topics)


def _parse(
    raw: dict[str, Any],
    topic_docs: list[tuple[str, Any]],
    reader: _Reader,
    known_topics: Iterable[str] | None,
) -> Clinic:
    errs, clinic_dir = reader.errs, reader.clinic_dir
    version, kinds, sources = parse_meta(
        raw["meta"], reader.name(clinic_dir / "knowledge" / META_FILE), errs
    )
    language = parse_language(raw["language"], reader.name(clinic_dir / LANGUAGE_FILE), errs)
    settings = parse_settings(
        raw["settings"], reader.name(clinic_dir / SETTINGS_FILE), kinds, language, errs
    )
    phrases = parse_phrases(
        raw["phrases"], reader.name(clinic_dir / "knowledge" / PHRASES_FILE), errs
    )
    known = set(known_topics) if known_topics is not None else None
    topics: dict[str, Topic] = {}
    signs = sign_names(raw["screening"])
    for name, doc in topic_docs:
        parse_topic_file(doc, TopicContext(name, kinds, sources, known, signs, errs), topics)
    symptom_topics = {k for k, t in topics.items() if t.type == "symptom"}
    used_signs = {flag.sign for t in topics.values() for flag in t.red_flags}
    lexicon = parse_lexicon(
        raw["screening"],
        reader.name(clinic_dir / SCREENING_FILE),
        symptom_topics,
        used_signs,
        errs,
        set(topics),
    )
    checkins = (
        parse_checkins(raw["checkins"], reader.name(clinic_dir / CHECKINS_FILE), set(kinds), errs)
        if raw["checkins"] is not None
        else None
    )
    errs.raise_if_any()
    kb = KnowledgeBase(
        version=f"{version}+{reader.digest.hexdigest()[:8]}",
        topics=topics,
        kinds=kinds,
        sources=sources,
        phrases=phrases,
        outside_cues=tuple(str(w).strip().lower() for w in raw["meta"].get("outside_cues") or ()),
    )
    return Clinic(settings, kb, lexicon, language, checkins or CheckinSettings())
