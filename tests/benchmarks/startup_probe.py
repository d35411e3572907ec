"""python -m tests.benchmarks.startup_probe SPAWN_TIME: open the app, print when it was first
drawn and when it was ready, as seconds since SPAWN_TIME (the parent's time.time() just
before it started this process). The headless driver draws to nowhere, but the app
composes, lays out and renders its first frame exactly as on a terminal.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    t_spawn = float(sys.argv[1])
    from tui.app import GRUApp

    app = GRUApp()
    marks: dict[str, float] = {}

    async def probe(pilot) -> None:
        await pilot.pause()  # the first frame: mounted, laid out, refreshed
        marks["first_frame"] = time.time() - t_spawn
        deadline = time.monotonic() + 60
        while not app.ready and time.monotonic() < deadline:
            await pilot.pause(0.01)
        marks["ready"] = time.time() - t_spawn if app.ready else float("nan")
        await app.action_quit()

    app.run(headless=True, size=(140, 45), auto_pilot=probe)
    print(json.dumps(marks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
