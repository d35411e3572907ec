"""The rule every reader of a user's file applies before opening it (a text to train on, a
checkpoint, a safetensors file): the path exists (a symlink loop is named as one), and it is
a regular file, not empty. Opening a FIFO would block until a writer comes, and a device such
as /dev/zero never ends."""

from __future__ import annotations

import errno
import os
import stat

from .errors import GRUError


def check_regular_file(path: str, what: str, *, directory: str, special: str, empty: str) -> int:
    """The file's size in bytes, or GRUError saying what is wrong, the path, and what would
    work: `directory`, `special` and `empty` finish the message for a directory, a pipe or
    device, and an empty file ("give the path of a UTF-8 text file inside it")."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise GRUError(f"a {what} path is needed; got {path!r}")
    shown = os.fspath(path)
    try:
        info = os.stat(shown)
    except FileNotFoundError:
        raise GRUError(f"no {what} at {shown!r}; check the path (relative paths start at "
                       f"{os.getcwd()!r})") from None
    except PermissionError:
        raise GRUError(f"cannot reach {shown!r}: permission denied on a folder in its path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise GRUError(f"{shown!r} is a loop of symbolic links that never reaches a file; point the "
                           f"link at the {what} itself") from None
        raise GRUError(f"cannot open {shown!r}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the path
        raise GRUError(f"cannot open {shown!r}: {exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise GRUError(f"{shown!r} is a directory; {directory}")
    if not stat.S_ISREG(info.st_mode):
        raise GRUError(f"{shown!r} is not a regular file (a pipe or device?); {special}")
    if info.st_size == 0:
        raise GRUError(f"{shown!r} is empty; {empty}")
    return info.st_size
