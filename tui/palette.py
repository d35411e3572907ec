"""The command palette's dynamic commands: ones built from the run on screen.

The key table (keys.py) gives every key a palette command; these are what a key only
steps through, by value, or what depends on the run, each named by its value:

    Set temperature to 0.5          t / T's steps
    Colour by hidden unit 7         [ / ]: every unit of the sample on screen, with its range
    Switch corpus to zen            the config pane's source + Apply: a built-in text, model reset
    Restore the best weights: …     b, with the validation loss and step it would bring back
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from gru_core.corpora import CORPORA
from gru_core.formatting import fixed, setting, signed

from .keys import row_of

if TYPE_CHECKING:
    from .app import GRUApp

Command = tuple[str, Callable[[], None], str]  # title, what it does, help line


def temperature_commands(app: GRUApp) -> Iterator[Command]:
    from .sample_actions import TEMPERATURES

    for t in TEMPERATURES:
        shown = "0 (argmax)" if t == 0 else f"{setting(t)}"
        yield (f"Set temperature to {shown}", partial(app.set_temperature, t),
               "samples: lower is safer, higher more surprising")


def unit_commands(app: GRUApp) -> Iterator[Command]:
    """One per hidden unit of the reading on screen (none before a sample or held-out view)."""
    from .widgets.samples import SamplesPane

    view = app.query_one(SamplesPane).unit_view
    reading = view.reading
    if reading is None or not reading.hidden_size:
        return
    row = row_of("unit(1)")
    lows, highs = reading.hidden.min(dim=0).values.tolist(), reading.hidden.max(dim=0).values.tolist()
    for unit in range(reading.hidden_size):
        yield (f"Colour by hidden unit {unit + 1}", partial(view.show_unit, unit),  # from 1, as h1, h2
               f"range [{signed(lows[unit])}, {signed(highs[unit])}] over {reading.label or 'the text'}; "
               f"{row.does} ({row.shown})")


def corpus_commands(app: GRUApp) -> Iterator[Command]:
    """A built-in text for each corpus but the one training now."""
    source = app.shown.config.source if app.shown is not None else app.initial_config.source
    for name, about in CORPORA.items():
        if source != f"corpus:{name}":
            yield (f"Switch corpus to {name}", partial(app.switch_corpus, name),
                   f"{about}; resets the model (the config pane's source, then Apply)")


def restore_commands(app: GRUApp) -> Iterator[Command]:
    snap = app.shown
    if snap is not None and snap.best_val is not None:
        row = row_of("restore_best")
        yield (f"Restore the best weights: val {fixed(snap.best_val)} from step {snap.best_step}",
               app.action_restore_best, f"{row.does} ({row.shown})")


class RunCommands(Provider):
    """Commands by value, built from the run on screen each time the palette searches."""

    def commands(self) -> Iterator[Command]:
        app: GRUApp = self.app  # type: ignore[assignment]
        for source in (temperature_commands, unit_commands, corpus_commands, restore_commands):
            yield from source(app)

    async def discover(self) -> Hits:
        for title, callback, help_text in self.commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self.commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
