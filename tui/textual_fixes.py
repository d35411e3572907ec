"""Guards around Textual behaviours that end the app on a key.

OptionList (the command palette's list, a Select's overlay) pages with PageUp/PageDown
from its line map, which is empty until the list has been laid out with a height: a page
key pressed right after ctrl+p, or on a Select whose pane was just hidden, raised
`KeyError: 0` inside Textual and ended the app. Until the list has lines there is
nothing to page through, so the key does nothing. (Textual 8.2.8; its own
`scroll_to_highlight` already guards the same lookup.)
"""

from __future__ import annotations

from textual import work
from textual.await_complete import AwaitComplete
from textual.command import CommandList, CommandPalette
from textual.widgets import Button, Input, OptionList

# The Textual releases these guards, and tui/screens/path_dialog.py's picker (which overrides
# Screen._post_mount), were tested on: each reaches into private methods that any release may
# rename. pyproject.toml pins the same range; tests/tui/test_textual_version.py holds both.
TESTED_TEXTUAL = ("8.2.8", "8.3")  # from, and up to (not including)

_move_page = OptionList._move_page


def _move_page_when_laid_out(self: OptionList, direction: int) -> None:
    if (self.highlighted or 0) not in self._index_to_line:
        return  # not laid out yet: no page to move by
    _move_page(self, direction)


def apply() -> None:
    """Install the guard (idempotent)."""
    OptionList._move_page = _move_page_when_laid_out  # type: ignore[method-assign]
    apply_palette_fix()


def _gather_while_open(body):
    """The palette's search worker, starting only while the palette still has its list: ctrl+p
    then escape in one burst ran the worker after the list was gone (NoMatches ended the app)."""

    @work(exclusive=True, group=CommandPalette._GATHER_COMMANDS_GROUP)
    async def gather(self: CommandPalette, search_value: str) -> None:
        if not self.is_attached or not self.query(CommandList):
            return
        await body(self, search_value)

    return gather


# A pick (Enter on a hit) the palette receives once Escape has closed it: Enter then Escape
# in one burst queued the list's OptionSelected behind the close, and the closed palette's
# dismiss popped the screen under it (the app's own: ScreenStackError, the app ended; key
# storm seed 1). Escape came last, so it wins: the pick is dropped and runs no command.
_PICKS = (OptionList.OptionSelected, Input.Submitted, Button.Pressed)
_palette_on_message = CommandPalette._on_message
_palette_dismiss = CommandPalette.dismiss


async def _on_message_while_open(self: CommandPalette, message) -> None:  # noqa: ANN001
    if isinstance(message, _PICKS) and self.app.screen is not self:
        return
    await _palette_on_message(self, message)


def _dismiss_once(self: CommandPalette, result=None):  # noqa: ANN001, ANN202 - Screen.dismiss's
    if self.app.screen is not self:  # closed already: popping now would pop another screen
        return AwaitComplete.nothing()
    return _palette_dismiss(self, result)


# The palette's watchers of its "list shown" and "busy" flags query its list. A search still
# gathering when the palette closes (a closing screen loses its widgets first, its workers
# after) set the flags then, and NoMatches ended the app (key storm seeds 26 and 29).
def _while_listed(watch):
    def watcher(self: CommandPalette):  # noqa: ANN202 - a watcher's return, sync or async
        if not self.query(CommandList):
            return None
        return watch(self)

    return watcher


def apply_palette_fix() -> None:
    if not getattr(CommandPalette._gather_commands, "_gru_guarded", False):
        CommandPalette._gather_commands = _gather_while_open(CommandPalette._gather_commands.__wrapped__)
        CommandPalette._gather_commands._gru_guarded = True
        CommandPalette._on_message = _on_message_while_open  # type: ignore[method-assign]
        CommandPalette.dismiss = _dismiss_once  # type: ignore[method-assign]
        CommandPalette._watch__list_visible = _while_listed(CommandPalette._watch__list_visible)
        CommandPalette._watch__show_busy = _while_listed(CommandPalette._watch__show_busy)
