"""The `gru-tui` command: a subcommand (train, sample, export-torch, export-safetensors)
runs headless, `serve` serves the app to web browsers; anything else opens the app."""

from __future__ import annotations

import sys
from collections.abc import Sequence

MODEL_COMMANDS = {"sample": "sample_main", "export-torch": "export_torch_main",
                  "export-safetensors": "export_safetensors_main"}


def main(argv: Sequence[str] | None = None) -> int:
    """Ctrl+C before the app takes the terminal (while torch loads, say) is one line, exit 130."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("gru-tui: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    from gru_core.threads import prefer_passive_openmp

    prefer_passive_openmp()  # before anything loads torch
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "train":
        from gru_core.cli import train_main

        return train_main(argv[1:])
    if argv and argv[0] in MODEL_COMMANDS:
        from gru_core import model_cli

        return getattr(model_cli, MODEL_COMMANDS[argv[0]])(argv[1:])
    if argv and argv[0] == "serve":
        from .serve import serve_main

        return serve_main(argv[1:])
    from .launch import launch_app

    return launch_app(argv)


if __name__ == "__main__":
    sys.exit(main())
