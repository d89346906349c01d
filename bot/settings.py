"""One settings object for every process, read from the environment.

Clinic-editable settings live in `clinic/settings.yml` (see `bot.kb`); this object holds
where things are and how to reach them. Secrets come only from the environment and are
checked when a feature needs them (`Settings.require`), failing fast with a clear message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    """A required setting is missing or invalid."""


@dataclass(frozen=True)
class Settings:
    """Paths and endpoints of one deployment."""

    project_dir: Path
    clinic_dir: Path
    database_url: str
    domain_file: Path
    models_dir: Path
    action_server_url: str
    rasa_url: str
    env: Mapping[str, str]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (all optional, with local defaults)."""
        env = dict(os.environ if env is None else env)
        project = Path(env.get("AFTERCARE_HOME", PROJECT_DIR)).resolve()
        var_dir = project / "var"
        database_url = env.get("AFTERCARE_DATABASE_URL") or f"sqlite:///{var_dir / 'aftercare.db'}"
        if not database_url.split(":", 1)[0]:
            raise SettingsError(f"AFTERCARE_DATABASE_URL is not a database URL: {database_url!r}")
        return cls(
            project_dir=project,
            clinic_dir=Path(env.get("AFTERCARE_CLINIC_DIR", project / "clinic")).resolve(),
            database_url=database_url,
            domain_file=project / "domain.yml",
            models_dir=Path(env.get("AFTERCARE_MODELS_DIR", project / "models")).resolve(),
            action_server_url=env.get("AFTERCARE_ACTION_URL", "http://127.0.0.1:5055/webhook"),
            rasa_url=env.get("AFTERCARE_RASA_URL", "http://127.0.0.1:5005"),
            env=env,
        )

    def require(self, name: str) -> str:
        """A secret or setting that a feature cannot run without."""
        value = self.env.get(name, "").strip()
        if not value:
            raise SettingsError(
                f"{name} is not set; export it in the environment (never in a file in git)"
            )
        return value
