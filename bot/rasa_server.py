"""Run Rasa's own command line with our speed fixes installed: `python -m bot.rasa_server run ...`.

`aftercare run` starts Rasa through this module instead of the `rasa` script, so the server
gets `bot.rasa_tuning` (README, "Benchmarks"). Every argument is passed to Rasa unchanged.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Apply `bot.rasa_tuning` and hand the arguments to Rasa's CLI."""
    from bot import rasa_tuning

    rasa_tuning.apply()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
