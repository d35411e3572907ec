"""RedrawThrottle: draw a costly widget at most every so often while training streams in."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.widget import Widget

    from gru_core.session import Snapshot


class RedrawThrottle:
    """While training runs, snapshots arrive several times a second: draw at most once per
    `interval`, the newest when the time comes. A change of state or run (paused, finished,
    a reset) or any snapshot while not running is drawn at once."""

    def __init__(self, widget: Widget, draw: Callable[[], None]) -> None:
        self._widget, self._draw = widget, draw
        self.last = -math.inf  # when draw() last ran (call drawn() from it)
        self._pending = False

    def request(self, old: Snapshot | None, new: Snapshot | None, interval: float) -> None:
        key = lambda snap: None if snap is None else (snap.state, snap.run_id)  # noqa: E731
        wait = self.last + interval - time.monotonic()
        if new is not None and new.state == "running" and key(old) == key(new) and wait > 0:
            if not self._pending:
                self._pending = True
                self._widget.set_timer(wait, self._draw)
            return
        self._draw()

    def drawn(self) -> None:
        self.last, self._pending = time.monotonic(), False
