"""`python -m tui.serve_tab --root DIR --parent PID -- [app flags]`: one browser tab's app.

`gru-tui serve` starts this for each tab, in the tab's own temporary folder (its working
directory, where its saves and exports are written before they are sent to the browser),
with Textual's web driver on its stdin and stdout. The app runs in serve mode: files are
opened from DIR (or the tab's folder) only, q asks first, and saves reach the browser as
downloads.

The process asks Linux to kill it when its server dies (PR_SET_PDEATHSIG), so no tab
outlives a server that was killed outright.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
from collections.abc import Sequence

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when `parent` dies; at once if it already has (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the stdin watch (serve_driver) still ends it
        pass
    if parent and os.getppid() != parent:  # the server died before the call above
        os._exit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.serve_tab")
    parser.add_argument("--root", required=True)
    parser.add_argument("--parent", type=int, default=0)
    parser.add_argument("app_argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    die_with_parent(args.parent)
    app_argv = args.app_argv[1:] if args.app_argv[:1] == ["--"] else args.app_argv

    from gru_core.threads import prefer_passive_openmp

    prefer_passive_openmp()  # before anything loads torch
    from . import confine
    from .launch import launch_app

    confine.serve_from(args.root, os.getcwd())
    return launch_app(app_argv)


if __name__ == "__main__":
    sys.exit(main())
