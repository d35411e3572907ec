"""At 80x24 nothing important is cut or wrapped inside an item: the unit legend's range,
the export dialog's title, Apply's outcome, the matrices' captions, the sample settings."""

from __future__ import annotations

import re

from textual.widgets import Input

from tui.screens.path_dialog import PathDialog
from tui.widgets.samples import SamplesPane

from .conftest import screen_text, wait_ready, wait_rendered, wait_until

SMALL = (80, 24)


async def _sampled(pilot) -> None:
    """The first batch trained, and a sample from the prime 'Ma' on screen."""
    app = pilot.app
    await wait_ready(pilot)
    await pilot.press("n")
    await wait_rendered(pilot, lambda s: s.step == 1)
    await pilot.press("slash", "M", "a", "enter")
    pane = app.query_one(SamplesPane)
    await wait_until(pilot, lambda: pane.sample_reading is not None and not pane.unit_view.streaming,
                     what="the prime's sample")
    await pilot.pause()


async def test_the_unit_legend_keeps_the_units_range_at_80x24(article_app):
    async with article_app.run_test(size=SMALL) as pilot:
        await _sampled(pilot)
        await pilot.press("right_square_bracket")  # colour by unit 1
        await pilot.pause()
        screen = screen_text(article_app)
        legend = next(line for line in screen.splitlines() if "unit 2 of 2" in line)
        # was `sample T=1: unit 1 of 0..1 rang…`: the range, the one number the legend is for, was cut
        assert re.search(r"unit 2 of 2 (range )?\[[-+]\d\.\d\d, [-+]\d\.\d\d\]", legend), legend
        assert "…" not in legend.split("│")[1], legend


async def test_the_sample_settings_wrap_between_items_at_80x24(article_app):
    async with article_app.run_test(size=SMALL) as pilot:
        await _sampled(pilot)
        screen = screen_text(article_app)
        for item in ("temp 1 (tT)", "len 100 (<>)", "top-k off (kK)", "sample (v)"):
            assert item in screen, (item, screen)  # was `top-k` at one line's end, `off (kK)` on the next


async def test_the_matrices_captions_are_whole_at_80x24(article_app):
    async with article_app.run_test(size=SMALL) as pilot:
        await wait_ready(pilot)
        screen = screen_text(article_app)
        # both were cut at the pane's edge: `(carried in` and `(this batch's last st…`
        assert "(t1 at the left, t3 at the right)" in screen, screen
        assert "h_prev: h carried into the batch" in screen, screen
        await pilot.press("right")  # t = 2: h_prev is h of t = 1 (it said "carried in at t = 1")
        await wait_until(pilot, lambda: "h_prev: h of the step before, t = 1" in screen_text(article_app),
                         what="the h_prev note of t = 2")


async def test_the_export_dialogs_title_is_whole_at_80x24(article_app):
    async with article_app.run_test(size=SMALL) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: isinstance(article_app.screen, PathDialog), what="the path dialog")
        await pilot.pause()
        screen = screen_text(article_app)
        assert "PATH-batch.json" in screen, screen  # was cut to `PATH-batch.js`


async def test_applys_outcome_is_in_view_at_80x24(article_app):
    async with article_app.run_test(size=SMALL) as pilot:
        await wait_ready(pilot)
        await pilot.press("c")  # the config pane, hidden below 100 columns
        await pilot.pause()
        field = article_app.query_one("#cfg-hidden_size", Input)
        field.focus()
        await pilot.press("end", "backspace", "8", "enter")
        await wait_rendered(pilot, lambda s: s.config.hidden_size == 8)
        await wait_until(pilot, lambda: "model reset" in screen_text(article_app), 10,
                         "Apply's message in view")  # it was below the pane's last row
        assert "applied: article, H 8" in screen_text(article_app)


async def test_the_config_pane_at_80x24_leaves_the_matrices_whole(article_app):
    async with article_app.run_test(size=SMALL) as pilot:
        await wait_ready(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: "hidden size H" in screen_text(article_app), what="the config pane")
        await pilot.pause()
        screen = screen_text(article_app)
        # beside the chart and samples too, the pane had 16 columns: `matrices …`, `batch 1/3 (be`
        assert "matrices (←/→ time step, x explain)" in screen, screen
        assert "batch 1/3 (before step 1)  t = 1 of 3" in screen, screen
        await pilot.press("slash")  # a prime: the samples pane comes back, the config goes
        await pilot.pause()
        assert "prime" in screen_text(article_app) and not article_app.query_one("#config").display


async def test_a_sample_with_a_validation_label_gets_the_panes_width_at_80x24():
    """With validation on each sample is labelled `step N val X`, 20-odd columns: beside the
    text it left a 32-column pane 11 characters a line. The label now has its own line."""
    from gru_core.config import TrainConfig
    from tui.app import GRUApp

    text = ("the quick brown fox jumps over the lazy dog, again and again. " * 200)[:10_000]
    # one check, at the epoch's end: one labelled sample
    app = GRUApp(TrainConfig.for_text(text, val_fraction=0.1, epochs=1, sample_len=80, val_every=1000))
    async with app.run_test(size=SMALL) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: len(s.samples) >= 1 and s.state != "training")

        def log_rows() -> list[str]:
            rows = screen_text(app).splitlines()
            top = next(k for k, row in enumerate(rows) if "╭─ samples" in row)
            left = rows[top].index("╭─ samples")
            right = rows[top].index("╮", left)
            pane = [row[left + 1:right] for row in rows[top + 1:]]
            return pane[:next(k for k, row in enumerate(pane) if row.startswith("prime "))]

        await wait_until(pilot, lambda: any(" val " in row for row in log_rows()), what="a labelled sample")
        rows = [row.rstrip() for row in log_rows() if row.strip()]
        label = next(k for k, row in enumerate(rows) if re.match(r"step \d+ val \d\.\d{4}$", row))
        body = rows[label + 1:]
        assert body and all(row.startswith("  ") for row in body), rows
        right_width = len(log_rows()[0])
        # a full text line fills the pane less its indent and the scrollbar's column
        assert max(len(row) for row in body) >= right_width - 4, (right_width, rows)
