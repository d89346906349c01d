"""How the Telegram channel reaches Telegram, from the settings (light: no Rasa import)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.settings import Settings, SettingsError

_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True)
class TelegramConfig:
    """How to reach Telegram; from the environment only (the token is a secret)."""

    token: str
    api_base_url: str
    webhook_url: str | None = None
    webhook_secret: str | None = None

    @property
    def mode(self) -> str:
        """ "webhook" when a public URL is configured, else "polling"."""
        return "webhook" if self.webhook_url else "polling"

    @property
    def file_base_url(self) -> str:
        """Where files are downloaded from (Bot API convention: .../file/bot<token>/...)."""
        return self.api_base_url[: -len("/bot")] + "/file/bot"

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramConfig | None:
        """The configuration, or None when `TELEGRAM_BOT_TOKEN` is not set (channel off).

        Fails fast on a half-configured webhook: a URL without a valid secret token."""
        token = settings.secret("TELEGRAM_BOT_TOKEN")
        if not token:
            return None
        if token == settings.secret("TELEGRAM_STAFF_BOT_TOKEN"):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_BOT_TOKEN are the same bot; the clients' "
                "bot and the staff alert bot must be two bots (two tokens from @BotFather)"
            )
        base = settings.telegram_api_base_url
        if not base.startswith(("http://", "https://")):
            raise SettingsError(
                f"TELEGRAM_API_BASE_URL is not an http(s) URL: {settings.telegram_api_root!r}"
            )
        webhook_url = settings.telegram_webhook_url
        secret = settings.secret("TELEGRAM_WEBHOOK_SECRET")
        if webhook_url:
            if not webhook_url.startswith("https://"):
                raise SettingsError(
                    f"TELEGRAM_WEBHOOK_URL must be a public https:// address: {webhook_url!r}"
                )
            if secret is None:
                raise SettingsError(
                    "TELEGRAM_WEBHOOK_SECRET is not set; webhook mode needs it to reject forged "
                    "updates (1-256 characters: letters, digits, _ and -)"
                )
        if secret is not None and not _SECRET.match(secret):
            raise SettingsError(
                "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters: letters, digits, _ and -"
            )
        return cls(token, base, webhook_url, secret)
