"""What the matrices pane costs to draw at a big size (H=1024, V=200, T=200).

A real session's first snapshot (its trace, and the gradients the pane shows) goes to a
MatricesView alone on a 100x40 headless screen. Five figures, medians of `frames`:

(CPU time of this process, so other work on a shared machine does not count.)

- new snapshot: from setting `snapshot` to the frame drawn (the lines rewritten, then
  the visible ones rendered)
- scroll one line: from scrolling the pane to the frame drawn
- next time step: from `move(1)` to the frame drawn
- select a cell: from the cursor moving onto a cell (of z, of the gradient dUz) to its
  explanation on screen

`python -m tests.benchmarks.pane_cost` prints them; run it on an older checkout (same
command, PYTHONPATH at that checkout) to compare, as the README's figures do.
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
                                   "select a cell (z)": [], "select a cell (dUz)": []}
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(MatricesView)
        scroller = getattr(view, "lines", view)  # the pane itself scrolled before the Line API
        for k in range(frames + 1):
            t0 = time.process_time()
            view.snapshot = snap
            await pilot.pause()
            t1 = time.process_time()
            scroller.scroll_to(y=20 + k % 5, animate=False)
            await pilot.pause()
            t2 = time.process_time()
            view.move(1)
            await pilot.pause()
            t3 = time.process_time()
            selected = []
            for name in ("z", "dUz"):  # the explanation panel shows the cell's equation
                before, t = view.explanation, time.process_time()
                view.lines.select((name, 1, 3 + k))
                while view.explanation == before:
                    await pilot.pause()
                selected.append(time.process_time() - t)
            if k:  # the first round warms caches
                out["new snapshot"].append(t1 - t0)
                out["scroll one line"].append(t2 - t1)
                out["next time step"].append(t3 - t2)
                out["select a cell (z)"].append(selected[0])
                out["select a cell (dUz)"].append(selected[1])
    return out


def run(frames: int = 5, size: Size = PANE) -> list[Row]:
    snap = _snapshot(size)
    times = asyncio.run(_measure(snap, frames))
    label = f"H={size.H} V={size.V} T={size.T}"
    return [Row("pane", f"matrices pane: {what}, {label}", median(v) * 1000, "ms/frame",
                detail={"all_ms": [x * 1000 for x in v]}) for what, v in times.items()]


if __name__ == "__main__":
    for row in run():
        print(f"{row.name:<60} {row.value:8.1f} {row.unit}")
