"""Keys and files that ended the app (issue 17), and ctrl+s asking before it replaces a file
(issue 12). Each case is what the attack sweep typed; each test checks the app is still
running and shows what the user expects.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import subprocess
import sys
import textwrap

import pytest
import torch
from textual.command import CommandPalette
from textual.widgets import Input, LoadingIndicator, Select

from gru_core import TrainConfig
from gru_core.checkpoint import save_checkpoint
from gru_core.history import History
from gru_core.trainer import Trainer
from tui.app import GRUApp
from tui.screens.path_dialog import PathDialog, ReplaceDialog
from tui.widgets.config_form import ConfigForm
from tui.widgets.loss_chart import LossChart
from tui.widgets.status import STATE_LABELS, StatusBar

from ..conftest import storm_seed
from .conftest import screen_text, wait_palette_searched, wait_ready, wait_rendered, wait_until
from .test_app_faults_and_stress import STORM_KEYS, settle, type_fast

SIZE = (120, 40)


def status_text(app: GRUApp) -> str:
    return str(app.query_one(StatusBar).render())


async def test_ctrl_s_then_enter_enter_in_one_burst_saves_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        for key in ("ctrl+s", "ctrl+e"):
            await pilot.press(key)
            await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the dialog")
            await type_fast(pilot, ["enter", "enter"])  # the second Enter reached the closing dialog
            await wait_until(pilot, lambda: app.file_message.startswith(("saved", "exported")), what="a file")
            app.file_message = ""
        assert app.is_running and len(app.screen_stack) == 1
    assert app.return_code in (None, 0)
    assert sorted(os.listdir(tmp_path)) == ["gru-tui-default-batch.json", "gru-tui-default-loss.csv",
                                            "gru-tui-step0.ckpt"]


async def test_log_scale_on_a_one_character_text_draws_a_chart():
    """`--text aaaaaaaaaaaa` then `l`: every loss is 0 (ln 1), and log y took min() of nothing."""
    app = GRUApp(TrainConfig.default(text="aaaaaaaaaaaa"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("n", "l")
        await wait_rendered(pilot, lambda s: s.step == 1)
        chart = app.query_one(LossChart)
        assert chart.log_scale and "step" in str(chart.render())  # the chart is drawn, axes and all
        assert app.is_running


async def test_page_up_on_a_select_hidden_with_its_pane_does_nothing():
    """Tab Tab c Enter PageUp: a Select of the hidden config pane got PageUp (KeyError: 0)."""
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("tab", "tab")
        assert isinstance(app.focused, Select)
        await pilot.press("c", "enter", "pageup", "pagedown")
        assert not app.query_one(ConfigForm).display
        assert app.is_running and app.focused is None  # the keys drive training again
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == 1)


async def test_page_keys_right_after_ctrl_p_leave_the_palette_open():
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await type_fast(pilot, ["ctrl+p", "pageup", "pagedown", "pageup", "pagedown"])
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press("pagedown", "pageup", "escape")
        assert app.is_running and not isinstance(app.screen, CommandPalette)


async def test_a_checkpoint_with_another_preset_opens_with_it(tmp_path):
    """Saved through the library (preset "custom") or crafted: InvalidSelectValueError before."""
    path = str(tmp_path / "custom.ckpt")
    custom = TrainConfig.default(hidden_size=12).replace(preset="custom")
    save_checkpoint(Trainer(custom), History(), path)
    crafted = str(tmp_path / "crafted.ckpt")
    odd = custom.replace(preset="[b]mine[/b]", source="corpus:nowhere")
    save_checkpoint(Trainer(odd), History(), crafted)
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        for file, preset in ((path, "custom"), (crafted, "[b]mine[/b]")):
            await pilot.press("ctrl+o")
            await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the dialog")
            app.screen.query_one("#path-input", Input).value = file
            await pilot.press("enter")
            await wait_rendered(pilot, lambda s, p=preset: s.config.preset == p)
            assert f"preset {preset}" in status_text(app)
            assert app.query_one("#cfg-preset", Select).value == preset
            assert app.query_one("#cfg-source", Select).value == "text"
        # Apply keeps the loaded run's settings (the form's preset is the run's own)
        app.query_one(ConfigForm).request_apply()
        await wait_until(pilot, lambda: str(app.query_one("#cfg-message").render()).startswith("applied"))
        assert app.session.config.hidden_size == 12
    app = GRUApp(resume=(Trainer(custom), History()), resumed_from=path)  # gru-tui --load
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert "preset custom" in status_text(app)


async def test_ctrl_s_proposes_a_new_file_and_asks_before_replacing_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gru-tui-step0.ckpt").write_bytes(b"an older run")  # named by step, as char-rnn's
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the dialog")
        field = app.screen.query_one("#path-input", Input)
        assert field.value == "./gru-tui-step0-2.ckpt"  # not the file already there
        field.value = "./gru-tui-step0.ckpt"
        await type_fast(pilot, ["enter", "enter"])  # Enter does not answer "replace?"
        await wait_until(pilot, lambda: isinstance(app.screen, ReplaceDialog), what="the question")
        assert "gru-tui-step0.ckpt already exists: replace it?" in str(
            app.screen.query_one("#replace-question").render())
        await pilot.press("n")
        await wait_until(pilot, lambda: app.file_message.startswith("not saved"), what="the answer")
        assert "kept as it was" in app.file_message
        assert (tmp_path / "gru-tui-step0.ckpt").read_bytes() == b"an older run"

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the dialog")
        app.screen.query_one("#path-input", Input).value = "./gru-tui-step0.ckpt"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplaceDialog), what="the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.file_message.startswith("saved"), what="the save")
        assert (tmp_path / "gru-tui-step0.ckpt").read_bytes() != b"an older run"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
async def test_device_cuda_without_a_gpu_shows_the_error_not_loading_dots():
    app = GRUApp(TrainConfig.default(device="cuda"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "no CUDA GPU" in status_text(app), 60, "the error")
        await pilot.pause()
        said = "error: could not start training: device 'cuda' was asked for but no CUDA GPU"
        assert said in status_text(app)
        on_top, _ = app.screen.get_widget_at(3, 0)  # on the top line: Widget.loading's dots covered it
        assert isinstance(on_top, StatusBar) and not app.query(LoadingIndicator)
        await pilot.press("q")
    assert app.return_code in (None, 0)


async def test_a_loss_a_hair_below_zero_reads_0_not_minus_0():
    app = GRUApp(TrainConfig.default(text="aaaaaaaaaaaa"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        app.session.pause()
        bar = app.query_one(StatusBar)
        bar.snapshot = dataclasses.replace(app.shown, loss=-2e-9, val_losses=[(1, -1e-12)])
        await pilot.pause()
        text = status_text(app)
        assert "loss 0.0000 nats" in text and "val 0.0000" in text  # bits/char too, where it fits
        assert "-0.0" not in text
        bar.snapshot = dataclasses.replace(app.shown, loss=-0.25)  # a real negative stays visible
        assert "loss -0.2500 nats" in status_text(app)


async def test_ctrl_p_then_escape_in_one_burst_leaves_the_app_running():
    """Key storm seed 2: ctrl+p then Escape in one burst closed the palette before its search
    worker ran, and the worker queried the list that was gone (NoMatches ended the app)."""
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        for burst in (["ctrl+p", "escape"], ["ctrl+p", "r", "escape"], ["ctrl+p", "e", "x", "escape"]):
            await type_fast(pilot, burst)
            await wait_until(pilot, lambda: len(app.screen_stack) == 1, what="the palette closed")
            await wait_palette_searched(pilot)
            assert app.is_running and app.worker_error is None, burst


async def test_a_reset_right_after_a_load_ends_the_loads_wait(tmp_path, monkeypatch):
    """Key storm seed 1, in CI: ctrl+o's worker waited for the loaded run's first snapshot
    alone, and an r (or an Apply) typed right after the load replaced that run before it was
    published; the wait timed out and showed as a worker error. A later run ends the wait too."""
    import gru_core.checkpoint_session as checkpoint_session

    path = str(tmp_path / "run.ckpt")
    save_checkpoint(Trainer(TrainConfig.default(hidden_size=12)), History(), path)
    load_into_session = checkpoint_session.load_into_session

    def load_then_reset(session, where: str) -> TrainConfig:
        # the r of the same burst, handled before the worker looked: the session's lock (an
        # RLock, which adopt and reset take too) is held across both, so the race always lands
        with session._cond:
            config = load_into_session(session, where)
            session.reset(config.replace(hidden_size=10))
        return config

    monkeypatch.setattr(checkpoint_session, "load_into_session", load_then_reset)
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the dialog")
        app.screen.query_one("#path-input", Input).value = path
        await pilot.press("enter")
        answered = lambda: app.file_message != "" or app.worker_error is not None  # noqa: E731
        await wait_until(pilot, answered, 30, "the load's answer")
        assert app.file_message.startswith(f"loaded {path}"), (app.file_message, app.worker_error)
        await wait_rendered(pilot, lambda s: s.config.hidden_size == 10 and s.step == 0)
        assert app.worker_error is None and app.is_running and app.session.alive


PASTE_THEN_QUIT = textwrap.dedent("""
    import asyncio, atexit, time
    from textual import events
    from gru_core import TrainConfig
    from tests.tui.conftest import wait_ready
    from tests.tui.test_app_faults_and_stress import type_fast
    from tui.app import GRUApp

    quit_at = []
    atexit.register(lambda: print(f"{time.monotonic() - quit_at[0]:.3f}", flush=True))

    async def main():
        app = GRUApp(TrainConfig.default())
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_ready(pilot)
            await pilot.press("slash")
            app.query_one("#prime").post_message(events.Paste("Math" * 25_000))
            await type_fast(pilot, ["enter"])  # sampling starts: the prime is read first
            quit_at.append(time.monotonic())
            await type_fast(pilot, ["q"])
    asyncio.run(main())  # returns once the app's threads have ended
