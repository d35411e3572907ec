"""SamplesPane: the sample taken at each epoch end, and a prime to sample from on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

if TYPE_CHECKING:
    from gru_core.session import Snapshot

SHOWN_SAMPLES = 40  # newest epoch-end samples kept on screen


class SamplesPane(Vertical):
    """Epoch-end samples above; a prime input, its error and its sample below."""

    COMPONENT_CLASSES = {"samples--epoch"}

    class SampleRequested(Message):
        """The user typed a prime and pressed Enter."""

        def __init__(self, prime: str) -> None:
            super().__init__()
            self.prime = prime

    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True)
    temperature: reactive[float] = reactive(1.0)
    result: reactive[str] = reactive("")  # the last prime sample
    prime_error: reactive[str] = reactive("")  # why the last prime could not be used

    def compose(self) -> ComposeResult:
        yield Static("", id="samples-log")
        with Horizontal(id="prime-row"):
            yield Label("prime", id="prime-label")
            yield Input(placeholder="/ prime, Enter", id="prime", compact=True)
            yield Static("", id="temperature")
        yield Static("", id="prime-error")
        yield Static("", id="prime-result")

    def on_mount(self) -> None:
        self.watch_temperature()
        self.watch_prime_error()

    def watch_snapshot(self) -> None:
        snap = self.snapshot
        log = self.query_one("#samples-log", Static)
        if snap is None:
            log.update(Text("samples appear at each epoch end", "dim"))
            return
        fits = log.size.height or SHOWN_SAMPLES
        samples = snap.samples[-min(fits, SHOWN_SAMPLES):]
        if not samples:
            log.update(Text(f"samples appear at each epoch end (prime {snap.config.prime!r})", "dim"))
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        for k, s in enumerate(samples):
            text.append(f"epoch {s.epoch:>4}  ", "dim")
            text.append(s.text.replace("\n", "⏎"))
            if k < len(samples) - 1:
                text.append("\n")
        log.update(text)

    def watch_temperature(self) -> None:
        value = "argmax" if self.temperature == 0 else f"{self.temperature:g}"
        self.query_one("#temperature", Static).update(f" temperature {value} (t/T)")

    def watch_result(self) -> None:
        self.query_one("#prime-result", Static).update(Text(self.result.replace("\n", "⏎")))

    def watch_prime_error(self) -> None:
        error = self.query_one("#prime-error", Static)
        error.update(self.prime_error)
        error.display = bool(self.prime_error)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "prime":
            return
        event.stop()
        self.screen.set_focus(None)  # keys typed next go to the app again (q quits, space trains)
        self.post_message(self.SampleRequested(event.value))
