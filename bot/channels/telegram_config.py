"""How the Telegram channel reaches Telegram, from the environment (light: no Rasa import)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.settings import Settings, SettingsError

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
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
        env = settings.env
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            return None
        if token == env.get("TELEGRAM_STAFF_BOT_TOKEN", "").strip():
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_BOT_TOKEN are the same bot; the clients' "
                "bot and the staff alert bot must be two bots (two tokens from @BotFather)"
            )
        base = env.get("TELEGRAM_API_BASE_URL", "").strip().rstrip("/") or DEFAULT_API_BASE_URL
        if not base.startswith(("http://", "https://")):
            raise SettingsError(f"TELEGRAM_API_BASE_URL is not an http(s) URL: {base!r}")
        if not base.endswith("/bot"):
            base += "/bot"
        webhook_url = env.get("TELEGRAM_WEBHOOK_URL", "").strip() or None
        secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or None
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
