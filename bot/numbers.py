"""Small numbers written as words, as clients write them ("two days", "a week")."""

from __future__ import annotations

WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "couple": 2,
    "a couple of": 2,
    "a couple": 2,
    "few": 3,
    "a few": 3,
    "twenty four": 24,
    "twenty-four": 24,
    "thirty six": 36,
    "thirty-six": 36,
    "forty eight": 48,
    "forty-eight": 48,
    "seventy two": 72,
    "seventy-two": 72,
}
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
# Longest first, so "forty eight" wins over "a".
NUMBER_PATTERN = "|".join(
    sorted((w.replace(" ", r"\s+") for w in WORD_NUMBERS), key=len, reverse=True)
)


def to_int(token: str) -> int | None:
    """Parse digits or a number word; None if it is neither."""
    token = " ".join(token.lower().replace("-", " ").split())
    if token.isdigit():
        return int(token)
    return WORD_NUMBERS.get(token) or WORD_NUMBERS.get(token.replace(" ", "-"))
