"""Delivery channels: Telegram staff chat, e-mail (SMTP), JSON webhook, client notices.

Each `send` raises on failure; the worker retries with backoff. Secrets come only from the
environment, through `Settings.require`. Every word staff read comes from `AlertWords`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from bot import logs
from bot.alerts.message import AlertWords, alert_payload, alert_subject, alert_text
from bot.alerts.rasa_api import RasaConversations
from bot.kb.model import EmailAlerts
from bot.storage.escalations import FORGOTTEN
from bot.storage.outbox import Delivery

ACK_PREFIX = "ack:"


class Channel(Protocol):
    """Something that can deliver an outbox row."""

    name: str

    async def send(self, delivery: Delivery) -> None:
        """Deliver, or raise."""


class PermanentFailure(Exception):
    """A delivery that no retry can make succeed (wrong address, refused, misconfigured)."""


def refused(status: int) -> bool:
    """An HTTP status that says the request itself is refused (not "busy, try later")."""
    return 400 <= status < 500 and status not in (408, 425, 429)


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying cannot help: the receiver refused the alert itself (not the network,
    a timeout or a busy server, which are retried)."""
    if isinstance(exc, PermanentFailure):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return refused(exc.response.status_code)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    try:
        from telegram.error import BadRequest, Forbidden, InvalidToken
    except ImportError:  # pragma: no cover - python-telegram-bot is a dependency
        return False
    return isinstance(exc, BadRequest | Forbidden | InvalidToken)


class TelegramStaffChannel:
    """Alerts to the clinic's staff chat, with an Acknowledge button (python-telegram-bot)."""

    name = "telegram"

    def __init__(
        self, token: str, chat_id: str, words: AlertWords, base_url: str, base_file_url: str
    ):
        from telegram import Bot  # python-telegram-bot: only where a staff chat is configured

        self.chat_id, self.words = chat_id, words
        self.bot = Bot(token, base_url=base_url, base_file_url=base_file_url)

    async def send(self, delivery: Delivery) -> None:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup

        button = InlineKeyboardButton(
            self.words.say("acknowledge_button"),
            callback_data=f"{ACK_PREFIX}{delivery.escalation.id}",
        )
        markup = InlineKeyboardMarkup([[button]])
        text = alert_text(delivery, self.words)
        if delivery.photo is not None:
            # The photo itself, captioned with the alert (a caption holds 1024 characters).
            await self.bot.send_photo(
                self.chat_id, delivery.photo.data, caption=text[:1024], reply_markup=markup
            )
            return
        await self.bot.send_message(self.chat_id, text, reply_markup=markup)


class EmailChannel:
    """Alerts by e-mail through an SMTP server."""

    name = "email"

    def __init__(
        self,
        config: EmailAlerts,
        words: AlertWords,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
    ):
        self.config, self.words = config, words
        self.username, self.password = username, password
        self.timeout = timeout

    def _send_sync(self, delivery: Delivery) -> None:
        message = EmailMessage()
        message["Subject"] = alert_subject(delivery, self.words)
        message["From"] = self.config.sender
        message["To"] = ", ".join(self.config.to)
        # Stable id: a mail server or client can drop a duplicate of the same delivery.
        message["Message-ID"] = (
            f"<aftercare-escalation-{delivery.escalation.id}-{delivery.purpose}@{self.config.sender.split('@')[-1]}>"
        )
        message.set_content(alert_text(delivery, self.words))
        if delivery.photo is not None:
            maintype, _, subtype = delivery.photo.content_type.partition("/")
            message.add_attachment(
                delivery.photo.data,
                maintype=maintype or "image",
                subtype=subtype or "jpeg",
                filename=f"escalation-{delivery.escalation.id}-photo-{delivery.photo.id}.{subtype or 'jpg'}",
            )
        if self.username and self.password and not self.config.starttls:
            # A password is never sent in clear text: the clinic must turn STARTTLS on.
            raise PermanentFailure("SMTP login without TLS refused: set alerts.email.starttls")
        with smtplib.SMTP(self.config.host, self.config.port, timeout=self.timeout) as smtp:
            if self.config.starttls:
                smtp.starttls(context=ssl.create_default_context())  # the certificate is checked
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(message)

    async def send(self, delivery: Delivery) -> None:
        await asyncio.to_thread(self._send_sync, delivery)


class WebhookChannel:
    """Alerts as JSON to a URL (Slack, Teams, pagers), signed when a secret is set."""

    name = "webhook"

    def __init__(self, url: str, words: AlertWords, secret: str | None = None, timeout: float = 10):
        self.url, self.words, self.secret, self.timeout = url, words, secret, timeout
        parts = urlsplit(url)  # a Slack-style URL carries its key in the path: never logged
        logs.add_secrets([parts.path.rstrip("/"), parts.query])

    async def send(self, delivery: Delivery) -> None:
        body = json.dumps(alert_payload(delivery, self.words)).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"aftercare-escalation-{delivery.escalation.id}-{delivery.purpose}",
        }
        if self.secret:
            headers["X-Aftercare-Signature"] = (
                "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            )
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(self.url, content=body, headers=headers)
        if response.status_code >= 300:  # the message names no URL: it may hold a key
            error = f"webhook answered HTTP {response.status_code}"
            raise PermanentFailure(error) if refused(response.status_code) else RuntimeError(error)


class ClientNoticeChannel:
    """Tells the client about their escalation (seen by staff; deadline passed) through Rasa.

    Sets the `escalation_update` slot and runs `action_escalation_update` in the client's
    conversation, on the channel they last used (Rasa's HTTP API, `--enable-api`).
    """

    name = "client"

    def __init__(self, rasa_url: str, timeout: float = 15):
        self.rasa = RasaConversations(rasa_url, timeout)

    async def send(self, delivery: Delivery) -> None:
        update = {"ack_notice": "acknowledged", "deadline_notice": "deadline_passed"}[
            delivery.purpose
        ]
        sender = delivery.escalation.sender_id
        if sender == FORGOTTEN:
            return  # the client asked to be forgotten: there is no one to tell
        await self.rasa.run_action(
            sender, "action_escalation_update", {"escalation_update": update}
        )
