"""PathDialog: a small modal that asks for a file path (save, load, export).

Enter returns the path typed (stripped, `~` expanded); escape returns None. An empty
path is refused in place, so the caller never gets "".
"""

from __future__ import annotations

import os

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class PathDialog(ModalScreen[str | None]):
    """Ask for a path: `title` above the field, `hint` below it."""

    DEFAULT_CSS = """
    PathDialog {
        align: center middle;
    }
    PathDialog #path-box {
        width: 70;
        max-width: 95%;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    PathDialog #path-hint {
        color: $text-muted;
    }
    PathDialog #path-error {
        color: $error;
        height: auto;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, default: str, hint: str = "Enter: OK   escape: cancel") -> None:
        super().__init__()
        self.title_text = title
        self.default = default
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="path-box"):
            yield Label(self.title_text, id="path-title")
            yield Input(value=self.default, id="path-input", compact=True)
            yield Static("", id="path-error")
            yield Static(self.hint, id="path-hint")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#path-input", Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = event.value.strip()
        if not path:
            self.query_one("#path-error", Static).update("type a file path, or escape to cancel")
            return
        self.dismiss(os.path.expanduser(path))

    def action_cancel(self) -> None:
        self.dismiss(None)
