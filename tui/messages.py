"""The app's messages: what thread workers post back to the UI thread, in one place.

A worker never touches a widget: it posts one of these, and a handler on GRUApp (or its
SampleActions) draws it. SampleProgress replaces an older one not yet handled, so a slow
screen never queues stale progress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from .widgets.unit_view import Reading


class LoadingProgress(Message):
    """How loading a large --file goes (its config_loader's progress), for the status line."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what


class ConfigApplied(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class FileDone(Message):
    """A save, load or export finished: what to tell the user."""

    def __init__(self, message: str, error: bool = False, files: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.message, self.error = message, error
        self.files = files  # written on this machine; a browser user is sent them too


class PrimeSampled(Message):
    def __init__(self, text: str = "", error: str = "", reading: Reading | None = None) -> None:
        super().__init__()
        self.text, self.error, self.reading = text, error, reading


class SampleProgress(Message):
    """The characters of a sample drawn so far; a newer one replaces an older one not yet handled."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SampleProgress)


class UnitsRead(Message):
    def __init__(self, reading: Reading) -> None:
        super().__init__()
        self.reading = reading
