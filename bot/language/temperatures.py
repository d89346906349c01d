"""Body temperatures as clients write them: "38.2", "101.3F", "39 degrees", "temp of 39".

A number with a decimal, a degree sign or a unit in a body range is a temperature; a bare
whole number is one only when the message speaks of temperature. Fahrenheit is converted.
The clinic's `screening.yml: temperature` says from where it is a fever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.kb.model import Temperature

CELSIUS = (34.0, 43.0)  # a body temperature in Celsius lies here
FAHRENHEIT = (93.0, 110.0)  # ... and in Fahrenheit here
NUMBER = re.compile(
    r"(?<![\d/:])(?<!\d[.,])(\d{2,3}(?:[.,]\d{1,2})?)\s*(°\s*[cf]?|degrees?\s*[cf]?|[cf](?![a-z]))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reading:
    """One temperature: where it is written (characters) and its value in Celsius."""

    start: int
    end: int
    celsius: float


def _celsius(value: float, unit: str) -> float | None:
    unit = unit.lower().replace("degrees", "").replace("degree", "").replace("°", "").strip()
    if unit == "f" or (not unit and FAHRENHEIT[0] <= value <= FAHRENHEIT[1]):
        value = (value - 32) * 5 / 9
    return value if CELSIUS[0] <= value <= CELSIUS[1] else None


def _about_weather(lower: str, start: int, end: int, weather: tuple[str, ...]) -> bool:
    """The sentence around the number speaks of the weather ("38 degrees outside")."""
    left = max(lower.rfind(c, 0, start) for c in ".!?\n")
    rights = [i for i in (lower.find(c, end) for c in ".!?\n") if i != -1]
    sentence = lower[left + 1 : min(rights, default=len(lower))]
    return any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", sentence) for w in weather)


def readings(text: str, rules: Temperature) -> list[Reading]:
    """Every body temperature written in `text`."""
    lower = text.lower()
    spoken_of = any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", lower) for w in rules.words)
    found = []
    for m in NUMBER.finditer(lower):
        number, unit = m.group(1), m.group(2) or ""
        after = lower[m.end() :].split()
        before = lower[: m.start()].split()
        if (after and after[0].strip(".,!?") in rules.not_after) or (
            before and before[-1] in ("day", "d", "dia", "día")
        ):
            continue
        if not (unit or "." in number or "," in number or spoken_of):
            continue
        if _about_weather(lower, m.start(), m.end(), rules.weather):
            continue
        celsius = _celsius(float(number.replace(",", ".")), unit)
        if celsius is not None:
            found.append(Reading(m.start(1), m.end(), celsius))
    return found


def fevers(text: str, rules: Temperature | None) -> list[Reading]:
    """The temperatures in `text` at or above the clinic's fever line."""
    if rules is None:
        return []
    return [r for r in readings(text, rules) if r.celsius >= rules.fever_from_celsius - 1e-9]
