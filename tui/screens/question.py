"""QuestionDialog: a one-line question answered by its keys (y / n / escape …).

The quit dialog of a browser tab and the replace-a-file dialog are one of these: the
same box, the same hint line under the question, and the same rule that the first answer
wins (a key typed twice in one burst must not dismiss the screen under the dialog).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

Answer = TypeVar("Answer")


class QuestionDialog(ModalScreen[Answer], Generic[Answer]):
    """A subclass gives BINDINGS that run `answer(...)`, and composes with `ask`."""

    DEFAULT_CSS = """
    QuestionDialog {
        align: center middle;
    }
    QuestionDialog .question-box {
        width: 70;
        max-width: 95%;
        height: auto;
        border: round $warning;
        background: $surface;
        padding: 0 1;
    }
    QuestionDialog .question-hint {
        color: $text-muted;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.answered = False

    def ask(self, name: str, question: str, hint: str) -> ComposeResult:
        """The box `#{name}-box` with `#{name}-question` and, under it, `#{name}-hint`."""
        with Vertical(id=f"{name}-box", classes="question-box"):
            yield Static(Text(question), id=f"{name}-question")
            yield Static(Text(hint), id=f"{name}-hint", classes="question-hint")

    def action_answer(self, answer: Answer) -> None:
        if not self.answered and self.app.screen is self:
            self.answered = True
            self.dismiss(answer)
