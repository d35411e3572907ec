"""A new user's walk at 200x60 (README's --file run, keys, ctrl+s/o/e): what the screen says
is whole and agrees with the data shown."""

from __future__ import annotations

import os

from textual.widgets import Input

from gru_core import TrainConfig
from gru_core.corpora import load_corpus
from tui.app import GRUApp
from tui.screens.path_dialog import PathDialog
from tui.widgets.matrices import MatricesView
from tui.widgets.samples import SamplesPane

from .conftest import screen_text, wait_ready, wait_rendered, wait_until

BIG = (200, 60)


def fitted_app(**overrides) -> GRUApp:
    """Real text with T 64, as `gru-tui --file` fits a small file (smaller H and B: quick)."""
    text = load_corpus("stdlib")[:8000]
    return GRUApp(TrainConfig.for_text(text, hidden_size=16, batch_size=4, **overrides))


async def test_the_gradient_sparklines_ends_are_whole_with_64_time_steps():
    app = fitted_app(seq_len=64)
    async with app.run_test(size=BIG) as pilot:
        await wait_ready(pilot)
        shown = app.query_one(MatricesView).through_time
        row = next(line for line in screen_text(app).splitlines() if "‖dL/dh_t‖" in line)
        norm_row = next(line for line in shown.splitlines() if line.startswith("‖dL/dh_t‖"))
        ends = norm_row[norm_row.index(" t1 "):]
        assert ends.strip().startswith("t1 ") and " t64 " in ends, norm_row
        assert ends in row, row  # was `t64 4.9…`: the last step's norm cut at the pane's edge


async def test_a_tall_screen_shows_the_coloured_text_its_legend_and_the_settings(article_app):
    async with article_app.run_test(size=BIG) as pilot:
        await wait_ready(pilot)
        await pilot.press("slash", *"Ma", "enter")
        pane = article_app.query_one(SamplesPane)
        await wait_until(pilot, lambda: pane.sample_reading is not None and not pane.unit_view.streaming,
                         what="the prime's sample")
        await pilot.press("greater_than_sign", "greater_than_sign")  # 100 -> 200 -> 500 characters
        await pilot.press("slash", *"Ma", "enter")
        await wait_until(pilot, lambda: pane.sample_reading is not None and not pane.unit_view.streaming
                         and len(pane.sample_reading.text) > 400, what="a 500-character sample")
        await pilot.press("u")
        await pilot.pause()
        screen = screen_text(article_app)
        # the pane was 10 rows at any height: a long sample pushed both out of view
        assert "confidence p(char)" in screen, screen
        assert "len 500 (<>)" in screen and "top-k off (kK)" in screen, screen


async def test_the_export_message_names_the_batch_as_the_pane_does(article_app, tmp_path):
    async with article_app.run_test(size=BIG) as pilot:
        await wait_ready(pilot)
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        header = article_app.query_one(MatricesView).plain.splitlines()[0]
        batch = header[:header.index("  t = ")]  # `batch 2/3 (before step 2)`
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: isinstance(article_app.screen, PathDialog), what="the path dialog")
        article_app.screen.query_one("#path-input", Input).value = str(tmp_path / "run")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "exported" in article_app.file_message, what="the export")
        # was `batch 2 at step 1` beside a pane reading `batch 2/3 (before step 2)`
        assert f"{batch} to {tmp_path / 'run'}-batch.json" in article_app.file_message


async def test_ctrl_o_proposes_the_checkpoint_just_saved(article_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with article_app.run_test(size=BIG) as pilot:
        await wait_ready(pilot)
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(article_app.screen, PathDialog), what="the save dialog")
        saved = article_app.screen.query_one("#path-input", Input).value
        await pilot.press("enter")
        await wait_until(pilot, lambda: "saved checkpoint" in article_app.file_message, what="the save")
        assert os.path.isfile(saved)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(article_app.screen, PathDialog), what="the load dialog")
        await pilot.pause()
        # it proposed ./gru-tui-article.ckpt, a name no save writes: Enter said "no checkpoint"
        assert article_app.screen.query_one("#path-input", Input).value == saved
        assert saved in screen_text(article_app)


async def test_a_long_epoch_sample_wraps_under_its_text_not_at_column_0():
    app = GRUApp(TrainConfig.article(epochs=3, sample_len=300))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: len(s.samples) == 1 and s.state == "paused")

        def log_rows() -> list[str]:
            rows = screen_text(app).splitlines()
            top = next(k for k, row in enumerate(rows) if "╭─ samples" in row)
            pane = [row.split("│")[3] for row in rows[top + 1:] if row.count("│") >= 6]  # inside its border
            return pane[:next(k for k, row in enumerate(pane) if row.startswith("prime "))]

        await wait_until(pilot, lambda: any(row.strip() for row in log_rows()), what="the epoch sample")
        indent = " " * len("epoch    1  ")
        # 300 characters in a 40-column pane: the rest wrapped to column 0, reading as lines of their own
        assert all(row.startswith(("epoch", indent)) or not row.strip() for row in log_rows()), log_rows()
