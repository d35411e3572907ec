"""What the screen says is true, round 2 (issue 22): the status line, the chart, the
config pane and the keys say what is so, whole, at 80x24, 120x40 and 200x60."""

from __future__ import annotations

import re

import pytest

from gru_core import TrainConfig
from tui.app import GRUApp
from tui.widgets.status import StatusBar

from .conftest import screen_text, wait_ready, wait_rendered
from .test_whole_batch_gradients import SOURCE


def status_line(app: GRUApp) -> str:
    return screen_text(app).splitlines()[0]


@pytest.mark.slow
async def test_the_status_line_keeps_chars_per_s_batch_and_time_left_at_120_columns():
    """Real training with validation on: chars/s, the batch within the epoch and the
    epoch's time left were the first items dropped at 120 columns."""
    app = GRUApp(TrainConfig.for_text(SOURCE[:20_000], hidden_size=16, epochs=1000))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "running" and s.val_loss is not None
                            and s.best_val is not None and s.chars_per_sec > 0 and s.steps_per_sec > 0)
        line = status_line(app)
        assert re.search(r"batch \d+/\d+ \(\d+(\.\d)? (s|min|h) left\)", line), line
        assert re.search(r"chars/s [\d,]+", line), line
        assert re.search(r"val \d\.\d{4}", line) and "loss " in line, line
        assert str(app.query_one(StatusBar).render()).rstrip() in line  # nothing cut: the whole bar shows
        await pilot.press("space")


async def proposed_save_path(pilot) -> str:
    from textual.widgets import Input

    from tui.screens.path_dialog import PathDialog

    from .conftest import wait_until

    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, PathDialog), what="the save dialog")
    path = pilot.app.screen.query_one("#path-input", Input).value
    await pilot.press("escape")
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, PathDialog), what="the dialog to close")
    return path


@pytest.mark.slow
async def test_validation_words_and_checkpoint_names_claim_only_what_was_measured():
    from tui.widgets.config_form import ConfigForm

    text = "the cat sat on the mat. the dog sat on the log. " * 12
    app = GRUApp(TrainConfig.default(text=text, val_fraction=0.2, epochs=100))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        form = str(app.query_one(ConfigForm).query_one("#cfg-val-status").render())
        assert "not measured yet" in form and "measured at epoch ends" not in form, form
        await pilot.press("e")  # one epoch: validation measured at its end, on these weights
        await wait_rendered(pilot, lambda s: s.state == "paused" and s.val_loss is not None)
        snap = app.shown
        assert snap.val_losses[-1][0] == snap.step
        assert re.search(rf"gru-tui-step{snap.step}-val\d\.\d\d\.ckpt$", await proposed_save_path(pilot))
        await pilot.press("n")  # one more step: the last val is of older weights
        await wait_rendered(pilot, lambda s: s.step == snap.step + 1)
        assert (await proposed_save_path(pilot)).endswith(f"gru-tui-step{snap.step + 1}.ckpt")


async def test_a_refused_prime_leaves_no_old_sample_under_it(article_app):
    """After /Mx (x is not in the vocabulary) the error showed above the sample of Ma."""
    from tui.widgets.samples import SamplesPane

    from .conftest import wait_until

    async with article_app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        pane = article_app.query_one(SamplesPane)
        await pilot.press("slash", "M", "a", "enter")
        await wait_until(pilot, lambda: pane.result != "", what="a sample")
        sample = pane.result.split("  ")[0]
        await wait_until(pilot, lambda: sample[:30] in screen_text(article_app), what="the sample on screen")
        await pilot.press("slash", "M", "x", "enter")
        await wait_until(pilot, lambda: pane.prime_error != "", what="the prime's error")
        await pilot.pause()
        screen = screen_text(article_app)
        assert "'x'" in screen and sample[:30] not in screen, screen
