"""`python -m web` (what `qa serve` runs): the chat page and the JSON API under uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from qa.cli import add_index_options, add_server_options, settings_from_args
from qa.errors import QAError


def build_parser() -> argparse.ArgumentParser:
    """The server's options: where to bind and which index to serve."""
    parser = argparse.ArgumentParser(
        prog="qa serve", description="Start the web server: the chat page at / and POST /ask."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    add_server_options(parser)
    add_index_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until stopped; a bad setting is one line on stderr and exit code 1."""
    import uvicorn

    from web.app import create_app

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # One line per request from the "qa.web" logger (method, path, status, time; never the
    # question). uvicorn configures only its own loggers, so enable ours here.
    logging.getLogger("qa").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        settings = settings_from_args(args)
        app = create_app(settings)
    except QAError as exc:
        print(f"qa: error: {exc.message}", file=sys.stderr)
        return 1
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
