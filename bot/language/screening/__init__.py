"""Screening of every client message for symptoms, red-flag signs and emergencies."""

from bot.language.screening.screener import Mention, Screener, Screening

__all__ = ["Mention", "Screener", "Screening"]
