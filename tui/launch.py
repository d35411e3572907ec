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

from .keys import key_for

if TYPE_CHECKING:
    from .app import GRUApp

# A --file larger than this is read in the app, after its first frame, with its progress
# shown (a 50 MB file takes seconds to read and fit); a smaller one before the app opens,
# so a file that cannot be read ends `gru-tui` with one line and status 2.
LOAD_IN_APP_BYTES = 4 << 20


# The subcommands, each with its own --help (tui/cli.py runs them before this parser is
# built); listed here so that `gru-tui --help` names them.
SUBCOMMANDS = {
    "train": "train headless and print the loss per epoch (gru-tui train --help)",
    "sample": "sample text from a checkpoint (gru-tui sample --help)",
    "export-torch": "export a checkpoint as torch.nn.GRU's state dict (gru-tui export-torch --help)",
    "export-safetensors": "export a checkpoint's weights as safetensors (gru-tui export-safetensors --help)",
    "serve": "serve the app to web browsers (gru-tui serve --help)",
}


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("gru-tui")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def make_parser() -> argparse.ArgumentParser:
    parser = FlagParser(
        prog="gru-tui",
        description="Watch a GRU written from explicit matrices learn, live. With no command, "
        "the flags below open the app; a command runs on its own.",
    )
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for name, about in SUBCOMMANDS.items():
        commands.add_parser(name, help=about, add_help=False)
    add_config_arguments(parser)
    parser.add_argument("--load", metavar="PATH",
                        help=f"resume from a checkpoint saved with {key_for('save')} or "
                        "`gru-tui train --save` (its config is used; --epochs still applies)")
    parser.add_argument("--theme", metavar="NAME",
                        help="the colour theme (e.g. textual-light, nord); the one chosen last "
                        "(--theme or the palette's Change theme) is remembered")
    parser.add_argument("--list-corpora", action="store_true", help="list the built-in texts and exit")
    parser.add_argument("--version", action="version", version=f"gru-tui {version()}")
    return parser


def check_theme(name: str | None) -> str | None:
    """--theme's value, if it names one of Textual's themes; GRUError naming them if not."""
    if name is None:
        return None
    from textual.theme import BUILTIN_THEMES

    if name not in BUILTIN_THEMES:
        raise GRUError(f"--theme {name!r} is not a theme; choose one of {', '.join(BUILTIN_THEMES)}")
    return name


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
    if args.command is not None:  # tui/cli.py runs the commands; here only as a stray word
        raise GRUError(f"{args.command!r} is a command: give it first (gru-tui {args.command} --help)")
    check_load_flags(args, parser)
    theme = check_theme(args.theme)
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
                  config_loader=loader, theme=theme)


def launch_app(argv: Sequence[str]) -> int:
    """Parse `argv`, run the app until it quits; 2 with one line on stderr for a bad flag."""
    if "--list-corpora" in argv:  # no terminal needed, and no other flag matters
        from gru_core.corpora import describe_corpora

        make_parser().parse_args(list(argv))  # a bad flag beside it is still reported
        print(describe_corpora())
        return 0
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
