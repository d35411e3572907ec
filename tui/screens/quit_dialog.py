"""QuitDialog: q in a browser tab of `gru-tui serve` asks first; the run ends with the tab.

In a terminal q quits at once (the checkpoints are on the user's own disk). In a browser
the tab's process, its model and its folder go when the session ends, and Restart
starts a fresh model: y quits, s saves a checkpoint first (sent as a download), n or
escape goes back.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding

from .question import QuestionDialog


class QuitDialog(QuestionDialog[str]):
    """Answers "quit", "save" or "stay"."""

    BINDINGS = [
        Binding("y", "answer('quit')", "Quit"),
        Binding("s", "answer('save')", "Save first"),
        Binding("n", "answer('stay')", "Stay"),
        Binding("escape", "answer('stay')", "Stay"),
    ]

    def compose(self) -> ComposeResult:
        yield from self.ask(
            "quit", "Quit? This tab's run ends: its model is gone, and Restart starts a new one.",
            "y: quit   s: save a checkpoint instead (a download)   n or escape: stay")
