"""Helpers for driving GRUApp with Textual's Pilot: wait on conditions, never fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from gru_core import TrainConfig
from tui.app import GRUApp

READY_TIMEOUT = 60.0  # torch's first import on a loaded CI machine can take many seconds


async def wait_until(pilot, predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Let the app run until predicate() holds; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await pilot.pause(0.02)


def _drawn(app) -> bool:
    from tui.widgets.matrices import MatricesView

    return app.ready and app.query_one(MatricesView).plain.startswith("batch")


async def wait_ready(pilot) -> None:
    """Torch loaded, the session running and its first snapshot drawn."""
    await wait_until(pilot, lambda: _drawn(pilot.app), READY_TIMEOUT, "the app to be ready")
    await pilot.pause()


async def wait_palette_searched(pilot) -> None:
    """Until the command palette's search for what is typed has gathered every provider's
    hits (its search worker done): the list is final, not the first providers' batch."""
    from textual.command import CommandPalette
    from textual.worker import WorkerState

    def searched() -> bool:
        return not [w for w in pilot.app.workers if w.group == CommandPalette._GATHER_COMMANDS_GROUP
                    and w.state in (WorkerState.PENDING, WorkerState.RUNNING)]

    await wait_until(pilot, searched, what="the palette's search")
    await pilot.pause()


async def wait_rendered(pilot, predicate) -> None:
    """Until the snapshot on screen satisfies predicate(snapshot)."""
    app = pilot.app
    await wait_until(
        pilot,
        lambda: app.shown is not None and app.shown.seq == app.session.snapshot().seq
        and predicate(app.shown),
        what="a rendered snapshot",
    )
    await pilot.pause()


@pytest.fixture(autouse=True)
def settings_in_a_temporary_folder(tmp_path_factory, monkeypatch):
    """The app remembers the theme in the user's config folder: never the real one in tests."""
    monkeypatch.setenv("GRU_TUI_CONFIG_DIR", str(tmp_path_factory.mktemp("gru-tui-config")))


@pytest.fixture
def article_app() -> GRUApp:
    return GRUApp(TrainConfig.article())


def screen_text(app) -> str:
    """What the terminal shows now, as plain text (one line a row), as a user reads it."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      color_system=None, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()
