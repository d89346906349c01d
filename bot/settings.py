"""One settings object for every process: each environment variable, its type and default.

Nothing else in the project reads the environment. Clinic-editable settings live in
`clinic/settings.yml` (see `bot.kb`); this object holds where things are, how to reach them
and the secrets, which come only from the environment and are checked when a feature needs
them (`Settings.require`), failing fast with a clear message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseSettings, Field, SecretStr, ValidationError, validator

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_TELEGRAM_API = "https://api.telegram.org/bot"


class SettingsError(RuntimeError):
    """A required setting is missing or invalid."""


class Settings(BaseSettings):
    """Paths, endpoints and secrets of one deployment (immutable)."""

    project_dir: Path = Field(PROJECT_DIR, env="AFTERCARE_HOME")
    clinic_dir_override: Path | None = Field(None, env="AFTERCARE_CLINIC_DIR")
    database_url_override: str | None = Field(None, env="AFTERCARE_DATABASE_URL")
    models_dir_override: Path | None = Field(None, env="AFTERCARE_MODELS_DIR")
    tracker_db_override: Path | None = Field(None, env="AFTERCARE_TRACKER_DB")
    tracker_url: str | None = Field(None, env="AFTERCARE_TRACKER_URL")
    redis_url: str | None = Field(None, env="AFTERCARE_REDIS_URL")
    # Set by `aftercare run` for its children (one per run): who holds this stack's leases.
    stack: str | None = Field(None, env="AFTERCARE_STACK")
    minilm_dir_override: Path | None = Field(None, env="AFTERCARE_MINILM_DIR")
    action_server_url: str = Field("http://127.0.0.1:5055/webhook", env="AFTERCARE_ACTION_URL")
    rasa_url: str = Field("http://127.0.0.1:5005", env="AFTERCARE_RASA_URL")
    web_origins_text: str = Field("", env="AFTERCARE_WEB_ORIGINS")
    # The staff inbox is reached over HTTPS (a reverse proxy in front): its cookie is Secure.
    inbox_https: bool = Field(False, env="AFTERCARE_INBOX_HTTPS")
    # Its address as browsers see it behind that proxy (https://inbox.clinic.example): the
    # only Origin its forms accept. Unset: the host a request was sent to.
    inbox_origin: str | None = Field(None, env="AFTERCARE_INBOX_ORIGIN")
    log_level: str = Field("WARNING", env="LOG_LEVEL")
    recover_after_seconds: float = Field(60.0, env="AFTERCARE_RECOVER_AFTER_SECONDS")
    user: str = Field("staff", env="USER")
    telegram_bot_token: SecretStr | None = Field(None, env="TELEGRAM_BOT_TOKEN")
    telegram_staff_bot_token: SecretStr | None = Field(None, env="TELEGRAM_STAFF_BOT_TOKEN")
    telegram_webhook_url: str | None = Field(None, env="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(None, env="TELEGRAM_WEBHOOK_SECRET")
    telegram_api_root: str | None = Field(None, env="TELEGRAM_API_BASE_URL")
    telegram_bot_username: str | None = Field(None, env="TELEGRAM_BOT_USERNAME")
    smtp_username: str | None = Field(None, env="AFTERCARE_SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, env="AFTERCARE_SMTP_PASSWORD")
    webhook_secret: SecretStr | None = Field(None, env="AFTERCARE_WEBHOOK_SECRET")
    web_token_secret: SecretStr | None = Field(None, env="AFTERCARE_WEB_TOKEN_SECRET")
    environment: dict[str, str] = Field(default_factory=dict, repr=False)

    class Config:
        allow_mutation = False
        case_sensitive = True

        @classmethod
        def customise_sources(cls, init_settings, env_settings, file_secret_settings):
            """Only what `from_env` passes in: the environment is read in one place."""
            return (init_settings,)

    @validator("*", pre=True)
    def _blank_is_unset(cls, value: Any, field: Any) -> Any:  # noqa: N805 - pydantic validator
        """Surrounding blanks are ignored; an empty variable counts as not set."""
        if isinstance(value, str):
            value = value.strip()
            return None if not value and field.allow_none else value
        return value

    @validator("database_url_override", "tracker_url")
    def _database_url(cls, value: str | None, field: Any) -> str | None:  # noqa: N805
        if value is not None and not value.split(":", 1)[0]:
            variable = field.field_info.extra["env"]
            raise ValueError(f"{variable} is not a database URL: {_without_password(value)!r}")
        return value

    @validator("redis_url")
    def _redis_url(cls, value: str | None) -> str | None:  # noqa: N805
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss"):
            raise ValueError(
                f"AFTERCARE_REDIS_URL must be redis://HOST:PORT/DB (or rediss://), not "
                f"{_without_password(value)!r}"
            )
        return value

    @validator("recover_after_seconds")
    def _recover_after(cls, value: float) -> float:  # noqa: N805
        if value < 1:
            raise ValueError(f"AFTERCARE_RECOVER_AFTER_SECONDS must be at least 1, not {value}")
        return value

    @validator("web_token_secret")
    def _web_token_secret(cls, value: SecretStr | None) -> SecretStr | None:  # noqa: N805
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(
                "AFTERCARE_WEB_TOKEN_SECRET is too short to sign with: use at least 32 random"
                " characters (e.g. `openssl rand -base64 48`)"
            )
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from environment variables (all optional, with local defaults)."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {"environment": env}
        for name, field in cls.__fields__.items():
            variable = field.field_info.extra.get("env")
            if variable and variable in env:
                values[name] = env[variable]
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError("; ".join(e["msg"] for e in exc.errors())) from None

    # --- where things are --------------------------------------------------------------

    @property
    def clinic_dir(self) -> Path:
        """The clinic's folder (AFTERCARE_CLINIC_DIR, default clinic/)."""
        return (self.clinic_dir_override or self.project_dir / "clinic").resolve()

    @property
    def var_dir(self) -> Path:
        """Where databases, link QR codes and logs are kept."""
        return self.project_dir / "var"

    @property
    def database_url(self) -> str:
        """Our tables (AFTERCARE_DATABASE_URL; default SQLite in var/aftercare.db)."""
        return self.database_url_override or f"sqlite:///{self.var_dir / 'aftercare.db'}"

    @property
    def tracker_db(self) -> Path:
        """Rasa's conversation store (AFTERCARE_TRACKER_DB; default var/rasa_tracker.db)."""
        return self.tracker_db_override or self.var_dir / "rasa_tracker.db"

    @property
    def models_dir(self) -> Path:
        """Trained models (AFTERCARE_MODELS_DIR, default models/)."""
        return (self.models_dir_override or self.project_dir / "models").resolve()

    @property
    def minilm_dir(self) -> Path:
        """The sentence encoder's files (AFTERCARE_MINILM_DIR, default .venv/share/minilm)."""
        return self.minilm_dir_override or self.project_dir / ".venv" / "share" / "minilm"

    @property
    def domain_file(self) -> Path:
        """Rasa's domain.yml."""
        return self.project_dir / "domain.yml"

    # --- how to reach Telegram -----------------------------------------------------------

    @property
    def telegram_api_base_url(self) -> str:
        """python-telegram-bot's `base_url` (ending in /bot) from TELEGRAM_API_BASE_URL, which
        may be the server's root or the root plus /bot."""
        base = (self.telegram_api_root or "").rstrip("/")
        if not base:
            return DEFAULT_TELEGRAM_API
        return base if base.endswith("/bot") else f"{base}/bot"

    @property
    def telegram_file_base_url(self) -> str:
        """Where Bot API files are downloaded from (.../file/bot<token>/...)."""
        return self.telegram_api_base_url[: -len("/bot")] + "/file/bot"

    def __repr_args__(self) -> list[tuple[str | None, Any]]:
        """What repr() and str() print: secrets as '**********' (SecretStr) and the
        passwords inside database and Redis URLs as ***."""
        return [
            (name, _without_password(value) if name in _URL_FIELDS and value else value)
            for name, value in super().__repr_args__()
        ]

    # --- secrets ------------------------------------------------------------------------

    def secret(self, name: str) -> str | None:
        """A secret by its environment variable name, or None when it is not set."""
        for field_name, field in self.__fields__.items():
            if field.field_info.extra.get("env") == name:
                value = getattr(self, field_name)
                if isinstance(value, SecretStr):
                    return value.get_secret_value()
                return value
        raise KeyError(name)

    def secret_values(self) -> list[str]:
        """Every secret that is set, and a database URL's password: what logs must never show."""
        values = [
            getattr(self, name).get_secret_value()
            for name, field in self.__fields__.items()
            if field.type_ is SecretStr and getattr(self, name) is not None
        ]
        urls = (self.database_url_override, self.tracker_url, self.redis_url)
        return values + [p for p in map(_url_password, urls) if p]

    def require(self, name: str) -> str:
        """A secret or setting that a feature cannot run without."""
        value = self.secret(name)
        if not value:
            raise SettingsError(
                f"{name} is not set; export it in the environment (never in a file in git)"
            )
        return value

    def child_env(self, **overrides: str) -> dict[str, str]:
        """The environment for a child process: this one's, with `overrides`."""
        return {**self.environment, **overrides}

    def with_env(self, **overrides: str) -> Settings:
        """The same deployment with some variables changed (e.g. a private database)."""
        return Settings.from_env(self.child_env(**overrides))


def _password_span(url: str) -> tuple[int, int] | None:
    """Where a URL's password is (between the user's ":" and the last "@"), if it has one;
    with or without a scheme, whatever the password holds."""
    at = url.rfind("@")
    if at == -1:
        return None
    scheme = url.find("://")
    start = url.find(":", scheme + 3 if scheme != -1 else 0, at)
    return None if start == -1 else (start + 1, at)


_URL_FIELDS = ("database_url_override", "tracker_url", "redis_url")


def _url_password(url: str | None) -> str | None:
    span = _password_span(url or "")
    return unquote(url[span[0] : span[1]]) if url and span and span[1] > span[0] else None


def _without_password(url: str) -> str:
    """A URL fit for an error message: its password (and a `password=` parameter) as ***."""
    span = _password_span(url)
    url = url if span is None else url[: span[0]] + "***" + url[span[1] :]
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)


def quiet_rasa() -> None:
    """Rasa in this process sends no telemetry (Rasa reads the variable itself)."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
