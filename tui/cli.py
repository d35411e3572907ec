"""The `gru-tui` command: `gru-tui train ...` runs headless, anything else opens the app."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from gru_core.threads import prefer_passive_openmp

    prefer_passive_openmp()  # before anything loads torch
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "train":
        from gru_core.cli import train_main

        return train_main(argv[1:])
    from .launch import launch_app

    return launch_app(argv)


if __name__ == "__main__":
    sys.exit(main())
