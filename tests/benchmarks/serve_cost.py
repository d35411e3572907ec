"""What a class costs `gru-tui serve`: a tab's memory and its time to interactive.

Runs `gru-tui serve` on 127.0.0.1 and opens `tabs` websockets as a page does (no browser:
aiohttp's client), one after another. Time to interactive: from the websocket's opening to
the app drawing its state word "idle" (torch loaded, the session's first snapshot drawn),
the moment keys act on training; the first tab after the server starts also waits for the
zygote's imports, so it is reported apart. Memory: each tab's process, from /proc/PID/smaps_rollup,
once every tab is up: RSS (what `top` shows; counts the pages tabs share, torch's libraries
above all, once per tab) and PSS (each shared page divided among the processes sharing it;
PSS summed over processes is what they take together); the parent tabs are forked from
(tui/serve_zygote.py) counts as the server's. Memory is read once every tab is interactive and again after
each has trained for a few seconds (its optimizer state, the pages training writes). A
class of 20 is the training tabs' mean PSS times 20, plus the server: measured with fewer
tabs on a small machine and extrapolated (the note says how many were measured; PSS
measured among few tabs divides the shared pages among few, so 20 tabs take less).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from .common import Row

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]")
CLASS_SIZE = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _smaps_kb(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[1])


def _app_pids(server_pid: int, marker: str) -> tuple[list[int], list[int]]:
    """(the tabs' pids, the zygote's if any): processes whose command line holds `marker`."""
    tabs, zygote = [], []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != server_pid:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read()
                parent = _ppid(int(pid))
            except OSError:
                continue
            if marker.encode() in cmdline and b"tui.serve" in cmdline:
                is_zygote = b"tui.serve_zygote" in cmdline and parent == server_pid
                (zygote if is_zygote else tabs).append(int(pid))
    return tabs, zygote


async def _open_tabs(port: int, tabs: int, timeout: float) -> tuple[list[float], list]:
    import aiohttp

    session = aiohttp.ClientSession()
    sockets, times, drains = [], [], []
    for _ in range(tabs):
        started = time.perf_counter()
        ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws?width=120&height=40")
        received = ""
        deadline = started + timeout
        while not re.search(r"\bidle\b", ANSI.sub("", received)):
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"a tab was not interactive within {timeout} s")
            message = await ws.receive(timeout=left)
            if message.type == aiohttp.WSMsgType.BINARY:
                received += message.data.decode("utf-8", "replace")
            elif message.type == aiohttp.WSMsgType.TEXT:
                received += message.data
            else:
                raise RuntimeError(f"the tab's websocket ended: {message.type}")
        times.append(time.perf_counter() - started)
        sockets.append(ws)
        # a page reads on (and answers the server's heartbeat pings): one left unread is closed
        drains.append(asyncio.ensure_future(_drain(ws)))
    return times, [session, *sockets]


async def _drain(ws) -> None:
    async for _ in ws:
        pass


async def _train_all(held: list, seconds: float) -> None:
    import json

    for ws in held[1:]:
        await ws.send_str(json.dumps(["stdin", " "]))
    await asyncio.sleep(seconds)  # a benchmark: training runs this long before memory is read


async def _close(held: list) -> None:
    session, *sockets = held
    for ws in sockets:
        await ws.close()
    await session.close()


def run(tabs: int = 4, timeout: float = 120.0, train_s: float = 5.0,
        flags: tuple[str, ...] = ("--preset", "default", "--threads", "1")) -> list[Row]:
    folder = tempfile.mkdtemp(prefix="gru-bench-serve-")
    port = _free_port()
    command = [sys.executable, "-m", "tui", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--root", folder, *flags]
    server = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    loop = asyncio.new_event_loop()
    held: list = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gru-tui serve did not start") from None
                time.sleep(0.1)  # polling a port that is not open yet
        times, held = loop.run_until_complete(_open_tabs(port, tabs, timeout))
        tabs_pids, zygote_pids = _app_pids(server.pid, folder)
        idle_mem = [_smaps_kb(pid) for pid in tabs_pids]
        loop.run_until_complete(_train_all(held, train_s))  # space in every tab, as a class does
        tab_mem = [_smaps_kb(pid) for pid in tabs_pids]
        server_mem = _smaps_kb(server.pid)
        for pid in zygote_pids:  # the parent tabs are forked from counts as the server's
            server_mem = {k: v + _smaps_kb(pid).get(k, 0) for k, v in server_mem.items()}
    finally:
        if held:
            loop.run_until_complete(_close(held))
        loop.close()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
    mib = 1 / 1024
    rss = sum(m["Rss"] for m in tab_mem) / len(tab_mem) * mib
    pss = sum(m["Pss"] for m in tab_mem) / len(tab_mem) * mib
    server_pss = server_mem["Pss"] * mib
    class_mib = CLASS_SIZE * pss + server_pss
    measured = f"{len(tab_mem)} tabs measured"
    later = sorted(times[1:]) or times
    middle = later[len(later) // 2]
    return [
        Row("serve", "the first tab: time to interactive", times[0], "s", {"times": times},
            "includes the zygote's imports, right after the server starts"),
        Row("serve", "a tab: time to interactive", middle, "s", {"times": times},
            f"median of the tabs after the first; {measured}, opened one after another"),
        Row("serve", "a tab, idle: memory, PSS", sum(m["Pss"] for m in idle_mem) / len(idle_mem) * mib, "MiB",
            {"tabs": idle_mem}, "interactive, not yet trained"),
        Row("serve", "a tab, training: memory, RSS", rss, "MiB", {"tabs": tab_mem},
            f"after {train_s:g} s of training; shared pages counted in each tab"),
        Row("serve", "a tab, training: memory, PSS", pss, "MiB", {"tabs": tab_mem},
            "shared pages divided among the tabs"),
        Row("serve", f"a class of {CLASS_SIZE} tabs: memory (PSS)", class_mib, "MiB",
            {"server_pss": server_pss}, f"{CLASS_SIZE} x a training tab's PSS + the server; {measured}, "
            "extrapolated"),
    ]


if __name__ == "__main__":
    for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 4):
        print(f"{row.name:<40} {row.value:10.2f} {row.unit:<4} {row.note}")
