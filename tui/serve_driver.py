"""ServeDriver: Textual's WebDriver for a tab of `gru-tui serve`, which ends when its server does.

Why a tab's process outlived its tab (found with the app on pipes, as textual-serve runs it):

- the WebDriver's input thread ends quietly at the end of stdin: when the server closes the
  pipe, or dies, nobody tells the app, which goes on training and redrawing (20-40% of a
  core) for nobody;
- its output is a blocking `os.write` on the event loop's thread: once the server stops
  reading (its websocket stuck on a client that vanished) the pipe fills, the write blocks
  the loop, and the loop's SIGTERM handler never runs; with the server gone the write
  raises BrokenPipeError inside Textual's shutdown instead.

Here the end of stdin quits the app (and ends the process if quitting takes more than
EXIT_GRACE_S), and a write to a server that is gone ends the process at once: its files
are in the tab's temporary folder and nobody is left to show anything to. The parent
death signal (tui/serve_tab.py) covers a server killed outright.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from textual import messages
from textual.drivers.web_driver import WebDriver

EXIT_GRACE_S = 2.0


def end_process_soon(delay: float = EXIT_GRACE_S) -> None:
    """End this process after `delay` seconds, whatever it is doing then (a daemon timer)."""
    timer = threading.Timer(delay, os._exit, args=(0,))
    timer.daemon = True
    timer.start()


class ServeDriver(WebDriver):
    """WebDriver that ends the tab's process when its server goes."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._write = self._write_or_end
        self._loop: asyncio.AbstractEventLoop | None = None

    def _write_or_end(self, data: bytes) -> int:
        try:
            return os.write(self.fileno, data)
        except OSError:  # EPIPE: the server is gone, and the pipe with it
            os._exit(0)

    def start_application_mode(self) -> None:
        self._loop = asyncio.get_running_loop()
        super().start_application_mode()

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if self.exit_event.is_set():  # the app is quitting on its own
            return
        # stdin ended: the server closed this tab's pipe, or died
        end_process_soon()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                asyncio.run_coroutine_threadsafe(self._app._post_message(messages.ExitApp()), loop)
            except RuntimeError:  # the loop closed meanwhile
                os._exit(0)
