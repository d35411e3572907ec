"""Terminal hygiene: nothing reaches the terminal behind the app's back.

Textual draws on stderr (fd 2), so "stderr stays empty" is tested two ways:
- in a real terminal (tmux), through a launcher that gives Textual the terminal and
  points fd 2 (and sys.stderr) at a file: whatever torch, numpy, a C library, a
  warning or a stray print writes outside the app's own drawing lands in that file;
- in a Pilot test (headless), where Textual passes any captured print through to the
  real streams (pytest's capfd sees them), with every warning recorded, while the app
  loads, trains, shows a crash in a worker with its traceback, and quits.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from gru_core import TrainConfig
from gru_core.corpora import load_corpus
from gru_core.trainer import Trainer
from tui.app import GRUApp
from tui.screens.error_details import ErrorDetailsScreen
from tui.widgets.samples import SamplesPane
from tui.widgets.status import StatusBar

from .conftest import wait_ready, wait_rendered, wait_until
from .test_e2e_tmux import NOT_PASSED, prime_field_has_keys

TMUX = shutil.which("tmux")

ROOT = Path(__file__).parents[2]

# fd 2 and sys.stderr go to a file; Textual gets the terminal as sys.__stderr__, where it draws.
LAUNCHER = """
import os, sys
tty = os.dup(2)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.dup2(fd, 2)
os.close(fd)
sys.__stderr__ = os.fdopen(tty, "w", encoding="utf-8")
from tui.cli import main
code = main(sys.argv[2:])
print(f"gru-tui exited {code}", file=sys.__stderr__, flush=True)
sys.exit(code)
"""


def status_line(screen: str) -> str:
    return screen.splitlines()[0] if screen else ""


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)")
def test_nothing_is_written_to_the_terminal_behind_the_app(tmp_path):
    err = tmp_path / "stderr.txt"
    socket = f"gru-hygiene-{uuid.uuid4().hex[:8]}"  # a private tmux server
    tmux = lambda *args: subprocess.run([TMUX, "-L", socket, *args], capture_output=True, text=True,  # noqa: E731
                                        timeout=20).stdout
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    command = shlex.join([sys.executable, str(launcher), str(err), "--corpus", "zen", "--val", "0.1",
                            "--epochs", "100000"])
    subprocess.run([TMUX, "-L", socket, "new-session", "-d", "-s", "app", "-x", "120", "-y", "40",
                    "-c", str(ROOT), f"{command}; sleep 30"], check=True, env=env | {"PYTHONPATH": str(ROOT)},
                   timeout=20)

    def wait_for(predicate, what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = tmux("capture-pane", "-p", "-t", "app")
            if predicate(screen):
                return screen
            assert time.monotonic() < deadline, f"timed out waiting for {what}; the screen:\n{screen}"
            time.sleep(0.1)  # polling the terminal, not waiting for a thread

    try:
        wait_for(lambda s: " idle " in status_line(s), "the app to load torch", 90)
        tmux("send-keys", "-t", "app", "Space")
        wait_for(lambda s: " training " in status_line(s) and "val " in status_line(s),
                 "training past an epoch end (validation measured)")
        tmux("send-keys", "-t", "app", "Space")
        wait_for(lambda s: " paused " in status_line(s), "training to pause")
        tmux("send-keys", "-t", "app", "/")
        wait_for(prime_field_has_keys, "the prime field to take keys")
        tmux("send-keys", "-t", "app", "-l", "M§")
        wait_for(lambda s: "prime M§" in s, "the prime typed")
        tmux("send-keys", "-t", "app", "Enter")
        wait_for(lambda s: "'§' are not in the" in s, "the prime's inline error")
        tmux("send-keys", "-t", "app", "q")
        screen = wait_for(lambda s: "gru-tui exited" in s, "gru-tui to exit", 20)
        assert "gru-tui exited 0" in screen
        for word in ("Warning", "warn", "Traceback", "Error"):
            assert word not in screen, screen
    finally:
        tmux("kill-server")
    assert err.read_text() == ""


async def test_loading_training_and_a_worker_crash_print_nothing(capfd, monkeypatch):
    app = GRUApp(TrainConfig.default(text=load_corpus("zen"), val_fraction=0.1, epochs=1000))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_ready(pilot)
            await pilot.press("e")  # an epoch: training, an epoch-end sample and validation
            await wait_rendered(pilot, lambda s: s.epoch == 1 and s.val_loss is not None)
            await pilot.press("slash")
            app.query_one("#prime", Input).value = "M§"
            await pilot.press("enter")
            pane = app.query_one(SamplesPane)
            await wait_until(pilot, lambda: pane.prime_error, 20, "the prime's error")

            def broken(self):
                raise RuntimeError("boom from a test")

            monkeypatch.setattr(Trainer, "step", broken)
            await pilot.press("n")
            await wait_rendered(pilot, lambda s: s.state == "error")
            assert "RuntimeError: boom from a test" in str(app.query_one(StatusBar).render())
            await pilot.press("d")
            assert isinstance(app.screen, ErrorDetailsScreen)
            assert "Traceback" in str(app.screen.query_one("#error-detail", Static).render())
            await pilot.press("escape")
            monkeypatch.undo()
            await pilot.press("r", "n")
            await wait_rendered(pilot, lambda s: s.state == "paused" and s.step == 1)
            await pilot.press("q")
    out, err = capfd.readouterr()
    assert err == "" and out == ""
    shown = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]
    assert shown == []
