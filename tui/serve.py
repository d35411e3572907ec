"""`gru-tui serve [--host H] [--port P] [app flags]`: the app in a web browser (textual-serve).

Each browser tab that opens the page gets its own `gru-tui [app flags]` process, with
its own model and training thread: a class of 30 is 30 processes on the server (the
memory each takes is in README). The app flags are checked here first, so a mistake is
one line and exit status 2 instead of a page that fails in every tab.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from gru_core.errors import GRUError
from gru_core.printable import visible

from .launch import make_parser as make_app_parser


def serve_command(app_argv: Sequence[str]) -> str:
    """The shell command textual-serve runs for each tab: this Python's gru-tui with the flags."""
    return shlex.join([sys.executable, "-m", "tui", *app_argv])


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """(--host/--port, the app's flags), the app's flags checked as `gru-tui` checks them."""
    from gru_core.cli import FlagParser, _int, config_from_args

    parser = FlagParser(prog="gru-tui serve", allow_abbrev=False,
                        description="Serve the app to web browsers: one app process per browser tab. "
                        "Any other flag is an app flag (gru-tui --help).")
    parser.add_argument("--host", default="localhost",
                        help="address to listen on (default localhost; 0.0.0.0 for a whole network)")
    parser.add_argument("--port", type=_int("--port"), default=8000, help="port (default 8000)")
    args, app_argv = parser.parse_known_args(list(argv))
    if not 1 <= args.port <= 65535:
        raise GRUError(f"--port must be from 1 to 65535; got {args.port}")
    app_args = make_app_parser().parse_args(app_argv)
    config_from_args(app_args)  # a bad value or an unreadable file: said now, not in every tab
    return args, app_argv


def serve_main(argv: Sequence[str]) -> int:
    try:
        args, app_argv = parse(argv)
    except GRUError as exc:
        print(f"gru-tui serve: error: {visible(str(exc))}", file=sys.stderr)
        return 2
    from textual_serve.server import Server

    server = Server(serve_command(app_argv), host=args.host, port=args.port, title="gru-tui")
    try:
        server.serve()
    except OSError as exc:  # the port is taken, or the address is not this machine's
        print(f"gru-tui serve: error: cannot listen on {args.host}:{args.port}: "
              f"{exc.strerror or exc}; try another --port", file=sys.stderr)
        return 2
    return 0
