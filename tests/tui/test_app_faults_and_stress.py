"""Hardening the app: fuzzed form fields and primes, faults shown in the app, key storms,
resizes and quitting a big model. Whatever a user types or a run does, the app shows a
value or a message and keeps working; no exception, no hang, no dead worker.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual import events
from textual.app import App, ComposeResult
from textual.geometry import Size
from textual.widgets import Input, Static
from textual.worker import WorkerCancelled, WorkerFailed

from gru_core import GRUError, TrainConfig
from gru_core.config import parse_field
from gru_core.history import History
from gru_core.trainer import Trainer
from tui.app import GRUApp
from tui.screens.error_details import NO_TRACEBACK, ErrorDetailsScreen
from tui.widgets.config_form import NUMBER_FIELDS, ConfigForm
from tui.widgets.loss_chart import LossChart
from tui.widgets.matrices import MatricesView
from tui.widgets.samples import SamplesPane
from tui.widgets.status import STATE_LABELS, StatusBar

from .conftest import wait_ready, wait_rendered, wait_until

SIZE = (120, 40)
# Each example drives the whole app (a reset, a redraw): about 0.3-1 s on 2 busy cores.
FUZZ = settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def status_text(app: GRUApp) -> str:
    return str(app.query_one(StatusBar).render())


def session_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gru-train" and t.is_alive()]


async def fuzz_in_app(pilot, run: Callable[[Callable], None]) -> None:
    """Run a hypothesis test in a thread; each example drives the app on its own event loop.

    `run(act)`: act(coroutine function) runs it in the app's loop and returns its result
    (a hang fails the test after 30 s instead of blocking it).
    """
    loop = asyncio.get_running_loop()

    def act(fn):
        return asyncio.run_coroutine_threadsafe(fn(), loop).result(30)

    await asyncio.to_thread(run, act)


def assert_healthy(app: GRUApp) -> None:
    assert app.is_running and app.session.alive
    assert app.worker_error is None, app.worker_error  # no app worker crashed with a non-GRUError


# ====================================================================== fuzzing the form
FORM_FIELDS = [name for name, _ in NUMBER_FIELDS] + ["text", "file"]
TYPED = st.one_of(
    st.text(max_size=25),
    st.integers(-5, 300).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "1e309", "-0", "0x10", "1_000", "٣", "½", "\x00", "\x1b[2J", "nan", "inf"]),
)


@pytest.mark.slow
async def test_any_text_typed_in_any_form_field_is_a_value_or_an_inline_message():
    app = GRUApp(TrainConfig.default(epochs=1000))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        form = app.query_one(ConfigForm)
        message = app.query_one("#cfg-message", Static)

        async def type_and_enter(field: str, text: str) -> tuple[bool, str, str]:
            box = app.query_one(f"#cfg-{field}", Input)
            shown = box.value
            form.message = ""
            app.screen.set_focus(box)
            box.value = text
            await pilot.pause()
            error = app.query_one(f"#cfg-{field}-error", Static) if field not in ("text",) else None
            error_text = str(error.render()) if error is not None and error.display else ""
            await pilot.press("enter")
            if field != "lr" or not error_text:
                await wait_until(pilot, lambda: str(message.render()) != "", 20, "the form's answer")
            answer = str(message.render())
            box.value = shown  # put the field back for the next example
            app.screen.set_focus(None)
            await pilot.pause()
            return bool(error_text), error_text, answer

        def run(act):
            @FUZZ
            @given(field=st.sampled_from(FORM_FIELDS), text=TYPED)
            def one(field, text):
                invalid, error_text, answer = act(lambda: type_and_enter(field, text))
                if field in dict(NUMBER_FIELDS):
                    try:
                        parse_field(field, text)
                        valid = True
                    except GRUError:
                        valid = False
                    assert invalid == (not valid), (field, text, error_text)
                    if invalid:
                        assert error_text.strip()
                if invalid and field != "lr":
                    assert "first: nothing was applied" in answer
                elif not invalid:
                    assert answer.startswith(("applied", "not applied", "learning rate")), answer
                    assert "Error:" not in answer  # a GRUError's message, not another exception's
                assert app.session.alive

            one()

        await fuzz_in_app(pilot, run)
        assert_healthy(app)
        app.session.reset(TrainConfig.default())
        await pilot.press("n")
        app.session.wait_for(lambda s: s.step == 1 and s.state == "paused", 20)


# ====================================================================== fuzzing primes
PRIMES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="Math", min_size=1, max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(["", "\x00", "\r\n", "\t", "\x1b[31m", "🙂", "M\u0301", "\ud7ff", "[b]Ma[/b]"]),
)


@pytest.mark.slow
async def test_any_prime_gives_a_sample_or_an_inline_message():
    app = GRUApp(TrainConfig.default(epochs=1000))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")  # a trained model: samples are not all one character
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused")
        pane = app.query_one(SamplesPane)
        await pilot.press("less_than_sign", "less_than_sign")  # 20 characters a sample: quicker
        assert pane.sample_len == 20

        async def sample(prime: str) -> tuple[str, str]:
            pane.result, pane.prime_error = "", ""
            await pilot.press("slash")
            app.query_one("#prime", Input).value = prime
            await pilot.press("enter")
            await wait_until(pilot, lambda: pane.result or pane.prime_error, 20, "a sample or a message")
            return pane.result, pane.prime_error

        def run(act):
            @FUZZ
            @given(prime=PRIMES)
            def one(prime):
                result, error = act(lambda: sample(prime))
                assert bool(result) != bool(error)
                if result:
                    assert result.startswith(prime) and set(prime) <= set("Math")
                else:
                    assert "not in the vocabulary" in error or "prime" in error, error
                assert app.focused is None  # the keys are back with training

            one()

        await fuzz_in_app(pilot, run)
        long_prime = "Math" * 2500  # 10,000 characters
        result, error = await sample(long_prime)
        assert result.startswith(long_prime) and not error
        assert_healthy(app)


# ====================================================================== faults in the app
@pytest.mark.parametrize("dtype", ["float32", "float64"])
async def test_a_diverged_step_shows_the_error_keeps_the_weights_and_the_app_goes_on(dtype):
    # the guard off: with it on, the run goes back to good weights (test_guard_on_screen.py)
    app = GRUApp(TrainConfig.default(dtype=dtype, epochs=1000, optimizer="sgd", lr=5.0, clip=0.0,
                                     guard=False))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        session = app.session

        def diverge(trainer: Trainer, history: History) -> list[torch.Tensor]:
            with torch.no_grad():  # what a learning rate far too high leads to
                trainer.model.Wy[0, 0] = float("inf")
            return [p.detach().clone() for p in trainer.model.parameters()]

        before = session.with_trainer(diverge)
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "error")
        text = status_text(app)
        assert " error " in text and "at step 2" in text and "lower the learning rate (now 5)" in text
        assert "d details" in text
        after = session.with_trainer(lambda t, h: [p.detach().clone() for p in t.model.parameters()])
        assert all(torch.equal(a, b) for a, b in zip(after, before))  # the update was not taken
        assert app.shown.step == 1 and len(app.shown.losses) == 1

        await pilot.press("d")
        assert isinstance(app.screen, ErrorDetailsScreen)
        assert "lower the learning rate" in str(app.screen.query_one("#error-message", Static).render())
        assert NO_TRACEBACK in str(app.screen.query_one("#error-detail", Static).render())
        await pilot.press("escape")
        assert not isinstance(app.screen, ErrorDetailsScreen)

        await pilot.press("r")  # the app keeps working: reset, then train again
        await wait_rendered(pilot, lambda s: s.state == "idle" and s.step == 0)
        assert "d details" not in status_text(app)
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1 and s.state == "paused")
        snap = app.shown
        assert snap.loss is not None and snap.loss == snap.loss  # finite, not NaN
        assert_healthy(app)


async def test_a_crash_in_training_shows_its_traceback_in_the_app_and_training_resumes(monkeypatch):
    app = GRUApp(TrainConfig.default(epochs=1000))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        real_step = Trainer.step

        def broken(self):
            raise RuntimeError("boom from a test: a bug inside a step")

        monkeypatch.setattr(Trainer, "step", broken)
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "error")
        text = status_text(app)
        assert "RuntimeError: boom from a test" in text and "(r resets, d details)" in text
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, ErrorDetailsScreen)
        detail = str(screen.query_one("#error-detail", Static).render())
        assert "Traceback (most recent call last)" in detail and "in broken" in detail
        await pilot.press("d")  # d closes it again
        assert not isinstance(app.screen, ErrorDetailsScreen)

        monkeypatch.setattr(Trainer, "step", real_step)
        await pilot.press("n")  # from error, one step trains and pauses
        await wait_rendered(pilot, lambda s: s.state == "paused" and s.step == 1)
        assert "error" not in status_text(app)
        assert_healthy(app)


async def test_a_crashed_app_worker_is_reported_inline_with_details(monkeypatch):
    app = GRUApp(TrainConfig.article())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("d")  # nothing to show yet: a notification, no screen
        assert not isinstance(app.screen, ErrorDetailsScreen)

        def broken(current, values):
            raise ValueError("a bug while building the config")

        monkeypatch.setattr("tui.app.config_from_form", broken)
        app.screen.set_focus(app.query_one("#cfg-hidden_size", Input))
        await pilot.press("enter")
        message = app.query_one("#cfg-message", Static)
        await wait_until(pilot, lambda: "not applied" in str(message.render()), 20, "the refusal")
        assert "ValueError: a bug while building the config" in str(message.render())
        assert "(d: details)" in str(message.render())
        await pilot.press("escape", "d")
        assert isinstance(app.screen, ErrorDetailsScreen)
        assert "in broken" in str(app.screen.query_one("#error-detail", Static).render())
        await pilot.press("escape", "n")
        await wait_rendered(pilot, lambda s: s.step == 1)
        assert app.session.alive


async def test_edge_sizes_train_in_the_app():
    """Hidden size 1 and a text of two distinct characters, applied from the form, train."""
    app = GRUApp(TrainConfig.default(epochs=1000))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        for changes in ({"hidden_size": "1"}, {"text": "ab" * 12, "hidden_size": "3", "seq_len": "5"}):
            form = app.query_one(ConfigForm)
            for name, value in changes.items():
                app.query_one(f"#cfg-{name}", Input).value = value
            await pilot.pause()
            assert form.request_apply()
            hidden = int(changes["hidden_size"])
            await wait_rendered(pilot, lambda s, h=hidden: s.config.hidden_size == h and s.step == 0)
            await pilot.press("e")
            await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused")
            assert all(loss == loss and abs(loss) < 1e6 for loss in app.shown.losses)
            assert f"H = {hidden}" in app.query_one(MatricesView).plain  # the pane's heading shows it


# ====================================================================== stress
# ←/→ are left out: each redraws the matrices pane (about 70 ms of CPU here); test_app covers them.
STORM_KEYS = (
    ["space"] * 6 + ["n"] * 6 + ["e"] * 3 + ["r"] * 3
    + ["t", "T", "l", "c", "escape", "tab", "shift+tab", "enter", "backspace", "slash",
       "a", "M", "h", "x", "1", "question_mark", "d", "u", "j", "v", "k", "K", "left_square_bracket",
       "right_square_bracket", "less_than_sign", "greater_than_sign", "home", "end", "up", "down", "delete"]
)


async def type_fast(pilot, keys: list[str]) -> None:
    """Keys as a fast typist sends them: one after another, without waiting for the screen.

    (pilot.press waits until the process's CPU is idle after each key, which it never is
    while training: about 2 s a key.)
    """
    app = pilot.app
    for key in keys:
        char = CHARS.get(key, key if len(key) == 1 else None)
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
        await asyncio.sleep(0)
    await pilot.pause(0.02)  # a timed pause: pilot.pause() waits for an idle CPU, never while training


CHARS = {"space": " ", "slash": "/", "question_mark": "?", "less_than_sign": "<", "greater_than_sign": ">",
         "left_square_bracket": "[", "right_square_bracket": "]", "tab": "\t", "enter": "\r"}


async def settle(pilot, app: GRUApp) -> None:
    """Close any modal, let the workers finish, pause training, and wait for the screen.

    Keys still queued when the storm stops can start one more reset or step: repeat until
    a round changes nothing (each round waits on conditions, at most 10 rounds).
    """
    session = app.session
    for _ in range(10):
        while len(app.screen_stack) > 1:
            # a screen the last burst pushed may still be mounting: popping it then removes
            # widgets whose Mount handlers are yet to run (textual-fspicker's query them)
            await wait_until(pilot, lambda: app.screen.is_mounted, 20, "the top screen mounted")
            if len(app.screen_stack) > 1:  # a key still queued may have closed it meanwhile
                app.pop_screen()
            await pilot.pause()
        app.screen.set_focus(None)
        for worker in list(app.workers):  # a newer exclusive worker may have cancelled an older one
            try:
                await worker.wait()
            except (WorkerCancelled, WorkerFailed):
                pass  # a failure worth failing for is in app.worker_error, checked by the caller
        session.pause()
        session.wait_for(lambda s: s.state != "running", 20)
        seq = session.snapshot().seq
        await wait_until(pilot, lambda seq=seq: app.shown is not None and app.shown.seq >= seq, 20,
                         "the last snapshot")
        await pilot.pause()  # training is paused: the loop goes idle once queued events are done
        if session.snapshot().seq == seq == app.shown.seq and not app.workers:
            return
    raise AssertionError("the app did not settle in 10 rounds")


@pytest.mark.slow
@pytest.mark.storm  # its keys and bursts are in the short storm CI runs (test_key_and_file_edge_cases)
async def test_a_storm_of_random_keys_while_training():
    app = GRUApp(TrainConfig.default(epochs=100_000))
    rng = random.Random(7)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("space")
        app.session.wait_for(lambda s: s.state == "running", 20)
        pressed = 0
        while pressed < 2000:
            burst = rng.choice([
                [rng.choice(STORM_KEYS) for _ in range(20)],
                ["space", "n", "e", "r"] * 5,  # start / step / epoch / reset, back to back
                ["tab", "enter", "escape", "r", "space"] * 4,  # apply bursts while training
            ])
            await asyncio.wait_for(type_fast(pilot, burst), 30)  # a deadlock fails, never hangs
            pressed += len(burst)
            assert app.is_running and app.session.alive
        await settle(pilot, app)
        snap, session = app.shown, app.session
        assert snap.seq == session.snapshot().seq and snap.state == session.state
        text = status_text(app)
        assert f" {STATE_LABELS[snap.state]} " in text and f"step {snap.step} " in text
        assert f"epoch {snap.epoch}/" in text
        assert app.query_one("#chart", LossChart).snapshot is snap
        assert app.worker_error is None, app.worker_error


async def resize(pilot, width: int, height: int) -> None:
    """pilot.resize_terminal, waiting for the new layout rather than for an idle CPU."""
    app = pilot.app
    app._driver._size = Size(width, height)  # the headless driver's terminal
    app.post_message(events.Resize(Size(width, height), Size(width, height)))
    await wait_until(pilot, lambda: tuple(app.screen.size) == (width, height)
                     and app.query_one(StatusBar).size.width == width, 20, f"{width}x{height}")


@pytest.mark.slow
async def test_resizing_from_40x12_to_300x100_while_training():
    app = GRUApp(TrainConfig.default(epochs=100_000))
    sizes = [(40, 12), (300, 100), (80, 24), (41, 13), (200, 60), (99, 30), (100, 30)]
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("space")
        app.session.wait_for(lambda s: s.state == "running" and s.step > 2, 20)
        for width, height in sizes:
            await resize(pilot, width, height)
            assert app.session.state == "running"
            await type_fast(pilot, ["c"])  # the config pane in and out at every size
        app.export_screenshot()  # the whole screen draws at the last size
        await resize(pilot, 40, 12)
        step = app.session.snapshot().step
        app.session.wait_for(lambda s: s.step > step, 20)  # still training, at the smallest size
        await settle(pilot, app)
        # at 40 columns the status keeps what matters most: the state and the latest loss
        shown = status_text(app)
        snap = app.shown
        assert f" {STATE_LABELS[snap.state]} " in shown and f"{abs(snap.loss):.4f}" in shown, shown
        assert app.worker_error is None


@pytest.mark.slow
async def test_quit_during_an_epoch_of_a_large_model_is_prompt_and_leaves_no_thread():
    config = TrainConfig.default(text="Math, the study of structure. " * 200, hidden_size=1024, seq_len=200,
                                 batch_size=8, backward="autograd", epochs=1_000_000)
    before = set(threading.enumerate())
    app = GRUApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("space")
        session = app.session
        session.wait_for(lambda s: s.state == "running", 20)
        await asyncio.sleep(0.3)  # let a step get well under way (what is measured is the quit)
        t0 = time.monotonic()
        await pilot.press("q")
    quit_seconds = time.monotonic() - t0
    assert quit_seconds < 1.0, quit_seconds
    assert not session.alive and session_threads() == []
    # asyncio_N: the test's event loop's executor, not the app's
    left = [t for t in set(threading.enumerate()) - before
            if t.is_alive() and not t.name.startswith("asyncio_")]
    assert left == [], left


# ====================================================================== bounded drawing
class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LossChart(id="chart")


def long_run(steps: int, num_batches: int = 1000) -> SimpleNamespace:
    losses = [3.0 / (1 + k / 5000) for k in range(steps)]
    epochs = [sum(losses[e * num_batches:(e + 1) * num_batches]) / num_batches
              for e in range(steps // num_batches)]
    val = [(s, 1.0) for s in range(0, steps, 997)]
    return SimpleNamespace(losses=losses, epoch_losses=epochs, val_losses=val,
                           epoch_steps=[(e + 1) * num_batches for e in range(len(epochs))],
                           num_batches=num_batches, uniform_loss=3.0, loss=losses[-1], bits_per_char=1.0,
                           state="running", run_id=1, best_val=1.0, best_step=0, lr=1e-3)


async def test_a_very_long_run_draws_a_bounded_number_of_points():
    app = ChartApp()
    async with app.run_test(size=(120, 30)) as pilot:
        chart = app.query_one(LossChart)
        snap = long_run(1_000_000)
        t0 = time.perf_counter()
        chart.snapshot = snap
        chart.replot()
        first = time.perf_counter() - t0
        bound = 2 * chart.size.width  # at most one point per braille column (two per cell)
        assert 0 < chart.points_drawn <= bound
        snap.losses.extend([0.5] * 1000)  # a frame later: a thousand more steps
        t0 = time.perf_counter()
        chart.snapshot = snap
        chart.replot()
        later = time.perf_counter() - t0
        assert chart.points_drawn <= bound
        assert later < first / 2, (first, later)  # the running sums grow, they are not rebuilt
        await pilot.pause()
        chart.render()
