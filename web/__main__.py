"""`python -m web` (what `qa serve` runs): the chat page and the JSON API under uvicorn."""

from __future__ import annotations

import argparse
import copy
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qa.cli import add_index_options, add_server_options, settings_from_args
from qa.errors import QAError

if TYPE_CHECKING:
    from qa import Settings

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# What each worker process builds its app with (`--workers` above 1): an import string, since
# the workers are spawned processes that cannot be handed an app object.
APP_FACTORY = "web.app:create_app"


def build_parser() -> argparse.ArgumentParser:
    """The server's options: where to bind, how many processes, and which index to serve."""
    parser = argparse.ArgumentParser(
        prog="qa serve", description="Start the web server: the chat page at / and POST /ask."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    add_server_options(parser)
    add_index_options(parser)
    return parser


def log_config(verbose: bool) -> dict[str, Any]:
    """uvicorn's logging, plus the one line per request of the "qa.web" logger, for every worker."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["qa"] = {"format": LOG_FORMAT}
    config["handlers"]["qa"] = {
        "class": "logging.StreamHandler",
        "formatter": "qa",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"handlers": ["qa"], "level": "DEBUG" if verbose else "WARNING"}
    config["loggers"]["qa"] = {"level": "DEBUG" if verbose else "INFO"}
    return config


def serve_workers(settings: Settings, verbose: bool) -> None:
    """`settings.workers` uvicorn processes on one socket, each making its own app and QA.

    The workers are spawned, so they read their settings from the environment: every setting,
    command-line options included, is written there first.
    """
    import uvicorn

    os.environ.update(settings.to_env())
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=log_config(verbose),
        access_log=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until stopped; a bad setting is one line on stderr and exit code 1."""
    import uvicorn

    from web.app import create_app

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format=LOG_FORMAT)
    # One line per request from the "qa.web" logger (method, path, status, time; never the
    # question). uvicorn configures only its own loggers, so enable ours here.
    logging.getLogger("qa").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        settings = settings_from_args(args)
        if settings.workers > 1:
            serve_workers(settings, args.verbose)
            return 0
        app = create_app(settings)
    except QAError as exc:
        print(f"qa: error: {exc.message}", file=sys.stderr)
        return 1
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
