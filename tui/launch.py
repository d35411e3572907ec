"""`gru-tui [flags]`: parse the config flags, then open the app.

Torch is not imported here: a bad flag is reported at once, and the app's first frame
appears while torch is still loading in the background (see GRUApp.load_session).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gru_core.cli import FlagParser, add_config_arguments, check_load_flags, config_from_args
from gru_core.config import TrainConfig
from gru_core.errors import GRUError
from gru_core.printable import visible
from gru_core.textfile import check_text_file
from gru_core.threads import check_threads, ui_torch_threads

if TYPE_CHECKING:
    from .app import GRUApp

# A --file larger than this is read in the app, after its first frame, with its progress
# shown (a 50 MB file takes seconds to read and fit); a smaller one before the app opens,
# so a file that cannot be read ends `gru-tui` with one line and status 2.
LOAD_IN_APP_BYTES = 4 << 20


def make_parser() -> argparse.ArgumentParser:
    parser = FlagParser(
        prog="gru-tui",
        description="Watch a GRU written from explicit matrices learn, live. "
        "`gru-tui train --help` for the headless trainer.",
    )
    add_config_arguments(parser)
    parser.add_argument("--load", metavar="PATH",
                        help="resume from a checkpoint saved with ctrl+s or `gru-tui train --save` "
                        "(its config is used; --epochs still applies)")
    return parser


def load_resume(path: str, epochs: int | None = None) -> tuple:
    """(Trainer, History) from a checkpoint, before the app starts; GRUError if refused.

    Torch loads here, before the first frame: the file must be checked before the app opens.
    """
    from gru_core.checkpoint import load_checkpoint

    trainer, history = load_checkpoint(path)
    if epochs is not None:
        trainer.config = trainer.config.replace(epochs=epochs)
    return trainer, history


def make_app(argv: Sequence[str]) -> "GRUApp":
    """The app `gru-tui argv` opens, not yet running; GRUError for a bad flag or file."""
    parser = make_parser()
    args = parser.parse_args(list(argv))
    check_load_flags(args, parser)
    loader = None
    if args.file is not None and not args.load and check_text_file(args.file) > LOAD_IN_APP_BYTES:
        # a large file is read in the app, its progress in the status line; the pane shows
        # the file's name until then
        config = TrainConfig.default(source=f"file:{args.file}")
        loader = functools.partial(config_from_args, args)
    else:
        config = config_from_args(args)
    threads = ui_torch_threads() if args.threads is None else check_threads(args.threads)
    resume = load_resume(args.load, args.epochs) if args.load else None
    from .app import GRUApp  # after the flags: a bad one is reported before textual loads

    return GRUApp(config, torch_threads=threads, resume=resume, resumed_from=args.load or "",
                  config_loader=loader)


def launch_app(argv: Sequence[str]) -> int:
    """Parse `argv`, run the app until it quits; 2 with one line on stderr for a bad flag."""
    try:
        app = make_app(argv)
    except GRUError as exc:
        print(f"gru-tui: error: {visible(str(exc))}", file=sys.stderr)
        return 2
    # A driver named in TEXTUAL_DRIVER (textual-serve's web driver: a browser tab) speaks
    # over pipes by design; only the terminal driver needs a terminal.
    if not os.environ.get("TEXTUAL_DRIVER") and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("gru-tui: error: the app needs a terminal, and stdin or stdout is not one "
              "(run it in a terminal, or use `gru-tui train` for a run without one)", file=sys.stderr)
        return 2

    # Training's many small torch ops each give the GIL up; with the UI busy, getting it
    # back waits out the switch interval. 0.5 ms instead of 5: the article preset trained
    # 488-504 steps/s in the app against 388-455 (side by side); larger models unchanged.
    sys.setswitchinterval(0.0005)
    app.catch_signals_early()
    app.run()
    return app.return_code or 0
