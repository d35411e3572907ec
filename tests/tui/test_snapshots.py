"""The article preset's first screen, pinned at 120x40 and 80x24 (pytest-textual-snapshot).

Deterministic: seeded weights, not training, torch loaded and the first snapshot drawn
before the picture is taken, no text field focused (so no blinking cursor).
Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from textual.widgets import Input

from gru_core import TrainConfig
from tui.app import GRUApp

from .conftest import wait_ready


async def _settle(pilot) -> None:
    await wait_ready(pilot)
    for field in pilot.app.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def test_first_screen_120x40(snap_compare):
    assert snap_compare(GRUApp(TrainConfig.article()), terminal_size=(120, 40), run_before=_settle)


def test_first_screen_80x24(snap_compare):
    assert snap_compare(GRUApp(TrainConfig.article()), terminal_size=(80, 24), run_before=_settle)


def test_light_theme_heatmaps_120x40(snap_compare):
    """textual-light: the heatmaps (H 64 does not fit as numbers) and the chart take the theme's colours."""

    async def light(pilot) -> None:
        pilot.app.theme = "textual-light"
        await _settle(pilot)

    app = GRUApp(TrainConfig.article(hidden_size=64))
    assert snap_compare(app, terminal_size=(120, 40), run_before=light)
