"""ErrorDetailsScreen (`d` while an error shows): the error's message and its traceback.

The status line carries one line of the error; a fault raised by a bug (not a user's
mistake) also has a traceback (Snapshot.error_detail, or a failed app worker's). It is
shown here, inside the app, never on the terminal behind it.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from gru_core.printable import visible

from ..keys import key_for

NO_TRACEBACK = ("no traceback: a check caught this (not a crash); the message above says "
                "what happened and what to try")


class ErrorDetailsScreen(ModalScreen[None]):
    """The last error in full; escape, d or q closes it."""

    DEFAULT_CSS = """
    ErrorDetailsScreen {
        align: center middle;
    }
    ErrorDetailsScreen #error-box {
        width: 90%;
        max-width: 120;
        height: 90%;
        border: round $error;
        background: $surface;
        padding: 0 1;
    }
    ErrorDetailsScreen #error-message {
        color: $error;
        text-style: bold;
        height: auto;
        margin-bottom: 1;
    }
    ErrorDetailsScreen #error-traceback {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("d", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, message: str, detail: str | None) -> None:
        super().__init__()
        self.message = message
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box"):
            hint = f"error details  (escape closes; {key_for('reset')} resets the model)"
            yield Static(Text(hint, style="dim"))
            yield Static(Text(visible(self.message)), id="error-message")
            with VerticalScroll(id="error-traceback"):
                yield Static(Text(visible(self.detail or NO_TRACEBACK, keep_newlines=True), no_wrap=True),
                             id="error-detail")

    def on_mount(self) -> None:
        self.query_one("#error-box").border_title = "error"
