"""What the matrices pane costs to draw at a big size (H=1024, V=200, T=200).

A real session's first snapshot (its trace, and the gradients the pane shows) goes to a
MatricesView alone on a 100x40 headless screen. Figures are medians of `frames`, in CPU
time of the event loop's thread (time.thread_time: what the UI itself spends, so other
work on a shared machine, and the session's threads, do not count):

- new snapshot: from setting `snapshot` to the frame drawn (the lines rewritten, then
  the visible ones rendered)
- scroll one line: from scrolling the pane to the frame drawn
- next time step: from `move(1)` to the frame drawn
- select a cell (z), (dUz): from the cursor moving onto a cell (of z, of the gradient dUz)
  to its explanation on screen
- select a cell (keyboard): in cursor mode, from pressing → (Pilot.press, which also waits
  for the screen to settle) to the next cell's explanation on screen
- select a cell (mouse click): from a click on a cell in view (Pilot.click: a move, down,
  up and click) to its explanation on screen

`python -m tests.benchmarks.pane_cost` prints them; run it on an older checkout (same
command, PYTHONPATH at that checkout) to compare against it.
"""

from __future__ import annotations

import asyncio
import time

from gru_core.config import TrainConfig

from .common import Row, Size, median

PANE = Size("pane", 200, 1024, 4, 200)
QUICK = Size("pane quick", 30, 64, 4, 20)


def _snapshot(size: Size):
    from gru_core.session import TrainingSession

    chars = "".join(chr(0x100 + i) for i in range(size.V))  # V distinct one-cell characters
    text = chars * ((size.B * size.T * 2) // size.V + 2)
    config = TrainConfig.default(text=text, hidden_size=size.H, seq_len=size.T, batch_size=size.B)
    with TrainingSession(config, max_rate=4.0) as session:
        return session.wait_for(lambda s: s.trace is not None, timeout=300)


async def _measure(snap, frames: int) -> dict[str, list[float]]:
    from textual.app import App

    from tui.widgets.matrices import MatricesView

    class PaneApp(App[None]):
        def compose(self):
            yield MatricesView(id="matrices")

    app = PaneApp()
    out: dict[str, list[float]] = {"new snapshot": [], "scroll one line": [], "next time step": [],
                                   "select a cell (z)": [], "select a cell (dUz)": [],
                                   "select a cell (keyboard)": [], "select a cell (mouse click)": []}
    clock = time.thread_time  # the event loop's thread: run_test runs the app on this one
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(MatricesView)

        async def explained(before: str) -> None:
            """Until the explanation changed and a frame was drawn with it (pause draws one)."""
            await pilot.pause()
            while view.explanation == before:
                await pilot.pause()

        scroller = getattr(view, "lines", view)  # the pane itself scrolled before the Line API
        for k in range(frames + 1):
            scroller.scroll_to(y=19 + k % 5, animate=False)  # one line above where "scroll" goes
            await pilot.pause()
            t0 = clock()
            view.snapshot = snap
            await pilot.pause()
            t1 = clock()
            scroller.scroll_to(y=20 + k % 5, animate=False)
            await pilot.pause()
            t2 = clock()
            view.move(1)
            await pilot.pause()
            t3 = clock()
            selected = []
            for name in ("z", "dUz"):  # the explanation panel shows the cell's equation
                before, t = view.explanation, clock()
                view.lines.select((name, 1, 3 + k))
                await explained(before)
                selected.append(clock() - t)
            view.lines.focus()  # cursor mode, on a z cell: → selects the next unit
            view.lines.select(("z", 1, 20 + k))
            await pilot.pause()
            before, t = view.explanation, clock()
            await pilot.press("right")
            await explained(before)
            selected.append(clock() - t)
            x, y = _in_view(view, 40 + k)  # a click on a cell in view
            before, t = view.explanation, clock()
            await pilot.click(type(view.lines), offset=(x, y))
            await explained(before)
            selected.append(clock() - t)
            if k:  # the first round warms caches
                out["new snapshot"].append(t1 - t0)
                out["scroll one line"].append(t2 - t1)
                out["next time step"].append(t3 - t2)
                out["select a cell (z)"].append(selected[0])
                out["select a cell (dUz)"].append(selected[1])
                out["select a cell (keyboard)"].append(selected[2])
                out["select a cell (mouse click)"].append(selected[3])
    return out


def _in_view(view, col: int) -> tuple[int, int]:
    """(x, y) in the lines' widget of the first cell in view with a column >= col."""
    lines = view.lines
    top, height = lines.scroll_offset.y, lines.scrollable_content_region.height
    for line in range(top, top + height):
        run = lines.writer.placed.get(line)
        if run is not None and run.count > 1:
            k = min(run.count - 1, max(0, col - run.col0))
            return run.span(k)[0], line - top
    raise AssertionError("no cell in view")


def run(frames: int = 5, size: Size = PANE) -> list[Row]:
    snap = _snapshot(size)
    from tui.gc_tuning import freeze_startup_objects

    freeze_startup_objects()  # as the app does once its first snapshot is on screen
    times = asyncio.run(_measure(snap, frames))
    label = f"H={size.H} V={size.V} T={size.T}"
    return [Row("pane", f"matrices pane: {what}, {label}", median(v) * 1000, "ms/frame",
                detail={"all_ms": [x * 1000 for x in v]}) for what, v in times.items()]


if __name__ == "__main__":
    for row in run():
        print(f"{row.name:<60} {row.value:8.1f} {row.unit}")