""")


@pytest.mark.slow
def test_quit_right_after_a_pasted_100k_character_prime_is_quick():
    """Reading the prime took 6-26 s, and quitting waited for it (70 s on a loaded machine)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", PASTE_THEN_QUIT], capture_output=True, text=True,
                         timeout=300, cwd=root)
    assert out.returncode == 0, out.stderr[-2000:]
    seconds = float(out.stdout.strip().splitlines()[-1])
    assert seconds < 3.0, seconds


# Every key the app has, the palette and the dialogs included (PageUp/PageDown in each).
EVERY_KEY = STORM_KEYS + ["pageup", "pagedown", "left", "right", "ctrl+s", "ctrl+o", "ctrl+e", "y", "n"]
BURSTS = (
    ["ctrl+p", "pageup", "pagedown", "down", "pageup", "pagedown", "escape"],  # the palette, closed again
    ["ctrl+s", "enter", "enter", "n", "escape"],  # save, asked to replace, kept
    ["ctrl+e", "enter", "enter"],
    ["tab", "tab", "c", "enter", "pageup", "c", "escape"],  # a Select of a pane being hidden
    ["space", "n", "e", "r"] * 3,
)
APPLY_WHILE_TRAINING = ["tab", "enter", "escape", "r", "space"] * 4  # the seed-7 storm's own burst
STORM_SIZE = 3000
SHORT_STORM_SIZE = 500


