"""`gru-tui serve` in a subprocess for tests: start it on 0.0.0.0, stop it, count its tabs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\\\)|\x1b[()][0-9A-Za-z]")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STUDENT_ADDRESS = "127.0.0.2"  # another loopback address: the server is not reached as localhost


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str, poll: float = 0.05):
    """condition()'s first truthy value within `timeout` s, else AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(poll)  # polling the OS (a port, /proc): nothing to wait on


def app_processes(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line holds `marker`: this server's app
    processes, the tabs and the zygote they are forked from (whose command line they keep)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        app = b"tui.serve_tab" in cmdline or b"tui.serve_zygote" in cmdline
        if app and marker.encode() in cmdline and state != b"Z":
            found.append(int(pid))
    return found


def start_server(tmp_path, *flags: str) -> tuple[subprocess.Popen, int, str]:
    """`gru-tui serve` on 0.0.0.0 and a free port, run in tmp_path/cwd, serving tmp_path/root."""
    root, cwd = tmp_path / "root", tmp_path / "cwd"
    root.mkdir()
    cwd.mkdir()
    (root / "tiny.txt").write_text("hello hello hello\n", encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--host", "0.0.0.0", "--port", str(port), "--root", str(root),
         *flags, "--preset", "default", "--epochs", "100000", "--threads", "1"],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        # TMPDIR: the server's temporary folder (a server killed outright cannot remove it)
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])),
             "TMPDIR": str(tmp_path)},
    )

    def listening() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"gru-tui serve exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            socket.create_connection((STUDENT_ADDRESS, port), timeout=0.5).close()
            return True
        except OSError:
            return False

    wait_until(listening, 30, f"gru-tui serve listening on {STUDENT_ADDRESS}:{port}")
    return proc, port, str(root)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
