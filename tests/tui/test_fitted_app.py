"""The app on real text: the best weights restored with b, what the status line says."""

from __future__ import annotations

import argparse
import difflib
import inspect
import os
import textwrap
from pathlib import Path

import pytest
from textual.widgets import Input

from gru_core import TrainConfig
from gru_core.cli import config_from_args
from gru_core.corpora import load_corpus
from tui.app import GRUApp
from tui.screens.path_dialog import PathDialog
from tui.widgets.config_form import ConfigForm
from tui.widgets.status import StatusBar

from .conftest import screen_text, wait_ready, wait_rendered, wait_until

SIZE = (140, 40)


def status_text(app: GRUApp) -> str:
    return str(app.query_one(StatusBar).render())


async def test_b_restores_the_best_weights_and_the_status_line_says_so():
    text = load_corpus("stdlib")[:8000]
    app = GRUApp(TrainConfig.for_text(text, hidden_size=16, seq_len=16, batch_size=8))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.check_action("restore_best", ()) is None  # nothing validated yet: b is disabled
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused" and s.best_val is not None)
        best = app.shown.best_val
        await wait_until(pilot, lambda: f"best {best:.4f} @" in status_text(app), what="the best val")
        await pilot.press("b")
        await wait_until(pilot, lambda: f"restored the best weights: val {best:.4f}" in status_text(app),
                         what="the restore note")


# ------------------------------------------------------------------ the fitted line in the config pane
GPL3 = "/usr/share/common-licenses/GPL-3"
needs_gpl3 = pytest.mark.skipif(not os.path.isfile(GPL3), reason="Debian's licence texts are not installed")


def app_for(argv: list[str]) -> GRUApp:
    """The app `gru-tui argv` opens (the same flag parsing; no terminal needed)."""
    from tui.launch import make_parser

    return GRUApp(config_from_args(make_parser().parse_args(argv)))


def config_rows(app: GRUApp) -> list[str]:
    """The config pane's rows as the screen shows them (its left 30 columns, inside the border)."""
    return [row[1:29].strip() for row in screen_text(app).splitlines()[2:]]


def fitted_rows(app: GRUApp) -> list[str]:
    """config_rows with the fitted line brought into view first: Apply's outcome scrolls into
    view below it, sometimes after the new run is drawn (the next poll reads the scrolled rows)."""
    app.query_one("#cfg-fitted").scroll_visible(animate=False, immediate=True)
    return config_rows(app)


async def apply_form(pilot, **typed: str) -> None:
    app = pilot.app
    for name, value in typed.items():
        app.query_one(f"#cfg-{name}", Input).value = value
    run = app.shown.run_id
    app.query_one("#cfg-apply").scroll_visible(animate=False, immediate=True)
    await pilot.pause()
    await pilot.click("#cfg-apply")
    await wait_rendered(pilot, lambda s: s.run_id > run)
    app.query_one("#cfg-preset").scroll_visible(animate=False, immediate=True)
    await pilot.pause()


@needs_gpl3
@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_config_pane_says_the_settings_were_fitted_to_the_file(size):
    app = app_for(["--file", GPL3])
    async with app.run_test(size=size) as pilot:
        await wait_ready(pilot)
        if size[0] < 100:
            await pilot.press("c")  # narrow: the config pane shows on c
            await wait_until(pilot, lambda: app.query_one(ConfigForm).display, what="the config pane")
            await pilot.pause()
        rows = config_rows(app)
        assert "fitted: 35k chars, V 76" in rows  # whole, on one row of the pane
        assert rows[rows.index("fitted: 35k chars, V 76") - 1].startswith("fitted")  # under the preset
        tip = str(app.query_one("#cfg-fitted").tooltip)
        assert tip.startswith("fitted to 35,149 chars (V 76): H 128, T 32, B 16, adam 1e-2, val 10%\n")


@needs_gpl3
async def test_after_apply_the_line_says_which_settings_are_yours():
    app = app_for(["--file", GPL3])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await apply_form(pilot, hidden_size="64", lr="0.02")
        await wait_until(pilot, lambda: "fitted; yours: H, lr" in fitted_rows(app),
                         what="the edited knobs on the fitted line")
        tip = str(app.query_one("#cfg-fitted").tooltip)
        assert "H 64, T 32, B 16, adam 2e-2, val 10%; yours: H, lr" in tip
        await apply_form(pilot, hidden_size="128", lr="0.01")  # the fitted values again: fitted
        # Apply's outcome scrolls into view below: the fitted line is at the form's top
        await wait_until(pilot, lambda: app.shown.config.hidden_size == 128, 30, "the new run")
        await wait_until(pilot, lambda: "fitted: 35k chars, V 76" in fitted_rows(app), 30, "fitted again")


