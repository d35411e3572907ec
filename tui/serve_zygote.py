"""The parent that `gru-tui serve`'s tabs are forked from, torch and Textual already imported.

A fresh `python -m tui.serve_tab` per tab spends seconds importing torch and Textual
before it draws, and each one holds its own copy of what the imports built (Python
objects, torch's operator tables): about 250 MB of PSS a tab. Forked from this process,
a tab starts with all of that in place, and the pages nobody writes stay shared between
the tabs (copy-on-write; `gc.freeze` keeps the garbage collector from touching them).

    server                                zygote (python -m tui.serve_zygote)
      socketpair ----------------------->   imports torch, Textual, the app; gc.freeze
      request: {env, cwd} + 3 pipe fds ->   fork: the child is a tab (setsid, dies with the
      <------------------------- pid        zygote, fds on 0/1/2, serve mode) -> the app

No torch op runs here before a fork: torch's thread pools start at a tab's first op, after
its fork. (The one other thread, OpenBLAS's, which numpy starts on import, is idle and
handles fork itself, as under multiprocessing's fork.) The zygote dies with the server (the parent death
signal) and each tab with the zygote. Where anything here fails, the server execs
`python -m tui.serve_tab` for the tab instead, as before.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Sequence
from typing import Any

MAX_REQUEST = 1 << 16


# torch._dynamo (and sympy with it, ~900 modules) is what torch.optim's first optimizer imports
PRELOAD = ("gru_core.session", "gru_core.trainer", "gru_core.checkpoint_session", "torch._dynamo",
           "numpy.random", "textual.drivers.web_driver", "textual_fspicker", "tui.app", "tui.serve_driver",
           "tui.screens.help", "tui.screens.quit_dialog")


def preload() -> None:
    """What a tab imports before its first frame and its session (torch, Textual, the app's
    screens): imported once, here, for every tab."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)


def serve_forks(control: socket.socket, root: str, app_argv: list[str]) -> None:
    """Answer each request on `control` with a forked tab's pid, until the server goes."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps tabs; the server watches their pipes
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, MAX_REQUEST, 3)
        except OSError:
            return
        if not message:  # the server closed its end
            return
        request = json.loads(message)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            control.close()
            run_tab(fds, request, root, app_argv)  # never returns
        for fd in fds:
            os.close(fd)
        control.sendall(struct.pack("!i", pid))


def run_tab(fds: list[int], request: dict[str, Any], root: str, app_argv: list[str]) -> None:
    """In the forked child: become the tab's app on the pipes in `fds`, then exit."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # its own process group: the server kills the tab with everything it started
        from .serve_tab import die_with_parent

        die_with_parent(0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.update(request["env"])
        from . import confine
        from .launch import launch_app

        confine.serve_from(root, request["cwd"])
        code = launch_app(app_argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the tab's traceback goes to its stderr, the server's log
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.serve_zygote")
    parser.add_argument("--root", required=True)
    parser.add_argument("--parent", type=int, default=0)
    parser.add_argument("--control", type=int, required=True, help="the socket's file descriptor")
    parser.add_argument("app_argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    from .serve_tab import die_with_parent

    die_with_parent(args.parent)
    control = socket.socket(fileno=args.control)
    from gru_core.threads import prefer_passive_openmp

    prefer_passive_openmp()  # before torch loads
    preload()
    gc.collect()
    gc.freeze()  # what the imports built is never walked by a collection again: its pages stay shared
    control.sendall(b"R")  # ready
    serve_forks(control, args.root, args.app_argv[1:] if args.app_argv[:1] == ["--"] else args.app_argv)
    return 0


class ForkedProcess:
    """A tab forked by the zygote, as the server sees it: its pipes, its pid; not our child, so
    `wait` watches /proc (the zygote's kernel reaps it)."""

    def __init__(self, pid: int, stdin: asyncio.StreamWriter, stdout: asyncio.StreamReader,
                 stderr: asyncio.StreamReader) -> None:
        self.pid, self.stdin, self.stdout, self.stderr = pid, stdin, stdout, stderr
        self.returncode: int | None = None

    def alive(self) -> bool:
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
        except OSError:
            return False

    async def wait(self) -> int:
        while self.alive():
            await asyncio.sleep(0.05)  # no child-exit event for a process that is not ours
        self.returncode = 0
        with contextlib.suppress(Exception):
            self.stdin.close()
        return 0


class Zygote:
    """The server's end: start the zygote, and fork a tab from it."""

    def __init__(self, root: str, app_argv: Sequence[str], env: dict[str, str]) -> None:
        import subprocess

        self.control, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui.serve_zygote", "--root", root, "--parent", str(os.getpid()),
             "--control", str(theirs.fileno()), "--", *app_argv],
            pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
            start_new_session=True)
        theirs.close()
        self.ready = False
        self.broken = False
        self.lock = asyncio.Lock()

    def _ask(self, request: bytes, fds: list[int]) -> int:
        if not self.ready:
            self.control.settimeout(120)  # its imports, on a loaded machine
            if self.control.recv(1) != b"R":
                raise OSError("the zygote ended before it was ready")
            self.ready = True
        self.control.settimeout(30)
        socket.send_fds(self.control, [request], fds)
        answer = b""
        while len(answer) < 4:
            chunk = self.control.recv(4 - len(answer))
            if not chunk:
                raise OSError("the zygote ended")
            answer += chunk
        return struct.unpack("!i", answer)[0]

    async def fork(self, cwd: str, env: dict[str, str]) -> ForkedProcess | None:
        """A tab on new pipes, or None when the zygote cannot fork (the caller execs one)."""
        if self.broken:
            return None
        loop = asyncio.get_running_loop()
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        theirs, ours = [stdin_r, stdout_w, stderr_w], [stdin_w, stdout_r, stderr_r]
        request = json.dumps({"cwd": cwd, "env": env}).encode()
        try:
            async with self.lock:
                pid = await loop.run_in_executor(None, self._ask, request, theirs)
        except (OSError, ValueError):
            self.broken = True
            for fd in theirs + ours:
                os.close(fd)
            return None
        for fd in theirs:
            os.close(fd)
        stdout, stderr = asyncio.StreamReader(limit=2**20), asyncio.StreamReader()
        for reader, fd in ((stdout, stdout_r), (stderr, stderr_r)):
            await loop.connect_read_pipe(functools.partial(asyncio.StreamReaderProtocol, reader),
                                         os.fdopen(fd, "rb", 0))
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                           os.fdopen(stdin_w, "wb", 0))
        stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        return ForkedProcess(pid, stdin, stdout, stderr)

    def close(self) -> None:
        self.control.close()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


if __name__ == "__main__":
    sys.exit(main())
