"""Rasa input channels of our own (Telegram on python-telegram-bot)."""
