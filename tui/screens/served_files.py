"""ServedFiles: ctrl+b in a browser tab of `gru-tui serve`, the files it may open and no others.

A folder browser would show the server's whole disk (`..` and all); this lists the
served folder's files (and the tab's own saves), the wanted suffix first. Enter picks one,
escape cancels.
"""

from __future__ import annotations

import os

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from gru_core.printable import visible

from .. import confine


class ServedFiles(ModalScreen[str | None]):
    """Pick one of `paths` (absolute); the answer is the path, or None."""

    DEFAULT_CSS = """
    ServedFiles {
        align: center middle;
    }
    ServedFiles #served-box {
        width: 70;
        max-width: 95%;
        height: auto;
        max-height: 80%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    ServedFiles #served-list {
        height: auto;
        max-height: 20;
    }
    ServedFiles #served-hint {
        color: $text-muted;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, paths: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.paths = paths
        self.answered = False

    def compose(self) -> ComposeResult:
        root = confine.root() or ""
        with Vertical(id="served-box"):
            yield Static(Text(f"{self.title_text}: the served files"), id="served-title")
            names = [Option(Text(visible(os.path.relpath(p, root) if p.startswith(root) else
                                         os.path.basename(p)))) for p in self.paths]
            yield OptionList(*names, id="served-list", compact=True)
            hint = "Enter: open   escape: cancel" if self.paths else "no files are served; escape: back"
            yield Static(Text(hint), id="served-hint")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#served-list", OptionList))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.answer(self.paths[event.option_index])

    def action_cancel(self) -> None:
        self.answer(None)

    def answer(self, path: str | None) -> None:
        if not self.answered and self.app.screen is self:
            self.answered = True
            self.dismiss(path)
