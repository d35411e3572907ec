"""Pilot tests for real text in the app: checkpoints, exports, text sources, validation,
streamed samples and the coloured views of confidence and hidden units."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pytest
from textual.widgets import Input, Select, Static

from gru_core import TrainConfig
from gru_core.checkpoint import save_checkpoint
from gru_core.corpora import zen_of_python
from gru_core.formatting import signed
from gru_core.history import History
from tui.app import GRUApp
from tui.keys import ROWS, keys_markdown
from tui.launch import launch_app, load_resume
from tui.screens.path_dialog import PathDialog
from tui.widgets.config_form import ConfigForm
from tui.widgets.loss_chart import LossChart
from tui.widgets.matrices import MatricesView
from tui.widgets.samples import SamplesPane
from tui.widgets.unit_view import UnitView, activation_style, confidence_style

from ..export_reader import tensor_from
from .conftest import wait_ready, wait_rendered, wait_until

SIZE = (120, 40)
LONG_TEXT = "the cat sat on the mat. the dog sat on the log. " * 12  # 576 characters


def notifications(app: GRUApp) -> list[str]:
    return [n.message for n in app._notifications]


async def answer_dialog(pilot, key: str, path: str) -> PathDialog:
    """Press key, check the dialog opened, type path over its default and press Enter."""
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, PathDialog), what="the path dialog")
    dialog = pilot.app.screen
    field = dialog.query_one("#path-input", Input)
    default = field.value
    field.value = path
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, PathDialog), what="the dialog to close")
    return default


async def wait_message(pilot, prefix: str) -> str:
    app = pilot.app
    await wait_until(pilot, lambda: app.file_message.startswith(prefix), what=f"a message {prefix!r}")
    return app.file_message


async def click_apply(pilot) -> None:
    """Scroll the config pane to its Apply button and click it."""
    pilot.app.query_one("#cfg-apply").scroll_visible(animate=False, immediate=True)
    await pilot.pause()
    await pilot.click("#cfg-apply")


def read_only_path(tmp_path: Path) -> str:
    """A place a checkpoint cannot be written (root ignores folder permissions: use /proc)."""
    if os.geteuid() == 0:
        return "/proc/gru-tui-test.ckpt"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return str(folder / "run.ckpt")


# ====================================================================== checkpoints
async def test_ctrl_s_saves_and_ctrl_o_resumes_where_it_stopped(article_app, tmp_path):
    path = str(tmp_path / "run.ckpt")
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        first_loss = article_app.shown.loss
        default = await answer_dialog(pilot, "ctrl+s", path)
        assert default == "./gru-tui-step1.ckpt"  # char-rnn's naming: step (and val loss when held out)
        message = await wait_message(pilot, "saved")
        assert path in message and "step 1" in message and message in notifications(article_app)
        assert os.path.getsize(path) > 0
        await pilot.press("n", "n")
        await wait_rendered(pilot, lambda s: s.step == 3)
        await answer_dialog(pilot, "ctrl+o", path)
        await wait_rendered(pilot, lambda s: s.step == 1 and s.state == "paused")
        assert (await wait_message(pilot, "loaded")).startswith(f"loaded {path}: step 1")
        assert list(article_app.shown.losses) == [first_loss]
        assert "batch 2/3" in article_app.query_one(MatricesView).plain  # the saved run's next batch


async def test_escape_in_the_dialog_saves_nothing(article_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(article_app.screen, PathDialog), what="the dialog")
        await pilot.press("escape")
        assert not isinstance(article_app.screen, PathDialog)
        await article_app.workers.wait_for_complete()  # a save, had one started, is done
        await pilot.pause()
        assert list(tmp_path.iterdir()) == [] and article_app.file_message == ""


async def test_saving_to_a_read_only_place_says_so_and_training_goes_on(tmp_path):
    app = GRUApp(TrainConfig.default(epochs=1_000_000))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "running")
        await answer_dialog(pilot, "ctrl+s", read_only_path(tmp_path))
        message = await wait_message(pilot, "not saved")
        assert "could not save the checkpoint" in message and message in notifications(app)
        step = app.session.snapshot().step
        app.session.wait_for(lambda s: s.step > step + 2, 20)  # still training
        assert app.session.state == "running"


@pytest.mark.parametrize("damage", ["truncated", "foreign"])
async def test_a_bad_checkpoint_is_refused_and_changes_nothing(article_app, tmp_path, damage):
    path = tmp_path / "bad.ckpt"
    if damage == "truncated":
        from gru_core.trainer import Trainer

        save_checkpoint(Trainer(TrainConfig.article()), History(), str(path))
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_text("just some notes, not a checkpoint\n")
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        before = article_app.shown
        await answer_dialog(pilot, "ctrl+o", str(path))
        message = await wait_message(pilot, "not loaded")
        assert ("is not a readable checkpoint" in message or "is not a gru-tui checkpoint" in message) \
            and "Nothing was loaded" in message
        assert message in notifications(article_app)
        snap = article_app.session.snapshot()
        assert (snap.run_id, snap.step, snap.state) == (before.run_id, 1, "paused")
        await pilot.press("n")  # the session still takes commands
        await wait_rendered(pilot, lambda s: s.step == 2)


async def test_gru_tui_load_resumes_from_a_checkpoint(tmp_path, capsys):
    from gru_core.trainer import Trainer

    trainer, history = Trainer(TrainConfig.article()), History()
    for _ in range(4):
        history.add_step(trainer.step().loss)
    path = str(tmp_path / "run.ckpt")
    save_checkpoint(trainer, history, path)

    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert launch_app(["--load", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gru-tui: error: ") and err.count("\n") == 1 and "bad.ckpt" in err

    app = GRUApp(torch_threads=None, resume=load_resume(path, epochs=7), resumed_from=path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        snap = app.shown
        assert (snap.step, snap.epoch, snap.batch, snap.state) == (4, 1, 1, "paused")
        assert list(snap.losses) == history.losses and snap.target_epochs == 7
        assert (await wait_message(pilot, "resumed")).startswith(f"resumed from {path}: step 4")
        assert app.query_one("#cfg-hidden_size", Input).value == "2"


# ====================================================================== export
async def test_ctrl_e_exports_csv_and_json_that_parse_back_to_the_numbers_shown(article_app, tmp_path):
    base = str(tmp_path / "run")
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e", "n")
        await wait_rendered(pilot, lambda s: s.step == 4 and s.trace_step == 4)
        shown = article_app.shown
        default = await answer_dialog(pilot, "ctrl+e", base)
        assert default == "./gru-tui-article"
        message = await wait_message(pilot, "exported")
        assert f"{base}-loss.csv" in message and f"{base}-batch.json" in message

        with open(f"{base}-loss.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [float(r["loss"]) for r in rows] == list(shown.losses)
        assert float(rows[2]["epoch_mean"]) == shown.epoch_losses[0]  # epoch 1 ended at step 3
        status = str(article_app.query_one("#status", Static).render())
        assert f"{float(rows[-1]['loss']):.4f} nats" in status

        with open(f"{base}-batch.json") as f:
            data = json.load(f)
        assert (data["step"], data["batch"]) == (4, shown.batch)
        h = tensor_from(data["matrices"]["h"])
        assert h.equal(shown.trace.h)
        assert tensor_from(data["gradients"]["Wz"]).equal(shown.detail.applied["Wz"])  # what the pane shows
        plain = article_app.query_one(MatricesView).plain
        assert "".join(f"{v:8.4f}" for v in data["matrices"]["h"]["data"][0][0]) in plain


# ====================================================================== text source, validation
async def test_the_source_select_switches_to_a_built_in_corpus(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        article_app.query_one("#cfg-source", Select).value = "zen"
        await pilot.pause()
        await click_apply(pilot)
        await wait_rendered(pilot, lambda s: s.config.source == "corpus:zen")
        config = article_app.shown.config
        assert config.text == zen_of_python() and config.layout == "streams"
        assert article_app.query_one("#cfg-text", Input).value.startswith("The Zen of Python")
        assert "V = " in article_app.query_one(MatricesView).plain
        assert "applied" in str(article_app.query_one("#cfg-message", Static).render())


async def test_a_bad_file_gets_an_inline_message_and_nothing_changes(article_app, tmp_path):
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\x89PNG\x00\x00\x01")
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        form = article_app.query_one(ConfigForm)
        field = article_app.query_one("#cfg-file", Input)
        field.value = str(tmp_path / "missing.txt")
        await wait_until(pilot, lambda: "file" in form.invalid, what="the file field to be invalid")
        assert "no such file" in str(article_app.query_one("#cfg-file-error", Static).render())
        field.value = str(binary)
        await wait_until(pilot, lambda: not form.invalid, what="the file field to be valid")
        await click_apply(pilot)
        message = article_app.query_one("#cfg-message", Static)
        await wait_until(pilot, lambda: "not applied" in str(message.render()), what="the refusal")
        assert "NUL byte" in str(message.render())
        assert article_app.session.config.source == "text" and article_app.shown.run_id == 0


async def test_validation_fraction_field_note_and_loss_in_bits(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        status = article_app.query_one("#cfg-val-status", Static)
        assert "validation off" in str(status.render())
        article_app.query_one("#cfg-val_fraction", Input).value = "0.05"
        await click_apply(pilot)  # 1 of 20 characters: nothing after it to predict
        await wait_rendered(pilot, lambda s: s.config.val_fraction == 0.05)
        await wait_until(pilot, lambda: "held-out part is 1 characters" in str(status.render()),
                         what="the validation note")

        article_app.query_one("#cfg-text", Input).value = LONG_TEXT
        article_app.query_one("#cfg-val_fraction", Input).value = "0.2"
        await click_apply(pilot)
        await wait_rendered(pilot, lambda s: s.config.val_fraction == 0.2 and s.config.text == LONG_TEXT)
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: s.val_loss is not None)
        val = article_app.shown.val_loss
        await wait_until(pilot, lambda: f"{val:.4f} nats" in str(status.render()), what="the val loss")
        assert f"= {val / 0.6931471805599453:.3f} bits/char" in str(status.render())
        assert f"{int(len(LONG_TEXT) * 0.2)} characters held out" in str(status.render())
        chart = article_app.query_one(LossChart)
        chart.replot()
        assert "val" in str(chart.border_title) and "ln V" in str(chart.border_title)


# ====================================================================== samples and units
@pytest.mark.slow
async def test_a_long_sample_streams_while_training_goes_on():
    app = GRUApp(TrainConfig.default(text=LONG_TEXT, epochs=1_000_000, sample_prime="t"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        pane = app.query_one(SamplesPane)
        view = pane.unit_view
        shown: list[tuple[str, str]] = []  # (what the pane was handed, what the view drew)
        show_stream = pane.show_stream

        def recording(text: str) -> None:
            show_stream(text)
            shown.append((text, view.text_shown))

        pane.show_stream = recording
        await pilot.press(*[">"] * 10, "<")
        assert pane.sample_len == 1000  # 2000 at most
        settings = str(app.query_one("#sample-settings", Static).render())
        assert "len 1000 (<>)" in settings and "top-k off (kK)" in settings
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "running")
        await pilot.press("slash", "t", "h", "enter")
        # The first character is shown at once: at H 16 the whole 1000 can take under
        # STREAM_INTERVAL, and a stream that waited for the interval then showed nothing.
        await wait_until(pilot, lambda: shown, timeout=30, what="the first characters")
        step = app.session.snapshot().step
        await pilot.press("t")  # the UI answers keys while the sample is drawn
        assert pane.temperature == 0.8
        await wait_until(pilot, lambda: pane.result != "", timeout=120, what="the whole sample")
        text = pane.result.split("  (")[0]
        assert len(text) == 2 + 1000 and view.streaming == ""
        partial, drawn = shown[0]
        assert text.startswith(partial) and len(partial) < len(text)  # shown before it was done
        assert drawn.rstrip().endswith("▌") and drawn.startswith(partial[:20])
        assert app.session.snapshot().step > step  # training went on meanwhile
        assert app.session.state == "running"


async def test_top_k_of_1_samples_the_likeliest_character(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        pane = article_app.query_one(SamplesPane)
        await pilot.press("K")  # off is already the top: K keeps it off
        assert pane.top_k is None
        await pilot.press("e", "k", "<")  # V = 4: k from off offers 3, never 4 or more
        assert (pane.top_k, pane.sample_len) == (3, 50)
        await pilot.press("k", "k", "k")  # clamped at 1, the most restrictive
        assert pane.top_k == 1
        assert "top-k 1 (kK)" in str(article_app.query_one("#sample-settings", Static).render())
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused")
        await pilot.press("slash", "M", "a", "enter")
        await wait_until(pilot, lambda: pane.result != "", what="a top-k sample")
        top1 = pane.result.split("  (")[0]
        pane.result = ""
        await pilot.press("K", "K", "K", *["t"] * 10, "slash", "M", "a", "enter")
        assert pane.top_k is None and article_app.temperature == 0
        await wait_until(pilot, lambda: pane.result != "", what="an argmax sample")
        assert pane.result == f"{top1}  (argmax)" and len(top1) == 52


async def test_u_colours_by_confidence_then_by_a_unit_and_keys_pick_the_unit():
    app = GRUApp(TrainConfig.default(text=LONG_TEXT, sample_prime="t"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        pane = app.query_one(SamplesPane)
        view = app.query_one(UnitView)
        await pilot.press("e", "<")
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused")
        await pilot.press("slash", "t", "h", "e", "enter")
        await wait_until(pilot, lambda: pane.result != "", what="a sample")
        reading = pane.sample_reading
        assert reading.text == pane.result.split("  (")[0] and len(reading.text) == 3 + 50
        assert view.mode == "plain" and "plain" in view.legend

        await pilot.press("u")
        assert view.mode == "confidence" and "confidence p(char)" in view.legend
        coloured = view.coloured()
        styles = [coloured.get_style_at_offset(app.console, i) for i in range(len(reading.text))]
        for i in range(3, len(reading.text)):  # every generated character, by its probability
            assert styles[i].bgcolor == confidence_style(reading.probs[i], view.colours).bgcolor
        assert styles[0].bgcolor is None  # the prime was given, not predicted

        await pilot.press("u")
        values = reading.unit_values(0)
        known = [v for v in values if v is not None]
        assert view.mode == "unit" and len(known) == 50
        assert f"unit 1 of 16 range [{signed(min(known))}, {signed(max(known))}]" in view.legend
        coloured = view.coloured()
        k = next(i for i, v in enumerate(values) if v is not None)
        assert k == 2  # h after reading the prime's last character: the state that picked char 4
        expected = activation_style(values[k], view.colours).bgcolor
        assert coloured.get_style_at_offset(app.console, k).bgcolor == expected
        await pilot.press("right_square_bracket")
        assert view.unit == 1 and "unit 2 of 16" in view.legend
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert view.unit == 15  # wraps around
        await pilot.press("j")
        assert view.unit == reading.ranked[0] and "(#1 by swing)" in view.legend
        await pilot.press("j")
        assert view.unit == reading.ranked[1] and "(#2 by swing)" in view.legend
        assert view.text_shown.startswith("the") and view.text_shown.endswith("(T=1)")


async def test_v_reads_the_validation_text_through_the_model():
    config = TrainConfig.default(text=LONG_TEXT, val_fraction=0.2, sample_prime="t")
    app = GRUApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        pane = app.query_one(SamplesPane)
        view = app.query_one(UnitView)
        assert not view.display  # nothing to colour yet
        await pilot.press("v")
        await wait_until(pilot, lambda: view.reading is not None, what="the validation reading")
        reading = view.reading
        assert reading.text == LONG_TEXT[config.train_chars:][:400] and view.display
        assert "validation text" in view.legend
        assert "held-out text (v)" in str(app.query_one("#sample-settings", Static).render())
        assert all(0 < p < 1 for p in reading.probs)
        await pilot.press("u", "u", "j")
        assert view.unit == reading.ranked[0]
        match = re.search(r"range \[([-+.\d]+), ([-+.\d]+)\]", view.legend)
        column = reading.hidden[:, view.unit]
        low, high = round(float(column.min()), 2), round(float(column.max()), 2)
        assert (float(match[1]), float(match[2])) == (low, high)
        await pilot.press("v")
        assert pane.view == "sample" and view.reading is None


# ====================================================================== help and README
async def test_help_and_readme_list_the_new_keys(article_app):
    for key in ("ctrl+s", "ctrl+o", "ctrl+e", "u", "[ / ]", "j", "v", "< / >", "k / K"):
        assert key in {row.shown for row in ROWS}
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for line in keys_markdown().splitlines()[2:]:
        assert line in readme, f"README's key table lacks {line!r}"
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("question_mark")
        from textual.widgets import Markdown

        source = article_app.screen.query_one(Markdown).source
        assert "`ctrl+s`" in source and "Seeing the units" in source
