"""Which files a browser tab may open and write (`gru-tui serve`); everything, in a terminal.

A tab of `gru-tui serve` is a student on another machine: it reads files from one folder
only, the server's `--root` (by default a read-only folder of the built-in corpora), or
its own temporary folder (the checkpoints it saved), and writes only in that temporary
folder, its working directory; what it writes is sent to the browser as a download.

    serve_from(root, tab_folder)   the tab's process, at its start (tui/serve_tab.py)
    readable(path)                 the path to open, or GRUError with one line
    writable(path)                 the path to write, or GRUError with one line

A relative path to read is looked up in the tab's folder, then in the root. Links are
followed before the check: a link in the root that points outside it is refused too.
"""

from __future__ import annotations

import os

from gru_core.errors import GRUError
from gru_core.printable import visible

from .keys import BROWSE_KEY

_root: str | None = None
_tab_folder: str | None = None


def serve_from(root: str, tab_folder: str) -> None:
    """Confine this process's file keys to `root` (read) and `tab_folder` (read and write)."""
    global _root, _tab_folder
    _root, _tab_folder = os.path.realpath(root), os.path.realpath(tab_folder)


def stop_serving() -> None:
    """Back to a terminal's rules (tests)."""
    global _root, _tab_folder
    _root = _tab_folder = None


def serving() -> bool:
    """True in a browser tab of `gru-tui serve`."""
    return _root is not None


def root() -> str | None:
    return _root


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def readable(path: str) -> str:
    """`path` as it may be opened: unchanged in a terminal; in a browser tab, resolved in the
    tab's folder or the root, and refused outside both."""
    path = os.path.expanduser(path)
    if _root is None or _tab_folder is None:
        return path
    if not os.path.isabs(path):
        in_tab = os.path.join(_tab_folder, path)
        path = in_tab if os.path.lexists(in_tab) else os.path.join(_root, path)
    real = os.path.realpath(path)
    if not (_inside(real, _root) or _inside(real, _tab_folder)):
        raise GRUError(f"outside the served folder: {visible(path)!r}; open a file from "
                       f"{visible(_root)} ({BROWSE_KEY} lists them)")
    return real


def writable(path: str) -> str:
    """`path` as it may be written: unchanged in a terminal; in a browser tab, inside the tab's
    own folder only (the file is then sent to the browser as a download)."""
    path = os.path.expanduser(path)
    if _tab_folder is None:
        return path
    real = os.path.realpath(os.path.join(_tab_folder, path))
    if not _inside(real, _tab_folder) or real == _tab_folder:
        raise GRUError(f"outside this tab's folder: {visible(path)!r}; in a browser a file is "
                       f"sent to you as a download: type a file name only, like run.ckpt")
    return path


def files_to_open(suffix: str = "", limit: int = 500) -> list[str]:
    """The files a browser tab may open (the root's, then the tab's), `suffix` ones first."""
    found: list[str] = []
    for folder in (_root, _tab_folder):
        if folder is None:
            continue
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith("."):
                    found.append(os.path.join(dirpath, name))
            if len(found) >= limit:
                break
    found = [p for p in found if _inside(os.path.realpath(p), _root or "") or
             _inside(os.path.realpath(p), _tab_folder or "")][:limit]
    return sorted(found, key=lambda p: not p.endswith(suffix)) if suffix else found
