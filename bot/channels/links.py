"""Clients' personal links: the Telegram deep link, its QR code and the bot's username.

A link carries a code from the client registry (`bot.storage.clients`); Telegram sends it as
`/start <code>`, the website widget reads it from `?code=`. Both channels then call
`AftercareService.link_chat`.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from bot.kb.model import Clinic
from bot.settings import Settings, SettingsError

_BOT_USERNAME = re.compile(r"^[A-Za-z0-9_]{2,29}[Bb][Oo][Tt]$")


def deep_link(bot_username: str, code: str) -> str:
    """The Telegram link that opens the bot and sends `/start <code>`."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


def qr_code(link: str):
    """The QR code of a link, as `write_qr_png` draws it (error correction M, border 4)."""
    import qrcode  # only the commands that draw one need it
    from qrcode.constants import ERROR_CORRECT_M

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    qr.add_data(link)
    qr.make(fit=True)
    return qr


def write_qr_png(link: str, path: Path | str) -> Path:
    """Draw the link's QR code as a PNG at `path` (its folder is created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = qr_code(link).make_image(fill_color="black", back_color="white")
    with path.open("wb") as stream:
        image.save(stream, format="PNG")
    return path


def valid_bot_username(username: str) -> bool:
    """Whether `username` has the shape of a Telegram bot's username (no @)."""
    return bool(_BOT_USERNAME.match(username))


async def fetch_bot_username(token: str, base_url: str) -> str:
    """Ask the Bot API (getMe) for the bot's username."""
    from telegram import Bot

    async with Bot(token, base_url=base_url) as bot:
        return bot.username


def bot_username(settings: Settings, clinic: Clinic) -> str:
    """The clients' bot username: TELEGRAM_BOT_USERNAME, else `telegram.bot_username` in
    clinic/settings.yml, else asked from Telegram with TELEGRAM_BOT_TOKEN.

    Raises `SettingsError` when none of them gives one. Not for use inside a running event
    loop (it runs its own); there, await `fetch_bot_username`.
    """
    from_env = (settings.telegram_bot_username or "").lstrip("@")
    if from_env:
        if not valid_bot_username(from_env):
            raise SettingsError(
                f"TELEGRAM_BOT_USERNAME {from_env!r} is not a Telegram bot username "
                "(5-32 letters, digits or underscores ending in 'bot')"
            )
        return from_env
    configured = clinic.settings.telegram.bot_username
    if configured:
        return configured
    token = settings.secret("TELEGRAM_BOT_TOKEN")
    if not token:
        raise SettingsError(
            "the clients' Telegram bot username is unknown: set telegram.bot_username in "
            "clinic/settings.yml (or TELEGRAM_BOT_USERNAME, or TELEGRAM_BOT_TOKEN to ask Telegram)"
        )
    from telegram.error import TelegramError

    try:
        return asyncio.run(fetch_bot_username(token, settings.telegram_api_base_url))
    except TelegramError as exc:
        raise SettingsError(
            f"could not ask Telegram for the bot's username ({exc}); set "
            "telegram.bot_username in clinic/settings.yml"
        ) from exc
