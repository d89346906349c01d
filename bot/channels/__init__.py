"""Rasa input channels of our own: Telegram (python-telegram-bot) and the website widget,
and the clients' personal links both use."""
