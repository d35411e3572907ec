"""The terminal after gru-tui: as it found it, whatever ends the app and whatever the text holds.

In tmux: the pane's modes (alternate screen, cursor, mouse reporting, keypad, wrap), its
title and the tty's settings (`stty -g`, raw mode) are read before and after. A signal
(SIGTERM, SIGHUP; SIGINT, issue 26) quits like q (issue 17); a text full of control sequences shows as
symbols and never reaches the terminal as commands (issue 16).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from .test_e2e_tmux import GRU_TUI, NOT_PASSED, TMUX, Pane, prime_field_has_keys, status_line, tmux

pytestmark = [
    pytest.mark.e2e, pytest.mark.slow,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)"),
    pytest.mark.skipif(GRU_TUI is None, reason="the gru-tui script is not installed: pip install -e ."),
]

MODES = "#{alternate_on}|#{cursor_flag}|#{mouse_any_flag}|#{mouse_sgr_flag}|#{mouse_all_flag}|" \
        "#{mouse_button_flag}|#{mouse_standard_flag}|#{keypad_flag}|#{keypad_cursor_flag}|#{insert_flag}|" \
        "#{wrap_flag}|#{origin_flag}|#{pane_title}"
HOSTILE = ("ab\x1b]2;pwned\x07cd\x1b]0;pwned2\x1b\\ef\x1b[?1049l\x1b[?25l\x1b[?1000h\x1b[31m"
           "\x9b0m\x9d2;c1\x9c\u202eevil\u202c\x07\x0e gh ")


class Run:
    """gru-tui in a fresh tmux pane; the shell records the tty's settings and the exit status."""

    def __init__(self, tmp_path: Path, args: str) -> None:
        self.dir = tmp_path
        self.name = f"gru-term-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
        script = (f"cd {tmp_path}; stty -g > before; {GRU_TUI} {args}; echo $? > status; "
                  f"stty -g > after.part; mv after.part after; sleep 60")  # `after` appears whole, not empty
        subprocess.run([TMUX, "new-session", "-d", "-s", self.name, "-x", "120", "-y", "40",
                        "sh", "-c", script], check=True, env=env, timeout=20)
        self.pane = Pane(self.name)
        self.modes_before = self.modes()

    def modes(self) -> str:
        return tmux("display-message", "-p", "-t", self.name, MODES).strip()

    def app_pid(self) -> int:
        shell = int(tmux("display-message", "-p", "-t", self.name, "#{pane_pid}"))
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        return int(children[0])

    def wait_exit(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while not (self.dir / "after").exists():
            assert time.monotonic() < deadline, f"gru-tui did not exit; the screen:\n{self.pane.screen()}"
            time.sleep(0.05)  # polling the shell's file, not a thread
        return int((self.dir / "status").read_text())

    def assert_terminal_as_found(self) -> None:
        assert (self.dir / "after").read_text() == (self.dir / "before").read_text()  # raw mode off
        assert self.modes() == self.modes_before  # main screen, cursor shown, no mouse reporting, title

    def close(self) -> None:
        tmux("kill-session", "-t", self.name)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_while_training_quits_and_puts_the_terminal_back(tmp_path, sig):
    run = Run(tmp_path, "--epochs 100000")
    try:
        run.pane.wait_for(lambda s: " idle " in status_line(s), 90, "the app to load torch")
        assert run.modes() != run.modes_before  # the app did change the terminal (alternate screen…)
        run.pane.keys("Space")
        run.pane.wait_for(lambda s: " training " in status_line(s), 20, "training to start")
        os.kill(run.app_pid(), sig)
        assert run.wait_exit() == 128 + sig
        run.assert_terminal_as_found()
        assert "Traceback" not in run.pane.screen()
    finally:
        run.close()


def test_a_text_full_of_control_sequences_leaves_the_terminal_as_it_was(tmp_path):
    """Title, colours, modes: the text shows in the app (as symbols) and drives nothing."""
    (tmp_path / "hostile.txt").write_text(HOSTILE * 8)
    run = Run(tmp_path, f"--text \"$(cat {tmp_path / 'hostile.txt'})\" --epochs 100000")
    try:
        run.pane.wait_for(lambda s: " idle " in status_line(s), 90, "the app to load torch")
        during = run.modes()
        run.pane.keys("e")  # an epoch: its sample is drawn from the hostile vocabulary
        run.pane.wait_for(lambda s: "epoch    1" in s, 60, "the epoch's sample")
        run.pane.keys("/")
        run.pane.wait_for(prime_field_has_keys, 20, "the prime field to take keys")
        run.pane.keys("-l", "ab")
        run.pane.wait_for(lambda s: "prime ab" in s, 20, "the prime typed")
        run.pane.keys("Enter")
        screen = run.pane.wait_for(lambda s: "(T=1)" in s, 30, "a sample from the prime")
        assert "␛]2;pwned␇" in screen  # the text field shows the text, its controls as symbols
        assert run.modes() == during  # nothing in the text switched a mode or set the title
        assert "pwned" not in run.modes()
        run.pane.keys("q")
        assert run.wait_exit() == 0
        run.assert_terminal_as_found()
    finally:
        run.close()


def test_without_a_terminal_gru_tui_says_so_in_one_line():
    """stdin and stdout not a tty (a pipe, a cron job): it ran forever, drawing to nowhere."""
    try:
        out = subprocess.run([GRU_TUI], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("gru-tui without a terminal did not exit within 30 s")
    assert out.returncode == 2
    assert out.stderr.startswith("gru-tui: error: the app needs a terminal") and out.stderr.count("\n") == 1
    assert out.stdout == ""
