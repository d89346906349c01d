"""Start the Rasa action server on our actions, after checking the clinic files.

`python -m bot.serve.action_server [--port 5055]`. A knowledge base with errors stops start-up
with every error's file and line.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot.kb.loader import KnowledgeBaseError
from bot.serve import log_privacy
from bot.service import get_service


def main(argv: list[str] | None = None) -> int:
    """Validate the clinic folder, then serve the actions until stopped."""
    parser = argparse.ArgumentParser(prog="aftercare-actions")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    service = get_service()
    log_privacy.install(service.settings)
    try:
        clinic = service.clinic()
    except KnowledgeBaseError as exc:
        print(f"The clinic knowledge base has errors; not starting:\n{exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("Knowledge base %s is valid", clinic.kb.version)
    service.warm_up()  # spaCy and the word lists load before the first client message

    from rasa_sdk.endpoint import create_app  # heavy: only when actually serving

    log_privacy.hide_in_actions()

    app = create_app("actions", cors_origins=None)
    app.run(host=args.host, port=args.port, access_log=False, workers=1, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
