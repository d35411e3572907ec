"""QuitDialog: q in a browser tab of `gru-tui serve` asks first; the run ends with the tab.

In a terminal q quits at once (the checkpoints are on the user's own disk). In a browser
the tab's process, its model and its folder go when the session ends, and Restart
starts a fresh model: y quits, s saves a checkpoint first (sent as a download), n or
escape goes back.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class QuitDialog(ModalScreen[str]):
    """Answers "quit", "save" or "stay"."""

    DEFAULT_CSS = """
    QuitDialog {
        align: center middle;
    }
    QuitDialog #quit-box {
        width: 70;
        max-width: 95%;
        height: auto;
        border: round $warning;
        background: $surface;
        padding: 0 1;
    }
    QuitDialog #quit-hint {
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("y", "answer('quit')", "Quit"),
        Binding("s", "answer('save')", "Save first"),
        Binding("n", "answer('stay')", "Stay"),
        Binding("escape", "answer('stay')", "Stay"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.answered = False

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box"):
            yield Static(Text("Quit? This tab's run ends: its model is gone, and Restart starts a new one."),
                         id="quit-question")
            yield Static(Text("y: quit   s: save a checkpoint instead (a download)   n or escape: stay"),
                         id="quit-hint")

    def action_answer(self, answer: str) -> None:
        if not self.answered and self.app.screen is self:
            self.answered = True
            self.dismiss(answer)
