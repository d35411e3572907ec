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
        assert re.search(r"batch \d+/\d+ \((<1|\d+(\.\d)?) (s|min|h) left\)", line), line
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


def footer_row(app: GRUApp) -> str:
    return screen_text(app).splitlines()[-1]


@pytest.mark.slow
async def test_space_says_what_it_does_next_and_a_loaded_finished_run_reads_finished(tmp_path):
    """The default preset finishes in under a second, so a second space, meant to pause,
    trained 60 epochs more; and a finished run saved and loaded back read `paused 60/60`."""
    from .conftest import wait_until
    from .test_real_text import answer_dialog

    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        assert "space Train" in footer_row(app), footer_row(app)
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "finished")
        await wait_until(pilot, lambda: "space More" in footer_row(app), what="the footer's More")
        assert status_line(app).startswith(" finished   space/n/e: 60 more epochs"), status_line(app)
        path = tmp_path / "done.ckpt"
        await answer_dialog(pilot, "ctrl+s", str(path))
        await wait_until(pilot, path.exists, what="the checkpoint")
        await pilot.press("r")
        await wait_rendered(pilot, lambda s: s.step == 0)
        await wait_until(pilot, lambda: "space Train" in footer_row(app), what="the footer's Train")
        await answer_dialog(pilot, "ctrl+o", str(path))
        await wait_rendered(pilot, lambda s: s.step > 0 and s.epoch == 60)
        line = status_line(app)
        assert line.startswith(" finished ") and "epoch 60/60" in line and "paused" not in line, line
        await wait_until(pilot, lambda: "space More" in footer_row(app), what="More after loading")


@pytest.mark.slow
async def test_b_d_and_v_are_disabled_in_the_palette_until_they_can_act():
    from .conftest import wait_until
    from .test_keys import search_palette

    app = GRUApp(TrainConfig.for_text(SOURCE[:8000], hidden_size=16, seq_len=16, batch_size=8))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        assert app.check_action("restore_best", ()) is None and app.check_action("error_details", ()) is None
        hits = await search_palette(pilot, "weights")
        assert not any("Restore the best" in hit for hit in hits), hits
        await pilot.press("escape")
        hits = await search_palette(pilot, "details")
        assert not any("Error details" in hit for hit in hits), hits
        await pilot.press("escape")
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: s.state == "paused" and s.best_val is not None)
        await wait_until(pilot, lambda: app.check_action("restore_best", ()) is True, what="b enabled")
        hits = await search_palette(pilot, "weights")
        assert any("Restore the best weights (validation)" in hit for hit in hits), hits
        await pilot.press("escape")


async def test_v_is_disabled_until_torch_has_loaded():
    app = GRUApp(TrainConfig.default())
    assert app.session is None and app.check_action("validation_view", ()) is None


@pytest.mark.slow
async def test_the_matrices_pane_follows_training_within_2_s_even_when_a_redraw_is_slow(monkeypatch):
    """docs/architecture.md: rebuilt every 2 s. A redraw of 70 ms (a loaded machine) stretched the
    wait to 150 times that, and the pane lagged the status line by 10 s, 527 steps."""
    import statistics
    import time

    from tui.widgets.matrices import MatricesView


    write = MatricesView.write

    def slow_write(self, width):
        time.sleep(0.07)
        return write(self, width)

    monkeypatch.setattr(MatricesView, "write", slow_write)
    # no patience: a fitted run ends once validation stops improving (epoch 28 here, in 2 s)
    app = GRUApp(TrainConfig.for_text(SOURCE[:20_000], hidden_size=16, epochs=1000, patience=0))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        view = app.query_one(MatricesView)

        def header_step() -> int:
            return int(re.search(r"before step ([\d,]+)", view.plain).group(1).replace(",", ""))

        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "running" and s.step > 5)
        # watched until 5 redraws or 24 s: a loaded machine (two test workers on two cores)
        # once showed only 2 in 8 s, with a gap of 2.03 s between them
        changes, last, deadline = [], header_step(), time.monotonic() + 24
        while time.monotonic() < deadline and len(changes) < 5:
            await pilot.pause(0.05)
            if header_step() != last:
                changes.append(time.monotonic())
                last = header_step()
        await pilot.press("space")
        gaps = [b - a for a, b in zip(changes, changes[1:])]
        # the median, not the largest: on a shared machine one gap can stretch (4 s seen in CI
        # beside six busy processes); the bug it pins kept every gap near 10 s
        assert len(changes) >= 3 and statistics.median(gaps) < 3.0, gaps
