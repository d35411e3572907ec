"""The divergence guard as a user meets it in the app: a wild lr typed mid-run is undone,
and the screen says so (the status line, a mark on the chart), at 80 and 120 columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gru_core import TrainConfig
from tui.app import GRUApp
from tui.widgets.loss_chart import GUARD, LossChart

from .conftest import screen_text, wait_ready, wait_until

LICENCE = Path("/usr/share/common-licenses/Apache-2.0")
TEXT = LICENCE.read_text() if LICENCE.is_file() else (
    "The quick brown fox jumps over the lazy dog, and then it runs home again. " * 160)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_wild_lr_typed_mid_run_is_undone_and_the_screen_says_so(size):
    config = TrainConfig.for_text(TEXT, hidden_size=64, epochs=8)
    app = GRUApp(config)
    async with app.run_test(size=size) as pilot:
        await wait_ready(pilot)
        for epoch in (1, 2, 3):
            await pilot.press("e")
            await wait_until(pilot, lambda e=epoch: app.shown is not None and app.shown.epoch == e
                             and app.shown.state == "paused", 60, f"epoch {epoch}")
        app.session.set_lr(config.lr * 100)  # as Enter in the form's lr field does
        await pilot.press("space")
        await wait_until(pilot, lambda: "diverged at step" in screen_text(app), 90, "the guard's line")
        screen = screen_text(app)
        line = next(ln for ln in screen.splitlines() if "diverged at step" in ln)
        assert re.search(r"back to step \d+, lr [0-9.e-]+$", line.strip()), line  # whole, not cut
        await wait_until(pilot, lambda: GUARD in screen_text(app), 20, "the chart's mark")
        chart = app.query_one(LossChart)
        assert chart.snapshot is not None and any(k == "diverged" for _, k, _ in chart.snapshot.events)
        # the run learns on from the good weights: the training loss ends well below ln V
        await wait_until(pilot, lambda: app.shown.state == "finished", 120, "the run's end")
        assert app.shown.loss < app.shown.uniform_loss - 1
