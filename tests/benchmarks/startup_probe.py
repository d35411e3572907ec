"""python -m tests.benchmarks.startup_probe SPAWN_TIME: open the app, print when it was first
drawn and when it was ready, as seconds since SPAWN_TIME (the parent's time.time() just
before it started this process). The headless driver draws to nowhere, but the app
composes, lays out and renders its first frame exactly as on a terminal.

First frame: the moment the app hands its first composed screen to `App._display`, which
writes it to the terminal (headless: returns at once). Marking it there, rather than when
the pilot's next pause returns, is what a user sees: the torch import that starts right
after the first frame holds the GIL and would delay the pilot, not the frame.
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
    display = app._display

    def first_display(screen, renderable) -> None:
        if renderable is not None and "first_frame" not in marks:
            marks["first_frame"] = time.time() - t_spawn
        display(screen, renderable)

    app._display = first_display  # type: ignore[method-assign]

    async def probe(pilot) -> None:
        await pilot.pause()  # mounted, laid out, refreshed
        marks.setdefault("first_frame", time.time() - t_spawn)
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
