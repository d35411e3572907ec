"""SamplesPane: the sample taken at each check (about 4 an epoch and at its end), and a prime
to sample from on demand.

The epoch samples scroll (PageUp/PageDown, the wheel), the newest last and in view
unless scrolled back; a sample's newlines are new lines, indented under its text
(SamplesLog: a new sample costs no layout pass).
A new run (reset, Apply, a loaded checkpoint) clears the prime's sample and the unit
view: they described the old model.

The prime's sample streams in character by character, then is shown coloured by a
UnitView (confidence, or one hidden unit's activation); `v` shows the same view over a
stretch of the validation text instead. Length, top-k and temperature are set by keys
(`<`/`>`, `k`/`K`, `t`/`T`) and shown on the settings line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

from gru_core.formatting import chars_quoted, fixed, setting
from gru_core.printable import visible

from ..keys import key_for
from ..render.throttle import RedrawThrottle
from .samples_log import SamplesLog
from .unit_view import Reading, UnitView

if TYPE_CHECKING:
    from gru_core.session import Snapshot

LOG_REDRAW_S = 2.0  # while training runs, new samples reach the log at most this often
SHOWN_SAMPLES = 100  # newest epoch-end samples kept in the scrolling log
SAMPLE_LENGTHS = (20, 50, 100, 200, 500, 1000, 2000)
# From the most restrictive to none at all (None, "off": every character may be drawn).
TOP_KS = (1, 2, 3, 5, 10, 20, None)


def top_k_options(vocab_size: int) -> tuple[int | None, ...]:
    """The top-k values worth offering: a k of V or more draws from every character anyway."""
    return tuple(k for k in TOP_KS if k is None or k < vocab_size)


def step_through(options: tuple, now: object, direction: int, default: int = 0) -> object:
    """The option next to `now` in `direction` (clamped at the ends); from options[default]
    when `now` is not one of them."""
    k = options.index(now) if now in options else default % len(options)
    return options[max(0, min(len(options) - 1, k + direction))]


def pack(items: tuple[str, ...], width: int, gap: str = "  ") -> str:
    """items on as few lines of `width` as they fit, each whole: a line breaks between two
    items, never inside one (`top-k` / `off (kK)` read as two settings at 80 columns)."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + len(gap) + len(item) <= width:
            lines[-1] += gap + item
        else:
            lines.append(item)
    return "\n".join(lines)


