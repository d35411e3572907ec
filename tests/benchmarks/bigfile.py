"""A large --file in the app: peak memory above the idle app, and how long the UI stalls.

Each figure comes from a fresh process (`python -m tests.benchmarks.bigfile probe PATH`,
"-" for the idle app): the app runs headless as `gru-tui --file PATH` builds it
(tui.launch.make_app), until its first snapshot is on screen. It reports its peak RSS
(ru_maxrss) and the longest gap between ticks of a 20 ms timer on the UI thread from the
first frame to ready: a gap is a time the UI could not answer a key. The file is
standard library sources repeated (every machine has them), written to a temporary folder
and removed afterwards.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from .common import Row

MIB = 1 << 20


def build_file(folder: str, megabytes: int) -> str:
    """A UTF-8 text of at least `megabytes` MB: the standard library's sources, repeated."""
    sources = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    chunk = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in sources)
    path = os.path.join(folder, f"stdlib-{megabytes}MB.txt")
    data = (chunk * (megabytes * 1_000_000 // len(chunk) + 1)).encode()[: megabytes * 1_000_000]
    with open(path, "wb") as f:
        f.write(data.decode("utf-8", errors="ignore").encode())
    return path


def peak_rss() -> int:
    """This process's peak resident memory in bytes since its exec.

    /proc's VmHWM belongs to the process's own address space, which exec replaces;
    getrusage's ru_maxrss does not start again at exec on Linux: a child started from
    a parent that had grown to 1 GB reported that 1 GB as its own peak (in the full
    benchmark, after the sections before this one).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def probe(path: str) -> dict:
    """In this process: the app on `path` ("-": the default app) until ready."""
    from tui.app import GRUApp
    from tui.launch import make_app

    app = make_app(["--file", path]) if path != "-" else GRUApp()
    ticks: list[float] = []
    marks: dict[str, float] = {}
    t0 = time.monotonic()

    async def drive(pilot) -> None:
        app.set_interval(0.02, lambda: ticks.append(time.monotonic()))
        await pilot.pause()
        marks["first_frame"] = time.monotonic() - t0
        deadline = time.monotonic() + 600
        while not app.ready and time.monotonic() < deadline:
            await pilot.pause(0.01)
        marks["ready"] = time.monotonic() - t0 if app.ready else float("nan")
        marks["chars"] = len(app.shown.config.text) if app.shown is not None else 0
        await app.action_quit()

    app.run(headless=True, size=(120, 40), auto_pilot=drive)
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    return dict(peak_rss=peak_rss(),
                max_gap=max(gaps, default=float("nan")), ticks=len(ticks), **marks)


def _probe_in_child(path: str, timeout: float) -> dict:
    done = subprocess.run([sys.executable, "-m", "tests.benchmarks.bigfile", "probe", path],
                          capture_output=True, text=True, timeout=timeout, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(megabytes: int = 50, timeout: float = 600) -> list[Row]:
    name = f"{megabytes} MB file"
    try:
        idle = _probe_in_child("-", timeout)
        with tempfile.TemporaryDirectory() as folder:
            big = _probe_in_child(build_file(folder, megabytes), timeout)
    except (subprocess.SubprocessError, OSError, ValueError) as exc:
        return [Row("bigfile", f"peak RSS above the idle app, {name}", None, "MiB",
                    note=f"not measured: {exc}")]
    detail = dict(idle=idle, big=big, megabytes=megabytes)
    return [
        Row("bigfile", f"peak RSS above the idle app, {name}", (big["peak_rss"] - idle["peak_rss"]) / MIB,
            "MiB", detail=detail, note=f"target < 1024 (idle app's peak {idle['peak_rss'] / MIB:.0f} MiB)"),
        Row("bigfile", f"longest UI stall while loading, {name}", big["max_gap"], "s", detail=detail,
            note=f"the idle app's: {idle['max_gap']:.2f} s"),
        Row("bigfile", f"first frame to ready, {name}", big["ready"] - big["first_frame"], "s", detail=detail,
            note=f"first frame at {big['first_frame']:.2f} s; the idle app's ready at {idle['ready']:.1f} s"),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "probe":
        print(json.dumps(probe(sys.argv[2])))
