"""Where a save may go, and writing it there atomically. Torch-free: the CLI and the app
check a target before any work is done (before training, before a dialog closes).

The rule for a save target (checkpoints, CSV and JSON exports, from the CLI and the app):
- an empty path is refused;
- a path that does not exist yet becomes a new regular file, if its folder exists;
- an existing regular file is replaced as a whole, keeping its permissions;
- a symbolic link is followed: the file it points to is replaced (atomically, in that
  file's own folder) and the link stays a link; a dangling link creates its target;
- anything else (a directory, a FIFO, a socket, a character or block device such as
  /dev/null) is refused: a save replaces a file, it never writes into a device or pipe.

Saving is atomic: the data is written under a temporary name beside the destination,
flushed to disk, then renamed over it in one step. A crash or a full disk during the
save leaves the previous file as it was. A save that was killed outright leaves its
temporary file (`.NAME.XXXXXXXX.tmp`); the next save to the same name removes it.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Callable
from typing import IO

from .errors import GRUError

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_save_target(path: str, *, what: str = "file") -> str:
    """The file a save to `path` will replace (symlinks followed); GRUError if it may not.

    Checks only, writes nothing: call it before the work whose result is to be saved.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise GRUError(f"a path to save the {what} to is needed; got {path!r}")
    path = os.fspath(path)
    if not path:
        raise GRUError(f"a path to save the {what} to is needed; got an empty one")
    if "\x00" in path:
        raise GRUError(f"cannot save the {what} to {_show(path)}: a path cannot hold a NUL character")
    target = os.path.realpath(path)  # through every symlink; a dangling one gives its target
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise GRUError(f"cannot save the {what} to {_show(path)}: {_why(exc)}") from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise GRUError(f"cannot save the {what} to {_show(path)}: it is a directory; give a file name")
        for is_kind, kind in _KINDS:
            if is_kind(info.st_mode):
                raise GRUError(f"cannot save the {what} to {_show(path)}: it is {kind}, not a regular "
                               f"file; give the path of a file")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise GRUError(f"cannot save the {what} to {_show(path)}: the folder {_show(folder)} does not exist")
    return target


def same_file(a: str, b: str) -> bool:
    """Whether two paths name the same file: after symlinks, or the same inode (a hard link)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_not_an_input(path: str, inputs: dict[str, str]) -> None:
    """GRUError if the save to `path` would replace one of `inputs` ({flag: path}), links resolved.

    A save replaces its target as a whole: naming the training text, the checkpoint being
    read or a prime file as an output would destroy it.
    """
    for input_flag, input_path in inputs.items():
        if input_path and same_file(path, input_path):
            raise GRUError(f"{_show(path)} is the file {input_flag} reads ({_show(input_path)}); saving "
                           f"there would replace it: give the output a path of its own")


def check_writable(path: str, *, what: str = "file") -> None:
    """Create and remove a temporary file where a save to `path` would write it; GRUError if it
    cannot be (a read-only file system, a folder without write permission). Call it before
    the work whose result is to be saved, so that work is not lost at the end."""
    target = check_save_target(path, what=what) if not os.path.isdir(path) else os.path.realpath(path)
    folder = target if os.path.isdir(target) else os.path.dirname(target)
    try:
        fd, probe = tempfile.mkstemp(prefix=".gru-tui-probe.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise GRUError(f"cannot save the {what} to {_show(path)}: {_why(exc)}") from None


def write_atomically(path: str, write: Callable[[IO[bytes]], None], *, what: str = "file") -> None:
    """write(f) into a temporary file beside the target, fsync it, then rename it over the target.

    The target is check_save_target(path). OSError (a read-only folder, a full disk, also
    when the writer wraps it, as torch's zip writer does) becomes GRUError; the temporary
    file is removed and an existing file is left exactly as it was.
    """
    target = check_save_target(path, what=what)
    path = os.fspath(path)
    folder, name = os.path.split(target)
    remove_stale_temporaries(folder, name)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            recorder = _RecordingFile(f)
            try:
                write(recorder)  # type: ignore[arg-type]
            except OSError:
                raise
            except Exception as exc:
                cause = recorder.error or _os_error_in(exc)
                if cause is None:
                    raise
                raise cause from None
            f.flush()
            os.fsync(f.fileno())
        mode = stat.S_IMODE(os.stat(target).st_mode) if os.path.exists(target) else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
        _fsync_folder(folder)
    except OSError as exc:
        raise GRUError(f"could not save the {what} to {_show(path)}: {_why(exc)}; "
                       f"any earlier file there is unchanged") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def remove_stale_temporaries(folder: str, name: str) -> list[str]:
    """Remove the temporary files that killed saves to `name` left in `folder`; their names."""
    pattern = re.compile(rf"\.{re.escape(name)}\.[A-Za-z0-9_]{{8}}\.tmp")
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        if pattern.fullmatch(entry):
            try:
                os.unlink(os.path.join(folder, entry))
                removed.append(entry)
            except OSError:
                pass
    return removed


class _RecordingFile:
    """A binary file that remembers the first OSError a write raised.

    torch's zip writer turns a failed write into a RuntimeError ("unexpected pos ..."), so
    the full disk behind it is read back from here.
    """

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self._f.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def __getattr__(self, attr: str):
        return getattr(self._f, attr)


def _os_error_in(exc: BaseException) -> OSError | None:
    seen = 0
    link: BaseException | None = exc
    while link is not None and seen < 10:
        if isinstance(link, OSError):
            return link
        link, seen = link.__cause__ or link.__context__, seen + 1
    return None


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); best effort where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _why(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (is the folder writable?)"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    return exc.strerror or str(exc)


def _show(path: str) -> str:
    """A path quoted as the other messages quote one: repr escapes every control character
    (ESC as \\x1b), so the message cannot drive a terminal, and the rest reads as typed."""
    return repr(path)
