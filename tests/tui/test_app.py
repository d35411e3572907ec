"""Pilot tests: every key and control of the app does what it says."""

from __future__ import annotations

import dataclasses
import gc
import re
import threading
import time
import weakref

import torch
from textual.widgets import Button, Input, Static

from gru_core import TrainConfig
from gru_core.equations import equations
from tui.app import GRUApp
from tui.widgets.config_form import ConfigForm
from tui.widgets.loss_chart import LossChart
from tui.widgets.matrices import MatricesView
from tui.widgets.samples import SamplesPane
from tui.widgets.samples_log import SamplesLog
from tui.widgets.status import StatusBar

from .conftest import screen_text, wait_ready, wait_rendered, wait_until

SIZE = (120, 40)


def row(values) -> str:
    """A matrix row as the pane prints it (numbers mode; a value that rounds to zero is
    0.0000, never -0.0000)."""
    return "".join(f"{v:8.4f}".replace("-0.0000", " 0.0000") for v in values)


def status_text(app: GRUApp) -> str:
    return str(app.query_one(StatusBar).render())


async def retype(pilot, selector: str, *keys: str) -> Input:
    """Focus a field, delete what it holds and type keys, as a person would."""
    field = pilot.app.query_one(selector, Input)
    field.focus()
    await pilot.press("end", *["backspace"] * (len(field.value) + 1), *keys)
    return field


def session_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gru-train" and t.is_alive()]


async def test_article_matrices_match_the_trace(article_app):
    """The first screen shows the article's numbers: h, y_hat and the loss terms of batch 0."""
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        view = article_app.query_one(MatricesView)
        trace = article_app.shown.trace
        text = view.plain
        assert "t = 1 of 3" in text
        for b in range(2):
            for name in ("h_prev", "z", "r", "h_tilde", "h", "y_hat", "term1"):
                assert row(getattr(trace, name)[0, b].tolist()) in text, (name, b)
        assert "  0.7565 -0.3472" in text  # the article's first hidden state
        assert "  0.4342  0.1669  0.1735  0.2254" in text  # and its first prediction
        assert "  1.6710  1.3337  0.7760" in text  # term3
        assert "1.2602" in text
        assert "seq 1  x Mat  y ath" in text


async def test_matrices_header_names_the_batch_and_step_of_the_numbers_below_it(article_app):
    """A running big model publishes new steps over an older trace (traced at most ~10% of the
    time): the header names the batch and step those rows were traced at, not the live counter."""
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        view = article_app.query_one(MatricesView)
        traced = article_app.shown  # batch 1 of 3, about to be trained by step 1
        trace_rows = row(traced.trace.h[0, 0].tolist())
        later = dataclasses.replace(traced, seq=traced.seq + 1, step=7, batch=2)  # same trace, newer counters
        view.snapshot = later
        await pilot.pause()
        header = view.plain.splitlines()[0]
        assert header.startswith("batch 1/3 (before step 1)"), header
        assert trace_rows in view.plain