async def test_a_new_file_on_fitted_settings_is_fitted_to_but_your_knobs_stay(tmp_path):
    source = Path(textwrap.__file__).read_text()  # a stdlib module: a text no one here wrote
    app = app_for(["--file", textwrap.__file__])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        n = len(source)
        assert any(row.startswith(f"fitted: {round(n / 1000)}k chars") for row in config_rows(app))
        other = tmp_path / "short.py"
        other.write_text(source[:9000])
        await apply_form(pilot, file=str(other), seq_len="16", hidden_size="64")
        config = app.shown.config
        assert (config.hidden_size, config.seq_len, config.text) == (64, 16, source[:9000])
        assert "H 64, T 16, B 16, adam 1e-2" in config.fitted  # lr follows your H
        await wait_until(pilot, lambda: "fitted; yours: H, T" in fitted_rows(app),
                         what="the line fitted to the new file")


# ------------------------------------------------------------------ ctrl+s says which weights it saved
async def save_message(pilot, path: str) -> str:
    app = pilot.app
    app.file_message = ""
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the save dialog")
    app.screen.query_one("#path-input", Input).value = path
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.file_message.startswith("saved"), what="the saved message")
    return app.file_message


async def test_ctrl_s_says_whether_it_saved_the_current_or_the_best_weights(tmp_path):
    text = load_corpus("stdlib")[:8000]
    app = GRUApp(TrainConfig.for_text(text, hidden_size=16, seq_len=16, batch_size=8))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")  # one epoch: validation at its end keeps the best weights
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused" and s.best_val is not None)
        end, best = app.shown.step, app.shown.best_val
        path = str(tmp_path / "best-now.ckpt")
        assert await save_message(pilot, path) == (
            f"saved checkpoint to {path}: the current weights of step {end}, "
            f"the best so far (val {best:.4f})")
        await pilot.press("n", "n")
        await wait_rendered(pilot, lambda s: s.step == end + 2)
        path = str(tmp_path / "later.ckpt")
        assert await save_message(pilot, path) == (
            f"saved checkpoint to {path}: the current weights of step {end + 2}; the best (val {best:.4f} "
            f"at step {end}) are not in the file: b restores them, then ctrl+s saves them")
        await pilot.press("b")
        await wait_until(pilot, lambda: "restored the best weights" in status_text(app), what="the restore")
        path = str(tmp_path / "restored.ckpt")
        assert await save_message(pilot, path) == (
            f"saved checkpoint to {path}: the best weights, val {best:.4f} from step {end} "
            f"(restored; the run is at step {end + 2})")
        assert path in "".join(n.message for n in app._notifications)  # the toast says it too


# ------------------------------------------------------------------ a large file loads in the app
def stdlib_text(at_least: int) -> str:
    """Standard library sources, one after another and repeated: a text every machine has."""
    sources = [Path(m.__file__).read_text() for m in (argparse, difflib, inspect, textwrap)]
    text = "\n".join(sources)
    return text * (at_least // len(text) + 1)


async def test_a_large_file_loads_after_the_first_frame_with_its_progress_shown(tmp_path):
    from tui.launch import LOAD_IN_APP_BYTES, make_app
    from tui.messages import LoadingProgress

    path = tmp_path / "big.txt"
    path.write_text(stdlib_text(LOAD_IN_APP_BYTES + (1 << 20)))
    n = len(path.read_text())
    heard: list[str] = []

    def hear(message) -> None:
        if isinstance(message, LoadingProgress):
            heard.append(message.what)

    app = make_app(["--file", str(path)])
    async with app.run_test(size=(120, 40), message_hook=hear) as pilot:
        await wait_ready(pilot)
        assert app.shown.config.text == path.read_text() and app.shown.config.preset == "fitted"
        await wait_until(pilot, lambda: any(row.startswith("fitted: 5.") for row in config_rows(app)),
                         what="the fitted line")
    # What the status line was told, in order (a fast machine reads 5 MB before a frame
    # could be captured, so the frames themselves are not the check):
    assert heard[0] == "loading the text…" and "reading big.txt: 100% of 5." in " | ".join(heard)
    assert f"fitting the settings to {n:,} characters" in heard and heard[-1] == "loading torch…"


async def test_a_large_file_that_is_not_text_says_so_in_the_status_line(tmp_path):
    from tui.launch import LOAD_IN_APP_BYTES, make_app

    path = tmp_path / "big.bin"
    path.write_bytes(b"a" * LOAD_IN_APP_BYTES + b"\xff\xfe" + b"b" * 1000)
    app = make_app(["--file", str(path)])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "not valid UTF-8" in status_text(app), what="the refusal")
        assert "error" in status_text(app) and f"byte offset {LOAD_IN_APP_BYTES}" in status_text(app)
