"""Run Rasa's own command line with our speed fixes installed: `python -m bot.serve.rasa_server run ...`.

`aftercare run` starts Rasa through this module instead of the `rasa` script, so the server
gets `bot.serve.rasa_tuning` (README, "Benchmarks") and `bot.serve.log_privacy`. Every argument is passed to Rasa unchanged.
"""

from __future__ import annotations

import sys

from bot.serve import log_privacy, rasa_tuning
from bot.settings import Settings


def main(argv: list[str] | None = None) -> None:
    """Apply `bot.serve.rasa_tuning`, hide secrets and client text from the logs, and hand
    the arguments to Rasa's CLI."""
    log_privacy.install(Settings.from_env())
    rasa_tuning.apply()
    log_privacy.hide_in_rasa()
    from rasa.__main__ import main as rasa_main  # heavy: after the fixes are installed

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