async def test_left_right_move_the_time_step(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        view = article_app.query_one(MatricesView)
        trace = article_app.shown.trace
        await pilot.press("right")
        assert view.t == 1 and "t = 2 of 3" in view.plain
        assert row(trace.h[1, 0].tolist()) in view.plain
        await pilot.press("left", "left")
        assert view.t == 2 and "t = 3 of 3" in view.plain  # wraps around
        assert row(trace.y_hat[2, 1].tolist()) in view.plain


async def test_a_long_sequence_shows_its_input_around_the_time_step():
    """T=120 in a 46-column pane: the whole `x …  y …` line ran past the edge, so a late
    step's marked character was out of view. A window around t is shown, … where cut."""
    text = "".join(chr(ord("a") + i % 26) for i in range(2000))
    app = GRUApp(TrainConfig.default(text=text, seq_len=120, batch_size=1, hidden_size=8))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        view = app.query_one(MatricesView)
        x = "".join(app.shown.vocab[int(i)] for i in app.shown.trace.x[:, 0])
        y = "".join(app.shown.vocab[int(i)] for i in app.shown.trace.y[:, 0])

        def shown() -> tuple[str, str]:
            line = next(line for line in view.plain.splitlines() if "seq 1  x " in line)
            found = re.search(r"x (\S+)  y (\S+)$", line.rstrip())
            assert found, line
            return found.group(1), found.group(2)

        xs, ys = shown()  # t = 1: the start, cut at the end
        assert xs.endswith("…") and x.startswith(xs[:-1]) and y.startswith(ys[:-1]), (xs, ys)
        await pilot.press("left")  # wraps to the last time step
        await wait_until(pilot, lambda: "t = 120 of 120" in view.plain, what="the last time step")
        xs, ys = shown()
        assert xs.startswith("…") and x.endswith(xs[1:]) and y.endswith(ys[1:]), (xs, ys)
        assert f"y {ys}" in screen_text(app)  # the line fits: nothing past the pane's edge


async def test_n_trains_one_batch_with_the_gradients_the_pane_showed(article_app):
    """Before n, the pane shows this batch's gradients; the step n takes computes exactly those."""
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        text = article_app.query_one(MatricesView).plain
        shown = article_app.shown.detail.grads
        heading = "gradients step 1 applies: dL/dθ of this batch's loss, all 2 sequences"
        assert heading in " ".join(text.split())
        assert "dWz [4,2]" in text and "dWy [2,4]" in text
        assert row(shown["Wy"][0].tolist()) in text
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        snap = article_app.shown
        assert snap.state == "paused" and snap.batch == 1
        assert "step 1" in status_text(article_app) and "paused" in status_text(article_app)
        assert "1.2602 nats (1.818 bits/char)" in status_text(article_app)
        for name, g in snap.grads.items():  # the step's own gradients, from its backward
            assert torch.allclose(g, shown[name], atol=1e-6), name
        text = article_app.query_one(MatricesView).plain
        assert "batch 2/3 (before step 2)" in text  # the pane moved on to the next batch
        assert "gradients step 2 applies" in text


async def test_space_trains_then_pauses():
    article_app = GRUApp(TrainConfig.article(epochs=1_000_000))
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("space")
        session = article_app.session
        session.wait_for(lambda s: s.state == "running" and s.step > 3, 20)
        await wait_rendered(pilot, lambda s: s.state == "running" and s.chars_per_sec > 0)
        assert "training" in status_text(article_app)
        assert re.search(r"chars/s [1-9][\d,]*", status_text(article_app)), status_text(article_app)
        await pilot.press("space")
        paused = session.wait_for(lambda s: s.state == "paused", 10)
        await wait_rendered(pilot, lambda s: s.state == "paused")
        # no training, no rate: "chars/s 0" beside "paused" or "finished" read as a slow run
        # (a dash, or no rate at all when the line is short of room: it is the first to go)
        assert not re.search(r"chars/s \d", status_text(article_app)), status_text(article_app)
        steps = paused.step
        await pilot.press("n")  # a paused session takes single steps again
        session.wait_for(lambda s: s.step == steps + 1, 10)
        assert session.state == "paused"


async def test_e_finishes_the_epoch_and_a_sample_appears(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("n", "e")
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused" and len(s.samples) == 1)
        snap = article_app.shown
        assert snap.step == 3 and snap.batch == 0
        log = article_app.query_one(SamplesLog).plain
        unwrapped = log.replace("\n" + " " * len("epoch    1  "), "")  # long lines wrap under the text
        assert "epoch    1" in log and snap.samples[0].text in unwrapped
        chart = article_app.query_one(LossChart)
        await wait_until(pilot, lambda: chart.points_drawn == 3, what="the chart to draw 3 steps")


async def test_a_reset_frees_the_old_model():
    """The app freezes what exists at start-up out of later garbage collections (a full
    collection walked torch and the screen every second or two); the model of that time
    must still be freed when a reset replaces it, or each reset keeps its weights."""
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert gc.get_freeze_count() > 0  # the start-up objects, the first model among them
        old = weakref.ref(app.session._s.trainer)
        await pilot.press("r")
        await wait_until(pilot, lambda: app.session._s.trainer is not old(), what="the new model")
        gc.collect()
        assert old() is None


async def test_r_resets_to_the_same_first_numbers(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        first = article_app.query_one(MatricesView).plain
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused")
        assert article_app.query_one(MatricesView).plain != first
        await pilot.press("r")
        await wait_rendered(pilot, lambda s: s.step == 0 and s.state == "idle")
        assert article_app.query_one(MatricesView).plain == first


async def test_prime_sampling_and_an_unknown_character(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        pane = article_app.query_one(SamplesPane)
        await pilot.press("slash")
        assert article_app.focused is article_app.query_one("#prime", Input)
        await pilot.press("M", "a", "enter")
        await wait_until(pilot, lambda: pane.result != "", what="a sample")
        sample, label = pane.result.split("  ")
        assert label == "(T=1)" and sample.startswith("Ma") and len(sample) == 2 + 100
        assert set(sample) <= set("Math")
        assert article_app.focused is None  # Enter hands the keys back to training
        await pilot.press("slash", "M", "x", "enter")  # focusing selects the old prime: typing replaces it
        await wait_until(pilot, lambda: pane.prime_error != "", what="the prime's error")
        assert "'x'" in pane.prime_error
        assert article_app.query_one("#prime-error", Static).display
        await pilot.press("slash", "M", "enter")  # fine again: the message goes
        await wait_until(pilot, lambda: pane.prime_error == "", what="the error to clear")
        assert article_app.session.alive


async def test_temperature_keys(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        shown = lambda: str(article_app.query_one("#sample-settings", Static).render())  # noqa: E731
        assert "temp 1 " in shown()
        await pilot.press("t")
        assert "temp 0.8" in shown() and article_app.session.sample_temperature == 0.8
        await pilot.press("T", "T")
        assert "temp 1.2" in shown()
        await pilot.press(*["t"] * 10)
        assert "temp argmax" in shown() and article_app.temperature == 0
        await pilot.press("slash", "M", "a", "enter")
        pane = article_app.query_one(SamplesPane)
        await wait_until(pilot, lambda: pane.result != "", what="a sample")
        assert pane.result.startswith("Ma") and pane.result.endswith("(argmax)")


async def test_l_toggles_a_log_axis_that_survives_rebuilds():
    app = GRUApp(TrainConfig.default(epochs=3))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e", "e")
        await wait_rendered(pilot, lambda s: s.epoch == 2 and s.state == "paused")
        chart = app.query_one(LossChart)
        linear = str(chart.render())
        await pilot.press("l")
        assert chart.log_scale
        # a log axis drawn twice is the same (plotext's own log scale raised "math domain
        # error" on a second build, back when the chart rebuilt a plot at every render)
        first, second = str(chart.render()), str(chart.render())
        assert first == second != linear
        assert "log" in str(chart.border_title)  # the legend in the border names the scale
        await pilot.press("l")
        assert not chart.log_scale and "linear" in str(chart.border_title)


async def test_invalid_config_input_is_explained_and_cannot_be_applied(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        form = article_app.query_one(ConfigForm)
        await retype(pilot, "#cfg-hidden_size", "0")
        await wait_until(pilot, lambda: "hidden_size" in form.invalid, what="the field to be invalid")
        error = article_app.query_one("#cfg-hidden_size-error", Static)
        assert error.display and "hidden_size must be from 1 to 4096; got 0" in str(error.render())
        assert article_app.query_one("#cfg-apply", Button).disabled
        await pilot.press("enter")  # Enter in a field applies: refused
        assert "fix hidden_size first" in str(article_app.query_one("#cfg-message", Static).render())
        await pilot.press("backspace", "x")
        assert "whole number" in str(error.render())
        await pilot.press("backspace", "3")
        await wait_until(pilot, lambda: not form.invalid, what="the field to be valid")
        assert not error.display and not article_app.query_one("#cfg-apply", Button).disabled
        assert article_app.session.config.hidden_size == 2  # nothing applied yet


async def test_apply_resets_with_the_new_config(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        await retype(pilot, "#cfg-hidden_size", "8")
        article_app.query_one("#cfg-apply").scroll_visible(animate=False)  # below the form's last field
        await pilot.pause()
        await pilot.click("#cfg-apply")
        await wait_rendered(pilot, lambda s: s.config.hidden_size == 8 and s.step == 0)
        assert "H = 8" in article_app.query_one(MatricesView).plain
        assert "applied" in str(article_app.query_one("#cfg-message", Static).render())


async def test_a_config_invalid_as_a_whole_leaves_the_session_alone(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        await retype(pilot, "#cfg-seq_len", "5", "0", "enter")  # 2 x 50 > 20 characters
        message = article_app.query_one("#cfg-message", Static)
        await wait_until(pilot, lambda: "not applied" in str(message.render()), what="the refusal")
        assert "seq_len 50" in str(message.render())
        assert article_app.session.config.seq_len == 3 and article_app.session.snapshot().step == 1


async def test_learning_rate_applies_live_without_a_reset(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        await retype(pilot, "#cfg-lr", "0", ".", "5", "enter")
        await wait_rendered(pilot, lambda s: s.lr == 0.5)
        assert article_app.shown.step == 1  # not reset
        assert "lr 0.5" in status_text(article_app)


async def test_quit_while_training_exits_promptly_with_no_thread_left():
    config = TrainConfig.default(text="Math" * 400, hidden_size=256, seq_len=100, epochs=1_000_000)
    article_app = GRUApp(config)
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("space")
        session = article_app.session
        session.wait_for(lambda s: s.state == "running" and s.step > 0, 20)
        t0 = time.monotonic()
        await pilot.press("q")
        quit_seconds = time.monotonic() - t0
    assert quit_seconds < 3.0
    assert not session.alive
    assert session_threads() == []


async def test_help_screen_explains_keys_and_matrices(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("question_mark")
        from tui.screens.help import HelpScreen

        assert isinstance(article_app.screen, HelpScreen)
        from textual.widgets import Markdown

        source = article_app.screen.query_one(Markdown).source
        assert "update gate" in source and "`space`" in source and "h_tilde" in source
        await pilot.press("escape")
        assert not isinstance(article_app.screen, HelpScreen)


async def test_help_and_pane_show_the_equations_of_the_reset_form_in_use():
    """reset="after" runs h_tilde = tanh(x Wh + bh + r⊙(h_prev Uh + bUh)): help and pane say so."""
    app = GRUApp(TrainConfig.article(reset="after"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        # a note longer than the pane wraps between words (it was cut at the pane's edge)
        pane = " ".join(line.strip() for line in app.query_one(MatricesView).plain.splitlines())
        assert "h_tilde = tanh(x Wh + bh + r⊙(h_prev Uh + bUh))" in pane
        assert "(r⊙h_prev) Uh" not in pane
        await pilot.press("question_mark")
        from textual.widgets import Markdown

        source = app.screen.query_one(Markdown).source
        assert "**h_tilde** = tanh(x Wh + bh + r⊙(h_prev Uh + bUh))" in source
        assert "(r⊙h_prev) Uh" not in source
        for name, text in equations("after").items():  # every equation the pane prints, as it prints it
            if name != "h_prev":
                assert f"**{name}** = {text.split(' = ', 1)[1]}" in source, name
        assert "dL/dbUh" in source  # the gradient the after form adds
        await pilot.press("escape")
        view = app.query_one(MatricesView)  # and the explanation of an h_tilde cell
        view.lines.select(("h_tilde", 0, 1))
        await wait_until(pilot, lambda: view.explanation.startswith("h_tilde[seq 1, unit 2]"))
        after = "h_tilde = tanh(Wh[x='M', 2] + bh[2] + r[2]·(Σ_i h_prev[i]·Uh[i, 2] + bUh[2]))"
        assert after in view.explanation


async def test_c_shows_the_config_on_a_narrow_screen(article_app):
    async with article_app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        form = article_app.query_one(ConfigForm)
        assert not form.display
        await pilot.press("c")
        assert form.display
        await pilot.press("c")
        assert not form.display


async def test_keys_before_torch_has_loaded_do_not_crash():
    app = GRUApp(TrainConfig.article())
    async with app.run_test(size=SIZE) as pilot:
        assert "loading torch" in status_text(app) or app.session is not None
        await pilot.press("n", "space", "r")  # ignored (or applied) without an exception
        await wait_ready(pilot)
        assert app.session.alive
