"""What the screen says is true: epochs never pass their target, the status keeps what matters
at 80 columns, the samples pane shows the newest sample and the model on screen's own."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from gru_core import TrainConfig
from gru_core.checkpoint import save_checkpoint
from gru_core.history import History
from tui.app import GRUApp
from tui.widgets.samples import SamplesPane
from tui.widgets.samples_log import SamplesLog
from tui.widgets.status import StatusBar

from .conftest import screen_text, wait_ready, wait_rendered, wait_until

SIZE = (120, 40)


def status_text(app: GRUApp) -> str:
    return str(app.query_one(StatusBar).render())


def epochs_field(app: GRUApp) -> str:
    return app.query_one("#cfg-epochs", Input).value


async def test_a_finished_run_never_counts_past_its_target_and_the_config_agrees():
    app = GRUApp(TrainConfig.article(epochs=2))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "finished")
        assert "epoch 2/2" in status_text(app) and "space/n/e: 2 more epochs" in status_text(app)
        await pilot.press("e")  # was `finished epoch 3/2`
        await wait_rendered(pilot, lambda s: s.epoch == 3 and s.state == "paused")
        assert "epoch 3/4" in status_text(app)
        await wait_until(pilot, lambda: epochs_field(app) == "4", 5, "the config to show the new target")
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "finished")
        assert "epoch 4/4" in status_text(app) and epochs_field(app) == "4"
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 13)
        assert "epoch 4/6" in status_text(app)  # one batch into epoch 5 of 6, not `5/4`
        await wait_until(pilot, lambda: epochs_field(app) == "6", 5, "the config to follow")


async def test_the_status_keeps_the_preset_and_loss_at_80_columns(article_app):
    async with article_app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        line = screen_text(article_app).splitlines()[0]
        for shown in ("epoch 0/", "step 1", "loss 1.", "preset article"):
            assert shown in line, line
        assert "…" not in line


async def test_ctrl_o_shows_the_loaded_runs_last_loss_and_a_sample(article_app, tmp_path):
    from gru_core.trainer import Trainer

    trainer, history = Trainer(TrainConfig.article()), History()
    for _ in range(6):
        history.add_step(trainer.step().loss)
    path = tmp_path / "run.ckpt"
    save_checkpoint(trainer, history, str(path))
    last = history.losses[-1]
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        article_app.load_from(str(path))  # what ctrl+o does once the path is given
        await wait_rendered(pilot, lambda s: s.step == 6 and len(s.samples) == 1)
        assert f"loss {last:.4f} nats" in status_text(article_app)  # was `loss —`
        log = article_app.query_one(SamplesLog).plain
        assert log.startswith("epoch    2  Ma"), log


async def test_apply_with_a_new_h_drops_the_old_models_sample_and_unit_range(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("slash", "M", "a", "enter")
        pane = article_app.query_one(SamplesPane)
        await wait_until(pilot, lambda: pane.sample_reading is not None, what="the prime's sample")
        await pilot.press("u", "u")
        assert "unit 1 of 2" in screen_text(article_app)
        field = article_app.query_one("#cfg-hidden_size", Input)
        field.focus()
        await pilot.press("end", "backspace", "8", "enter")
        await wait_rendered(pilot, lambda s: s.config.hidden_size == 8)
        await pilot.pause()
        assert "unit 1 of 2" not in screen_text(article_app)  # H is 8 now: that was the old model
        assert not pane.unit_view.display


async def test_the_newest_epoch_sample_stays_in_view_after_a_prime_sample():
    app = GRUApp(TrainConfig.article(epochs=30))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "finished")
        newest = app.shown.samples[-1].epoch
        await pilot.press("slash", "M", "a", "enter")
        pane = app.query_one(SamplesPane)
        await wait_until(pilot, lambda: pane.sample_reading is not None, what="the prime's sample")
        await wait_until(pilot, lambda: pane.unit_view.reading is pane.sample_reading, 5, "the sample shown")
        await pilot.pause()  # training has finished: the loop goes idle once the new layout is drawn
        lines = [line for line in screen_text(app).splitlines() if "epoch " in line and "│" in line]
        assert f"epoch {newest:>4}" in lines[-1], lines  # was an older epoch's, the newest cut off


async def test_samples_scroll_with_page_keys_and_the_wheel(article_app):
    app = article_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        for epoch in range(1, 16):  # e: one epoch, then a sample (a pause always takes one)
            await pilot.press("e")
            await wait_rendered(pilot, lambda s, epoch=epoch: s.epoch == epoch and len(s.samples) == epoch)
        scroll = app.query_one(SamplesLog)
        await wait_until(pilot, lambda: scroll.max_scroll_y > 0, 5, "more samples than fit")
        first = app.shown.samples[0].epoch
        assert f"epoch {first:>4}" not in screen_text(app)
        await pilot.press(*["pageup"] * 20)
        await wait_until(pilot, lambda: f"epoch {first:>4}" in screen_text(app), 5, "pageup to the oldest")
        await pilot.press("pagedown")
        moved = scroll.scroll_y
        assert moved > 0
        scroll.post_message(events.MouseScrollUp(scroll, 1, 1, 0, -1, 0, False, False, False))  # the wheel
        await wait_until(pilot, lambda: scroll.scroll_y < moved, 5, "the wheel to scroll")


async def test_a_samples_newlines_are_new_lines():
    text = "ab\ncd\nab\ncd\n" * 6
    app = GRUApp(TrainConfig.default(text=text, epochs=2, sample_prime="a", sample_len=12))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "finished" and len(s.samples) > 0)
        sample = app.shown.samples[-1].text
        assert "\n" in sample
        await wait_until(pilot, lambda: "epoch    2" in screen_text(app), 5, "the last sample drawn")
        screen = screen_text(app)
        assert "⏎" not in app.query_one(SamplesLog).plain
        first, second = sample.split("\n")[:2]
        assert f"epoch    2  {first}" in screen and f"            {second}" in screen


def chart_rows(app: GRUApp) -> list[str]:
    chart = app.query_one("#chart")
    region = chart.region
    lines = screen_text(app).splitlines()
    return [line[region.x:region.right] for line in lines[region.y:region.bottom]]


async def test_loss_chart_at_80x24_log_mode_integer_steps_ticks_and_a_legend_off_the_data(article_app):
    import re

    async with article_app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await pilot.press(*["n"] * 6, "e", "l")
        await wait_rendered(pilot, lambda s: s.epoch == 3 and s.state == "paused")
        chart = article_app.query_one("#chart")
        await wait_until(pilot, lambda: "━step" in chart_rows(article_app)[0], 5, "the legend in the border")
        rows = chart_rows(article_app)
        assert "━ln V" in rows[0] and "━epoch" in rows[0]  # the legend is the border, not over the curve
        inside = "\n".join(rows[1:-1])
        assert "loss per step" not in inside and "uniform" not in inside
        y_ticks = [row for row in rows if re.search(r"[\d.]+┤", row)]
        assert len(y_ticks) >= 3, rows  # was a single tick in log mode
        axis = next(k for k, row in enumerate(rows) if "└" in row)
        x_labels = rows[axis + 1].strip("│").split()
        assert x_labels and all(label.isdigit() for label in x_labels), x_labels  # was 0.75, 1.50 …
        assert [row.strip("│ ") for row in rows[axis + 2:-1]] == ["step"]  # no stray `1` under the axis
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 10)
        assert f"last {article_app.shown.loss:.4f} nats" in str(chart.border_subtitle)  # not 2 s behind
        # on screen too: a new last loss repaints only the border line it is on
        last = f"last {article_app.shown.loss:.4f} nats"
        await wait_until(pilot, lambda: last in chart_rows(article_app)[-1], 5, "the last loss on screen")
        assert "━step" in chart_rows(article_app)[0]


async def test_the_footer_keeps_help_and_quit_at_80_columns(article_app):
    async with article_app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        footer = screen_text(article_app).splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer, footer


async def test_the_learning_rate_label_fits_the_config_pane(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert "lr (Enter: live)" in screen_text(article_app)  # was `learning rate (Enter: live`
