"""The command palette's dynamic commands: ones built from the run on screen.

The key table (keys.py) gives every key a palette command; these are the settings a key
only steps through, by value: a sampling temperature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .app import GRUApp


class RunCommands(Provider):
    """'Set temperature to 0.5', … : t / T's steps, each by name."""

    def commands(self) -> Iterator[tuple[str, Callable[[], None], str]]:
        from .app import TEMPERATURES

        app: GRUApp = self.app  # type: ignore[assignment]
        for t in TEMPERATURES:
            shown = "0 (argmax)" if t == 0 else f"{t:g}"
            yield (f"Set temperature to {shown}", partial(app.set_temperature, t),
                   "samples: lower is safer, higher more surprising")

    async def discover(self) -> Hits:
        for title, callback, help_text in self.commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self.commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
