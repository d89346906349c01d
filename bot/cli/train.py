"""`aftercare train [--force]`: train only if the training data changed."""

from __future__ import annotations

import argparse

from bot.serve.training import train
from bot.settings import Settings


def register(sub) -> None:
    """Add `train`."""
    command = sub.add_parser("train", help="train the model if the training data changed")
    command.add_argument("--force", action="store_true", help="train even if nothing changed")
    command.set_defaults(func=train_command)


def train_command(settings: Settings, args: argparse.Namespace) -> int:
    """Train if needed (or forced)."""
    env = settings.child_env(RASA_TELEMETRY_ENABLED="false")
    train(settings.project_dir, settings.models_dir, force=args.force, env=env, settings=settings)
    return 0
