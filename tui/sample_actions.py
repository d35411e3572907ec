"""SampleActions: sampling from a prime, and seeing the units, in the app.

A mixin of GRUApp, which provides what the class declares (`session`, `shown`,
`temperature`, `_quitting`) beside App's own methods:

    / prime Enter   sample_prime in a thread worker; its characters stream to the pane
                    (SampleProgress, at most every STREAM_INTERVAL s, a newer one replacing
                    an older one not yet drawn), then the finished Sample, coloured
    < / >, k / K    the sample's length and top-k
    t / T           the temperature (TEMPERATURES), of prime samples and epoch-end ones alike
    u, [ / ], j     colour by confidence or by a hidden unit; pick the unit; the most
                    responsive units (inspect_units.rank_units)
    v               the same view over a stretch of the validation text (read_through)

Sampling reads a copy of the weights: training goes on while a long sample is drawn.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING

from textual import work
from textual.worker import get_current_worker

from gru_core.errors import GRUError
from gru_core.formatting import setting

from .closing import while_open
from .messages import PrimeSampled, SampleProgress, UnitsRead
from .widgets.samples import SAMPLE_LENGTHS, TOP_KS, SamplesPane, step_through, top_k_options

if TYPE_CHECKING:
    from gru_core.session import Snapshot, TrainingSession


PRIME_SAMPLE_LEN = 100
STREAM_INTERVAL = 0.05  # seconds between two updates of a sample being drawn
VALIDATION_CHARS = 400  # characters of held-out text read through for `v`
TEMPERATURES = (0.0, 0.2, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0)  # t and T step through these


class SampleActions:
    """Sampling and unit views; mixed into GRUApp."""

    session: TrainingSession | None  # None while torch loads
    shown: Snapshot | None  # the snapshot on screen
    temperature: float  # of prime samples and (session.sample_temperature) epoch-end ones
    _quitting: bool  # the app is closing: a sample in progress stops

    def action_temperature(self, direction: int) -> None:
        now = min(range(len(TEMPERATURES)), key=lambda k: abs(TEMPERATURES[k] - self.temperature))
        k = max(0, min(len(TEMPERATURES) - 1, now + direction))
        self.temperature = TEMPERATURES[k]
        self.query_one(SamplesPane).temperature = self.temperature
        if self.session is not None:
            self.session.sample_temperature = self.temperature  # epoch-end samples too

    def set_temperature(self, temperature: float) -> None:
        """The palette's "Set temperature to …": the samples pane and the epoch-end samples."""
        self.temperature = temperature
        self.query_one(SamplesPane).temperature = temperature
        if self.session is not None:
            self.session.sample_temperature = temperature

    def action_sample_length(self, direction: int) -> None:
        pane = self.query_one(SamplesPane)
        pane.sample_len = step_through(SAMPLE_LENGTHS, pane.sample_len, direction)

    def action_top_k(self, direction: int) -> None:
        pane = self.query_one(SamplesPane)
        snap = self.shown
        options = top_k_options(len(snap.vocab)) if snap is not None else TOP_KS
        # off is the top of the ladder: K there stays off, k goes to the largest k below V
        pane.top_k = step_through(options, pane.top_k, direction, default=-1)

    def action_scroll_samples(self, pages: int) -> None:
        self.query_one(SamplesPane).scroll_samples(pages)

    def action_colour_mode(self) -> None:
        self.query_one(SamplesPane).unit_view.cycle_mode()

    def action_unit(self, delta: int) -> None:
        self.query_one(SamplesPane).unit_view.move_unit(delta)

    def action_top_unit(self) -> None:
        self.query_one(SamplesPane).unit_view.next_top_unit()

    def action_validation_view(self) -> None:
        pane = self.query_one(SamplesPane)
        pane.view = "sample" if pane.view == "validation" else "validation"
        if pane.view == "validation" and self.session is not None:
            self.read_validation()  # with the weights as they are now

    @work(thread=True, exclusive=True, exit_on_error=False, group="sample")
    def sample_prime(self, prime: str, temperature: float, n: int = PRIME_SAMPLE_LEN,
                     top_k: int | None = None) -> None:
        """Draw a sample, streaming its characters to the pane: the first one at once, then at
        most 1/STREAM_INTERVAL updates a second."""
        session = self.session
        if session is None:
            self.post_message(PrimeSampled(error="torch is still loading; try again in a moment"))
            return
        worker = get_current_worker()
        chars: list[str] = []
        last_post = -math.inf  # the first character shows at once, however fast the rest come

        def on_char(ch: str) -> bool:
            nonlocal last_post
            if worker.is_cancelled or self._quitting:
                return False  # a newer sample was asked for, or the app is closing
            chars.append(ch)
            if time.monotonic() - last_post >= STREAM_INTERVAL:
                last_post = time.monotonic()
                self.post_message(SampleProgress(prime + "".join(chars)))
            return True

        def cancelled() -> bool:  # asked while a long prime is read: quitting must not wait for it
            return worker.is_cancelled or self._quitting

        try:
            result = session.sample(prime, n, temperature, top_k=top_k, on_char=on_char, cancelled=cancelled)
        except GRUError as exc:
            if not cancelled():
                self.post_message(PrimeSampled(error=str(exc)))
            return
        if worker.is_cancelled:
            return
        from gru_core.inspect_units import rank_units

        from .widgets.unit_view import reading_from_sample

        label = "argmax" if temperature == 0 else f"T={setting(temperature)}"
        reading = reading_from_sample(result, label=f"sample {label}", suffix=f"({label})")
        if len(result.generated):
            reading = dataclasses.replace(reading, ranked=rank_units(result.hidden))
        self.post_message(PrimeSampled(text=result.text, reading=reading))

    @work(thread=True, exclusive=True, exit_on_error=False, group="units")
    def read_validation(self) -> None:
        """Read a stretch of held-out text (training text without a split) through the model."""
        session = self.session
        if session is None:
            return
        from gru_core.inspect_units import rank_units, read_held_out

        from .widgets.unit_view import Reading

        read = read_held_out(session, VALIDATION_CHARS)
        label = "validation text" if read.held_out else "training text (no validation part)"
        self.post_message(UnitsRead(Reading(read.text, read.probs.tolist(), read.hidden, label=label,
                                            ranked=rank_units(read.hidden))))

    def on_samples_pane_sample_requested(self, event: SamplesPane.SampleRequested) -> None:
        if not self.screen_stack:  # Enter then q at once: the app is closing, its screens are gone
            return
        self.screen.set_focus(None)  # back to the keys: q quits, space trains
        pane = self.query_one(SamplesPane)
        self.sample_prime(event.prime, self.temperature, pane.sample_len, pane.top_k)

    @while_open
    def on_sample_progress(self, event: SampleProgress) -> None:
        self.query_one(SamplesPane).show_stream(event.text)

    @while_open
    def on_prime_sampled(self, event: PrimeSampled) -> None:
        pane = self.query_one(SamplesPane)
        pane.prime_error = event.error
        if event.error:
            pane.show_sample(None, "")
            return
        label = "argmax" if self.temperature == 0 else f"T={setting(self.temperature)}"
        pane.show_sample(event.reading, f"{event.text}  ({label})")

    @while_open
    def on_units_read(self, event: UnitsRead) -> None:
        self.query_one(SamplesPane).show_validation(event.reading)
