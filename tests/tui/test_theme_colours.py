"""The heatmaps and the coloured sample take the theme's colours: under a light theme a zero is
the light pane, not a dark block."""

from __future__ import annotations

import re

from gru_core import TrainConfig
from tui.app import GRUApp
from tui.widgets.matrices import MatricesView
from tui.widgets.samples import SamplesPane

from .conftest import screen_text, wait_ready, wait_until

SIZE = (120, 40)


def luminance(rgb) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def h_prev_heat_colours(app: GRUApp) -> set[tuple[int, int, int]]:
    """The backgrounds of the first h_prev heatmap row on screen (all zeros at a run's start)."""
    writer = app.query_one(MatricesView).lines.writer
    lines = writer.lines_text(0, len(writer.lines))
    start = next(i for i, line in enumerate(lines) if line.plain.startswith("h_prev"))
    row = next(line for line in lines[start:] if line.plain.startswith("seq 1"))
    return {tuple(span.style.bgcolor.get_truecolor()) for span in row.spans
            if not isinstance(span.style, str) and span.style.bgcolor is not None}


async def test_a_light_theme_draws_zero_as_the_light_pane_in_heatmaps_and_samples():
    app = GRUApp(TrainConfig.article(hidden_size=64))  # H 64: the pane shows heatmaps
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        dark = h_prev_heat_colours(app)
        assert dark and all(luminance(c) < 100 for c in dark), dark
        app.theme = "textual-light"
        await wait_until(pilot, lambda: all(luminance(c) > 180 for c in h_prev_heat_colours(app)),
                         what="the heatmap in the light theme's colours")  # was a dark block on a light pane
        view = app.query_one(SamplesPane).unit_view
        assert luminance(view.colours.zero) > 180
        assert view.colours.positive != view.colours.negative


async def test_a_wrapped_heatmap_says_which_units_each_part_holds():
    app = GRUApp(TrainConfig.article(hidden_size=64))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        plain = app.query_one(MatricesView).plain
        block = plain[plain.index("z [2,64]"):plain.index("r [2,64]")]
        parts = re.findall(r"units (\d+)…(\d+)", block)
        # the rows ran seq 1, seq 2, seq 1, seq 2 with nothing to say the second pair was units 38 on
        assert len(parts) >= 2 and parts[0][0] == "1" and parts[-1][1] == "64", block
        assert all(int(b[0]) == int(a[1]) + 1 for a, b in zip(parts, parts[1:])), parts
        assert f"units 1…{parts[0][1]}" in screen_text(app)
