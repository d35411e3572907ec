"""Messages that arrive while the app closes: a worker posted them, the widgets are gone."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def while_open(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Drop a message handled after the app began closing.

    A thread worker (sampling, saving, reading the validation note) can post its result
    just as the app quits; by the time the message is handled the screens are torn down
    and `query_one` would raise. There is nobody left to show the result to.
    """

    @functools.wraps(handler)
    def handle(app: Any, event: Any) -> Any:
        if getattr(app, "_quitting", False) or not app.screen_stack or not app.query("StatusBar"):
            return None
        return handler(app, event)

    return handle
