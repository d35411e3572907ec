"""The loss chart as the screen shows it: the best validation point, the scale's name, the
theme's colours, and new steps drawn without a rebuild."""

from __future__ import annotations

from types import SimpleNamespace

from textual.app import App, ComposeResult

from tui.widgets.loss_chart import GUARD, LossChart

from .conftest import screen_text, wait_until

BRAILLE = range(0x2801, 0x2900)


class ChartApp(App[None]):
    CSS = "LossChart { border: round $primary; }"

    def compose(self) -> ComposeResult:
        yield LossChart(id="chart")


def snapshot(losses: list[float], val: list[tuple[int, float]] = (), num_batches: int = 4,
             events: tuple = ()) -> SimpleNamespace:
    """What a Snapshot hands the chart."""
    epochs = [sum(losses[e * num_batches:(e + 1) * num_batches]) / num_batches
              for e in range(len(losses) // num_batches)]
    best = min(val, key=lambda p: p[1]) if val else None
    return SimpleNamespace(
        losses=losses, epoch_losses=epochs, epoch_steps=[(e + 1) * num_batches for e in range(len(epochs))],
        val_losses=list(val), num_batches=num_batches, uniform_loss=4.174,
        loss=losses[-1] if losses else None, bits_per_char=1.0, state="paused", run_id=1,
        best_val=best[1] if best else None, best_step=best[0] if best else 0, lr=2e-3, events=events)


def chart_rows(app: App) -> list[str]:
    region = app.query_one(LossChart).region
    lines = screen_text(app).splitlines()
    return [line[region.x:region.right] for line in lines[region.y:region.bottom]]


LOSSES = [4.2 - 0.1 * k for k in range(16)]
VAL = [(5, 3.9), (10, 3.5), (15, 3.7)]  # the best is at step 10


async def test_the_best_validation_point_is_marked_at_its_step():
    app = ChartApp()
    async with app.run_test(size=(70, 24)) as pilot:
        chart = app.query_one(LossChart)
        chart.snapshot = snapshot(LOSSES, VAL)
        await wait_until(pilot, lambda: "◆" in "".join(chart_rows(app)[1:-1]), what="the best point")
        rows = chart_rows(app)
        assert "◆best 3.5000" in rows[0]  # the legend names it, with its loss
        marked = [row for row in rows[1:-1] if "◆" in row]
        assert len(marked) == 1
        column = marked[0].index("◆")
        axis = next(k for k, row in enumerate(rows) if "└" in row)
        ticks = [x for x, c in enumerate(rows[axis]) if c == "┬"]
        assert rows[axis + 1].strip("│ ").split() == ["0", "5", "10", "15"]
        assert abs(column - ticks[2]) <= 1, (column, ticks, rows)  # on the tick of step 10


async def test_log_scale_is_named_even_when_the_legend_fills_the_border():
    app = ChartApp()
    async with app.run_test(size=(40, 24)) as pilot:
        chart = app.query_one(LossChart)
        chart.snapshot = snapshot(LOSSES, VAL)
        await wait_until(pilot, lambda: "━" in chart_rows(app)[0], what="the legend")
        chart.log_scale = True
        await wait_until(pilot, lambda: " log" in chart_rows(app)[0], what="'log' in the border")
        assert "┤" in "".join(chart_rows(app))  # and the chart is drawn with its y ticks


def colour_of_the_step_curve(app: App):
    """The colour of a braille cell of the step curve (below the ln V line, no other curve)."""
    chart = app.query_one(LossChart)
    region = chart.content_region
    rows = screen_text(app).splitlines()
    for y in range(region.bottom - 1, region.y, -1):
        for x in range(region.x, region.right):
            if ord(rows[y][x]) in BRAILLE:
                return app.screen.get_style_at(x, y).color
    raise AssertionError("no curve on screen")


async def test_the_curves_take_their_colours_from_the_theme():
    app = ChartApp()
    async with app.run_test(size=(70, 24)) as pilot:
        chart = app.query_one(LossChart)
        chart.snapshot = snapshot([2.0 - 0.05 * k for k in range(16)], num_batches=100)  # steps only
        await wait_until(pilot, lambda: chart.points_drawn == 16, what="16 steps")
        await pilot.pause()
        dark = colour_of_the_step_curve(app)
        app.theme = "textual-light"
        await pilot.pause()
        await pilot.pause()
        light = colour_of_the_step_curve(app)
        assert dark != light  # hard-coded colours stayed the same on a light background
        background = app.screen.get_style_at(chart.content_region.x + 1, chart.content_region.y + 1).bgcolor
        assert background is not None
        luminance = lambda c: sum(c.get_truecolor()) / 3  # noqa: E731
        assert luminance(light) < luminance(background) - 60  # a dark curve on the light theme


async def test_new_steps_are_drawn_without_a_rebuild():
    app = ChartApp()
    async with app.run_test(size=(70, 24)) as pilot:
        chart = app.query_one(LossChart)
        losses = [3.9 + 0.05 * (k % 3) for k in range(40)]  # the same range in both halves
        chart.snapshot = snapshot(losses[:20], num_batches=100)
        await wait_until(pilot, lambda: chart.points_drawn == 20, what="20 steps")
        before, rebuilds = chart_rows(app), chart.rebuilds
        chart.snapshot = snapshot(losses, num_batches=100)
        await wait_until(pilot, lambda: chart.points_drawn == 40, what="40 steps")
        await pilot.pause()
        after = chart_rows(app)
        assert chart.rebuilds == rebuilds  # same axes: only the new columns were drawn
        dots = lambda rows: sum(ord(c) in BRAILLE for row in rows[1:-1] for c in row)  # noqa: E731
        assert dots(after) > dots(before)


async def test_a_stylesheet_colours_the_curves_through_the_component_classes():
    class RedStepsApp(ChartApp):
        CSS = ChartApp.CSS + " LossChart > .loss-chart--step { color: #ff0000; }"

    app = RedStepsApp()
    async with app.run_test(size=(70, 24)) as pilot:
        chart = app.query_one(LossChart)
        chart.snapshot = snapshot([2.0 - 0.05 * k for k in range(16)], num_batches=100)  # steps only
        await wait_until(pilot, lambda: chart.points_drawn == 16, what="16 steps")
        await pilot.pause()
        assert colour_of_the_step_curve(app).get_truecolor() == (255, 0, 0)
        assert "━step" in chart_rows(app)[0]


async def test_the_border_title_keeps_the_word_loss_at_the_widths_of_80_to_120_columns():
    """At 100 columns the app gives the chart 22 columns (34 at 80, 42 at 120): the title
    drops legend parts before it drops "loss" (it showed "━step ━epoch ━ln V")."""
    for val in ((), VAL):
        for width in (22, 34, 42):
            for log_scale in (False, True):
                app = ChartApp()
                async with app.run_test(size=(width, 24)) as pilot:
                    chart = app.query_one(LossChart)
                    chart.log_scale = log_scale
                    chart.snapshot = snapshot(LOSSES, val)
                    await wait_until(pilot, lambda app=app: "━" in chart_rows(app)[0], what="the legend")
                    title = chart_rows(app)[0]
                    assert "loss" in title, (width, log_scale, title)
                    assert (" log" in title) == log_scale, (width, log_scale, title)
                    assert "━step" in title, (width, log_scale, title)  # the curve that is always there


def y_labels(app: App) -> list[str]:
    """The y axis's labels as the screen shows them (left of each ┤)."""
    return [row.split("┤")[0].strip(" │") for row in chart_rows(app) if "┤" in row]


async def test_a_loss_that_rounds_to_zero_reads_0_in_the_border_never_minus_0():
    app = ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(LossChart)
        snap = snapshot([0.5, 0.1, -2e-6, -1e-6])
        snap.bits_per_char = -1e-6 / 0.6931
        chart.snapshot = snap
        await wait_until(pilot, lambda: "last " in "\n".join(chart_rows(app)), what="the last loss")
        bottom = chart_rows(app)[-1]
        assert "last 0.0000 nats" in bottom and "-0.0" not in bottom, bottom


async def test_the_y_axis_has_two_distinct_labels_at_least_at_80x24_and_120x40():
    """Real-text losses between 4.6 and 5.4 showed a single `5` at 80x24; a narrow range
    showed `1.38` twice."""
    cases = [[5.4 - 0.8 * k / 40 for k in range(40)], [1.39 - 0.02 * k / 40 for k in range(40)]]
    for size in ((80, 24), (120, 40)):
        for losses in cases:
            app = ChartApp()
            async with app.run_test(size=size) as pilot:
                chart = app.query_one(LossChart)
                snap = snapshot(losses, num_batches=40)
                snap.uniform_loss = losses[0]
                chart.snapshot = snap
                await wait_until(pilot, lambda app=app: len(y_labels(app)) > 0, what="the y axis")
                labels = [label for label in y_labels(app) if label]
                assert len(labels) >= 2 and len(set(labels)) == len(labels), (size, labels)


def test_linear_ticks_give_two_distinct_labels_for_any_range():
    from hypothesis import given
    from hypothesis import strategies as st

    from tui.widgets.loss_chart import linear_ticks, y_limits

    @given(st.floats(0.0, 10.0), st.floats(1e-4, 5.0), st.integers(3, 6))
    def check(low, span, count):
        ticks, labels = linear_ticks(*y_limits(low, low + span, False), count)
        assert len(ticks) >= 2 and len(set(labels)) == len(labels), (low, span, ticks, labels)

    check()


async def test_the_guard_is_marked_where_it_acted_and_the_rate_is_under_the_chart():
    losses = [4.0 - 0.01 * k for k in range(200)]
    app = ChartApp()
    async with app.run_test(size=(100, 24)) as pilot:
        chart = app.query_one(LossChart)
        chart.snapshot = snapshot(losses, events=((120, "diverged", "diverged at step 120 (...)"),))
        await pilot.pause()
        chart.replot()
        await pilot.pause()
        rows = chart_rows(app)
        assert GUARD in "".join(rows[1:-1])  # on the canvas
        assert "guard" in rows[0] and "lr 0.002" in rows[-1]
        column = next(line.index(GUARD) for line in rows[1:-1] if GUARD in line)
        first, last = chart._geometry.px(0.0) >> 1, chart._geometry.px(200.0) >> 1
        assert abs((column - chart._geometry.col0 - first) / (last - first) - 120 / 200) < 0.05
