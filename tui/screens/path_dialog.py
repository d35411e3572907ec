"""PathDialog: a small modal that asks for a file path (save, load, export).

Enter returns the path typed (stripped, `~` expanded); escape returns None. An empty
path is refused in place, so the caller never gets "". ctrl+b (or the Browse… button)
opens textual-fspicker's FileOpen or FileSave in the typed path's folder; a file picked
there is the answer, as if typed. ReplaceDialog asks before a save replaces a file that is
already there.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from gru_core.errors import GRUError
from gru_core.printable import visible

from .. import confine
from ..keys import BROWSE_KEY
from .question import QuestionDialog

DEFAULT_HINT = f"Enter: OK   {BROWSE_KEY}: browse   escape: cancel"


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
    PathDialog #path-row {
        height: 1;
    }
    PathDialog #path-input {
        width: 1fr;
    }
    PathDialog #path-browse {
        margin-left: 1;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding(BROWSE_KEY, "browse", "Browse")]

    def __init__(self, title: str, default: str, hint: str = DEFAULT_HINT,
                 *, browse: str = "save", suffix: str = "",
                 check: Callable[[str], str] | None = None) -> None:
        """browse: "open" (the file must exist) or "save" picks the picker; suffix (".ckpt")
        filters what it lists first. check, if given, turns the path typed into the one
        answered, or refuses it with a GRUError shown below the field (a browser tab's
        folders: tui/confine.py)."""
        super().__init__()
        self.title_text = title
        self.default = default
        self.hint = hint
        self.browse = browse
        self.suffix = suffix
        self.check = check
        self.answered = False  # dismissed already: a second Enter in the same burst must not pop again

    def compose(self) -> ComposeResult:
        with Vertical(id="path-box"):
            yield Static(Text(self.title_text), id="path-title")  # wraps: a long title is not cut
            with Horizontal(id="path-row"):
                yield Input(value=self.default, id="path-input", compact=True)
                yield Button("Browse…", id="path-browse", compact=True)
            yield Static("", id="path-error")
            yield Static(Text(self.hint), id="path-hint")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#path-input", Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.answered:
            return
        path = event.value.strip()
        if not path:
            self.query_one("#path-error", Static).update("type a file path, or escape to cancel")
            return
        self.answer_checked(os.path.expanduser(path))

    def answer_checked(self, path: str) -> None:
        """Answer `path` as `check` turns it; a refused one is one line under the field."""
        if self.check is not None:
            try:
                path = self.check(path)
            except GRUError as exc:
                self.query_one("#path-error", Static).update(Text(visible(str(exc))))
                return
        self.answer(path)

    def action_cancel(self) -> None:
        self.answer(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "path-browse":
            event.stop()
            self.action_browse()

    def action_browse(self) -> None:
        """textual-fspicker's dialog, in the typed path's folder with its name filled in; in a
        browser tab, the list of files it may open (nothing outside them is shown)."""
        if confine.serving():
            self.browse_served()
            return
        from textual_fspicker import FileOpen, FileSave, Filters

        typed = os.path.expanduser(self.query_one("#path-input", Input).value.strip())
        folder, name = os.path.split(typed)
        folder = folder or "."
        if not os.path.isdir(folder):
            folder, name = ".", ""
        filters = None
        if self.suffix:
            filters = Filters((f"{self.suffix} files", lambda p: p.suffix == self.suffix),
                              ("all files", lambda p: True))
        kind = _once(FileOpen if self.browse == "open" else FileSave)
        picker = kind(folder, self.title_text, filters=filters, default_file=name or None)

        self.app.push_screen(picker, self.picked)

    def picked(self, path: object) -> None:
        if path is not None:
            self.query_one("#path-input", Input).value = str(path)
            self.answer_checked(str(path))

    def browse_served(self) -> None:
        if self.browse != "open":
            self.query_one("#path-error", Static).update(
                "in a browser, a file is sent to you as a download: type a file name only")
            return
        from .served_files import ServedFiles

        self.app.push_screen(ServedFiles(self.title_text, confine.files_to_open(self.suffix)), self.picked)

    def answer(self, path: str | None) -> None:
        # Only while on top: a dismiss pops the top screen, whichever it is. Enter then ctrl+b
        # in one burst answered under the just-pushed picker and popped it mid-mount (its
        # Mount handler found its widgets gone: NoMatches ended the app, key storm seed 15).
        # The picker the user asked for stays and answers for the dialog.
        if not self.answered and self.app.screen is self:
            self.answered = True
            self.dismiss(path)


class ReplaceDialog(QuestionDialog[bool]):
    """A file is already at the path: y replaces it, n or escape keeps it.

    Enter does not answer: a second Enter typed in the same burst as the path's must not
    replace a file the user never saw named.
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Replace"),
        Binding("n", "answer(False)", "Keep"),
        Binding("escape", "answer(False)", "Keep"),
    ]

    def __init__(self, path: str, *more: str) -> None:
        """One question for every file a save would replace (an export writes two)."""
        super().__init__()
        self.path = path
        self.paths = (path, *more)

    def compose(self) -> ComposeResult:
        names = " and ".join(visible(p) for p in self.paths)
        exists, it = ("exists", "it") if len(self.paths) == 1 else ("exist", "them")
        yield from self.ask("replace", f"{names} already {exists}: replace {it}?",
                            f"y: replace {it}   n or escape: keep {it} (nothing is saved)")


def _once(picker: type) -> type:
    """The picker, answering once: Enter pressed twice in a row reached the picker's confirm
    twice, and its second dismiss popped the screen under it (the path dialog, then the
    app's own screen: ScreenStackError, the app gone; the key-storm test found it).

    A dismiss that comes before the picker has mounted waits for the mount: ctrl+b then
    escape in one burst removed the picker while its widgets were mounting, and their Mount
    handlers (the picker's queries its DirectoryNavigation, the filter Select's its overlay)
    found them gone; NoMatches ended the app (key storm seed 4, in CI, twice)."""

    from textual.await_complete import AwaitComplete

    class Once(picker):  # type: ignore[misc, valid-type]
        _gru_answered = False
        _gru_pending: tuple | None = None

        def _post_mount(self) -> None:
            super()._post_mount()
            # every composed widget has mounted by now (each mount_all awaited its children)
            if self._gru_pending is not None:
                self.call_next(self._gru_dismiss_pending)

        def _gru_dismiss_pending(self) -> None:
            (result,) = self._gru_pending
            if self.app.screen is self:
                super().dismiss(result)

        def dismiss(self, result=None):  # noqa: ANN001, ANN202 - Screen.dismiss's signature
            if self._gru_answered or self.app.screen is not self:
                return AwaitComplete.nothing()
            self._gru_answered = True
            if not self.is_mounted:
                self._gru_pending = (result,)
                return AwaitComplete.nothing()
            return super().dismiss(result)

    Once.__name__ = Once.__qualname__ = picker.__name__
    return Once
