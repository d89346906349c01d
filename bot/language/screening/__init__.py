"""Screening of every client message for symptoms, red-flag signs and emergencies."""

from bot.language.screening.found import Mention, Screening
from bot.language.screening.screener import Screener

__all__ = ["Mention", "Screener", "Screening"]
