"""End to end: the installed `gru-tui` in a real terminal (tmux), read with capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TMUX = shutil.which("tmux")
# not passed to the app in tmux: the outer tmux's own, and the size xdist's workers set
# (COLUMNS=80, LINES=24), which Textual takes over the pane's 120x40
NOT_PASSED = ("TMUX", "TMUX_PANE", "COLUMNS", "LINES")
# The script installed beside this interpreter (a venv need not be on PATH), else PATH's.
_BESIDE = os.path.join(os.path.dirname(sys.executable), "gru-tui")
GRU_TUI = _BESIDE if os.access(_BESIDE, os.X_OK) else shutil.which("gru-tui")


def tmux(*args: str) -> str:
    return subprocess.run([TMUX, *args], capture_output=True, text=True, timeout=20).stdout


class Pane:
    def __init__(self, name: str) -> None:
        self.name = name

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        tmux("send-keys", "-t", self.name, *keys)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen}")
            time.sleep(0.1)  # polling the terminal, not waiting for a thread

    def command(self) -> str:
        """What runs in the pane now: gru-tui's python, or the `sleep` after it."""
        return tmux("display-message", "-p", "-t", self.name, "#{pane_current_command}").strip()


def prime_field_has_keys(screen: str) -> bool:
    """The footer shows the prime field's keys, not the app's: the field has the keyboard.

    Not "space Train is gone": while training runs the footer says "space Pause", and a
    footer not yet redrawn after a pause let text be typed before / had moved the focus.
    """
    footer = screen.rstrip().splitlines()[-1] if screen.strip() else ""
    return footer.lstrip().startswith("/ Prime") and "q Quit" not in footer


def status_line(screen: str) -> str:
    return screen.splitlines()[0] if screen else ""


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)")
@pytest.mark.skipif(GRU_TUI is None, reason="the gru-tui script is not installed: pip install -e .")
def test_gru_tui_trains_steps_samples_and_quits_in_a_terminal():
    name = f"gru-e2e-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
    subprocess.run(
        [TMUX, "new-session", "-d", "-s", name, "-x", "120", "-y", "40",
         f"{GRU_TUI} --preset article --epochs 100000; sleep 30"],
        check=True, env=env, timeout=20,
    )
    pane = Pane(name)
    try:
        screen = pane.wait_for(lambda s: " idle " in status_line(s) and "0.7565 -0.3472" in s, 90,
                               "the app to load torch and show the article's first hidden state")
        assert "t = 1 of 3" in screen

        pane.keys("Space")
        pane.wait_for(lambda s: " training " in status_line(s), 20, "training to start")
        pane.keys("Space")
        screen = pane.wait_for(lambda s: " paused " in status_line(s), 20, "training to pause")
        steps = int(status_line(screen).split("step ")[1].split()[0])
        assert steps > 0

        pane.keys("n")
        pane.wait_for(lambda s: f"step {steps + 1} " in status_line(s), 20, "one more step")

        pane.keys("/")
        pane.wait_for(prime_field_has_keys, 20, "the prime field to take keys")
        pane.keys("-l", "Ma")
        pane.wait_for(lambda s: "prime Ma" in s, 20, "the prime typed")
        pane.keys("Enter")
        screen = pane.wait_for(lambda s: "(T=1)" in s, 20, "a sample from the prime 'Ma'")
        lines = screen.splitlines()
        prime_row = next(k for k, line in enumerate(lines) if "prime Ma" in line)
        assert "│Ma" in lines[prime_row + 1]  # the sample starts with the prime
        assert "unknown" not in screen

        pane.keys("q")
        t0 = time.monotonic()
        deadline = t0 + 20
        while pane.command() != "sleep":  # gru-tui has exited; the shell went on to `sleep`
            assert time.monotonic() < deadline, f"gru-tui did not quit; the screen:\n{pane.screen()}"
            time.sleep(0.05)
        assert time.monotonic() - t0 < 5
        assert "Traceback" not in pane.screen() and "error" not in pane.screen()
    finally:
        tmux("kill-session", "-t", name)
