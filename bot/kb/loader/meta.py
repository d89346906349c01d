"""clinic/knowledge/kb.yml: the knowledge base's version, treatment kinds and sources."""

from __future__ import annotations

from typing import Any

from bot.kb.loader.common import Collector
from bot.kb.loader.schema import validate
from bot.kb.model import TreatmentKind


def parse_meta(
    raw: Any, file: str, errs: Collector
) -> tuple[str, dict[str, TreatmentKind], dict[str, str]]:
    """(version, treatment kinds, sources); problems go to `errs`."""
    if not validate(raw, "kb", file, errs) or not isinstance(raw, dict):
        return "invalid", {}, {}
    version = str(raw.get("version", "")).strip() or "unversioned"
    kinds = {}
    for key, node in (raw.get("treatment_kinds") or {}).items():
        shifts = node.get("shift_days") or {}
        kinds[str(key)] = TreatmentKind(
            str(key),
            str(node.get("label", key)),
            shifts.get("activity", 0),
            shifts.get("symptom", 0),
        )
    sources = {str(k): str(v) for k, v in (raw.get("sources") or {}).items()}
    return version, kinds, sources