async def storm(pilot, rng: random.Random, keys: int, bursts: tuple[list[str], ...], seed: int) -> None:
    """`keys` keys in bursts of random keys and of `bursts`, while training, then settled and
    checked: the app runs, the worker lives, the status line shows the state and step."""
    app = pilot.app
    await wait_ready(pilot)
    await pilot.press("space")
    pressed = 0
    while pressed < keys:
        burst = rng.choice([[rng.choice(EVERY_KEY) for _ in range(20)], rng.choice(bursts)])
        await asyncio.wait_for(type_fast(pilot, burst), 30)  # a deadlock fails, never hangs
        pressed += len(burst)
        assert app.is_running and app.session.alive, (f"storm seed {seed}", pressed, burst)
    await settle(pilot, app)
    snap = app.shown
    text = status_text(app)
    assert f" {STATE_LABELS[snap.state]} " in text and f"step {snap.step} " in text, f"storm seed {seed}"
    assert app.worker_error is None, (f"storm seed {seed}", app.worker_error)


@pytest.mark.slow
async def test_a_short_storm_of_every_key_survives(tmp_path, monkeypatch):
    """500 keys, a new seed each run: the summary prints it, and `--storm-seed N` (or
    GRU_STORM_SEED=N) replays it. The long storms below run with `pytest -m storm`."""
    monkeypatch.chdir(tmp_path)  # ctrl+s and ctrl+e write their default files here
    seed = storm_seed()
    app = GRUApp(TrainConfig.default(epochs=100_000))
    async with app.run_test(size=SIZE) as pilot:
        await storm(pilot, random.Random(seed), SHORT_STORM_SIZE, BURSTS + (APPLY_WHILE_TRAINING,), seed)
        snap, session = app.shown, app.session
        assert snap.seq == session.snapshot().seq and snap.state == session.state, f"storm seed {seed}"
        assert f"epoch {snap.epoch}/" in status_text(app), f"storm seed {seed}"
        assert app.query_one("#chart", LossChart).snapshot is snap, f"storm seed {seed}"


@pytest.mark.slow
@pytest.mark.storm
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_a_storm_of_every_key_survives(seed, tmp_path, monkeypatch):
    """3,000 keys from a seeded generator (rerun one with -m storm -k 'survives and 3')."""
    monkeypatch.chdir(tmp_path)  # ctrl+s and ctrl+e write their default files here
    app = GRUApp(TrainConfig.default(epochs=100_000))
    async with app.run_test(size=SIZE) as pilot:
        await storm(pilot, random.Random(seed), STORM_SIZE, BURSTS, seed)


async def test_the_overfitting_line_names_b_within_120_columns():
    """The app's remedy (b) was appended after gru_core's advice and cut off at 120 columns:
    the screen said 'restore the best weights, o…' and never which key does it."""
    from gru_core.advice import training_advice

    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        app.session.pause()
        vals = [(100, 2.2), (305, 2.0696)] + [(305 + 60 * k, 2.1 + 0.02 * k) for k in range(1, 19)]
        advice = training_advice([1.0] * 2000, vals, 4.33, 1e-2)
        assert advice and advice.kind == "overfitting"
        app.query_one(StatusBar).snapshot = dataclasses.replace(app.shown, advice=advice)
        await wait_until(pilot, lambda: "b restores the best weights" in screen_text(app), 5, "the remedy")
        line = next(ln for ln in screen_text(app).splitlines() if "overfitting" in ln)
        assert "overfitting: val up 18 checks from 2.070 to 2.460; b restores the best weights" in line
        assert "…" not in line