def epoch_samples_text(samples, width: int | None = None) -> Text:
    """`epoch    3  text`, one sample after another; a newline in a sample starts a new line
    indented under the text, and so does a line longer than `width` (the pane wrapped it to
    column 0, where it read as a sample of its own)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for k, s in enumerate(samples):
        label = f"epoch {s.epoch:>4}  "
        if getattr(s, "val", None) is not None:  # taken within an epoch too: say when, and how good
            label = f"step {s.step} val {fixed(s.val)}  "
        indent = " " * len(label)
        if width is not None and len(label) > width // 3:
            # a long label ("step 1320 val 2.328") beside the text left a narrow pane a
            # dozen columns a line: the label gets its own line and the text the width
            text.append(label.rstrip(), "dim")
            text.append("\n")
            indent = "  "
            text.append(indent)
        else:
            text.append(label, "dim")
        # a control character in the text must not reach the terminal; a newline is a new line
        lines = visible(s.text, keep_newlines=True).split("\n")
        if width is not None:
            room = max(10, width - len(indent))
            lines = [line[i:i + room] for line in lines for i in range(0, max(1, len(line)), room)]
        text.append(("\n" + indent).join(lines))
        if k < len(samples) - 1:
            text.append("\n")
    return text


class SamplesPane(Vertical):
    """Epoch-end samples above; a prime input, its error, the settings and the coloured view below."""

    COMPONENT_CLASSES = {"samples--epoch"}

    class SampleRequested(Message):
        """The user typed a prime and pressed Enter."""

        def __init__(self, prime: str) -> None:
            super().__init__()
            self.prime = prime

    # repaint=False: a new snapshot arrives several times a second; watch_snapshot updates the log itself
    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    temperature: reactive[float] = reactive(1.0)
    sample_len: reactive[int] = reactive(100)
    top_k: reactive[int | None] = reactive(None)
    view: reactive[str] = reactive("sample")  # "sample": the prime's sample; "validation": held-out text
    result: reactive[str] = reactive("")  # the last prime sample, finished, with its temperature
    prime_error: reactive[str] = reactive("")  # why the last prime could not be used

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sample_reading: Reading | None = None
        self._log_throttle = RedrawThrottle(self, self._show_log)
        self.validation_reading: Reading | None = None
        self._log_key: tuple[int, int] | None = None  # (run_id, samples) on screen
        self._log_width: int | None = None  # the width the samples were wrapped to
        self._run_id: int | None = None

    def compose(self) -> ComposeResult:
        yield SamplesLog(id="samples-log")
        with Horizontal(id="prime-row"):
            yield Label("prime", id="prime-label")
            yield Input(placeholder=f"{key_for('focus_prime')} then type, Enter", id="prime", compact=True)
        yield Static("", id="prime-error")
        yield UnitView(id="unit-view")
        yield Static("", id="sample-settings")

    @property
    def unit_view(self) -> UnitView:
        return self.query_one(UnitView)

    def on_mount(self) -> None:
        self.watch_prime_error()
        self._show_settings()

    def watch_snapshot(self, old: Snapshot | None, new: Snapshot | None) -> None:
        if new is not None and new.run_id != self._run_id:
            if self._run_id is not None:
                self.forget_readings()  # they were the old model's
            self._run_id = new.run_id
        if new is not None and (new.run_id, len(new.samples)) == self._log_key:
            return  # several snapshots a second, a new sample far less often
        # While training runs, at most every LOG_REDRAW_S: short epochs end several times
        # a second, faster than anyone reads them.
        self._log_throttle.request(old, new, LOG_REDRAW_S)

    def _show_log(self) -> None:
        self._log_throttle.drawn()
        snap = self.snapshot
        log = self.query_one("#samples-log", SamplesLog)
        if snap is None:
            log.show(Text("samples appear at each check (epoch ends, and within long epochs)", "dim"))
            return
        shown, width = (snap.run_id, len(snap.samples)), log.wrap_width
        if shown == self._log_key and width == self._log_width:
            return
        self._log_key, self._log_width = shown, width
        samples = snap.samples[-SHOWN_SAMPLES:]
        if not samples:
            log.show(Text(f"samples appear at each check (epoch ends, and within long epochs; "
                          f"prime {chars_quoted(snap.config.prime)})", "dim"))
            return
        log.show(epoch_samples_text(samples, width))

    def scroll_samples(self, pages: int) -> None:
        scroll = self.query_one("#samples-log", SamplesLog)
        for _ in range(abs(pages)):
            scroll.scroll_page_up(animate=False) if pages < 0 else scroll.scroll_page_down(animate=False)

    def forget_readings(self) -> None:
        """A new run: the prime's sample and the held-out reading showed the old weights."""
        self.sample_reading = self.validation_reading = None
        self.unit_view.streaming = ""
        self.unit_view.reading = None
        self.prime_error = ""

    def watch_temperature(self) -> None:
        self._show_settings()

    def watch_sample_len(self) -> None:
        self._show_settings()

    def watch_top_k(self) -> None:
        self._show_settings()

    def watch_view(self) -> None:
        self._show_settings()
        self.unit_view.reading = self.validation_reading if self.view == "validation" else self.sample_reading

    def _show_settings(self) -> None:
        settings = self.query("#sample-settings").results(Static)
        top_k = "off" if self.top_k is None else str(self.top_k)
        temperature = "argmax" if self.temperature == 0 else setting(self.temperature)
        view = "held-out text" if self.view == "validation" else "sample"
        items = (f"temp {temperature} ({key_for('temperature', '')})",
                 f"len {self.sample_len} ({key_for('sample_length', '')})",
                 f"top-k {top_k} ({key_for('top_k', '')})", f"{view} ({key_for('validation_view')})")
        for line in settings:
            line.update(Text(pack(items, line.size.width or self.size.width or 80), "dim"))

    def on_resize(self) -> None:
        self._show_settings()  # packed to the width
        if self.is_mounted:
            self.call_after_refresh(self._show_log)  # the samples too, once the log has its new width

    def watch_prime_error(self) -> None:
        error = self.query_one("#prime-error", Static)
        error.update(Text(visible(self.prime_error)))  # quotes the prime: text, not markup
        error.display = bool(self.prime_error)

    # ------------------------------------------------------------- what the app hands in
    def show_stream(self, text: str) -> None:
        """A sample being drawn: the characters so far."""
        if self.view != "sample":
            self.view = "sample"
        self.unit_view.streaming = text

    def show_sample(self, reading: Reading | None, result: str) -> None:
        """The finished sample (None: it failed; the stream is cleared)."""
        view = self.unit_view
        view.streaming = ""
        if reading is None and self.view == "sample":  # the old sample under the new prime read as its
            self.sample_reading, self.result = None, ""
            view.reading = None
        if reading is not None:
            self.sample_reading = reading
            self.result = result
            if self.view == "sample":
                view.reading = reading

    def show_validation(self, reading: Reading) -> None:
        self.validation_reading = reading
        if self.view == "validation":
            self.unit_view.reading = reading

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "prime":
            return
        event.stop()
        self.screen.set_focus(None)  # keys typed next go to the app again (q quits, space trains)
        self.post_message(self.SampleRequested(event.value))
