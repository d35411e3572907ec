"""What the TrainingSession tests share: the sessions a test makes, closed after it."""

from __future__ import annotations

import threading

import pytest

from gru_core import TrainConfig
from gru_core.session import TrainingSession

LONG = TrainConfig.default(epochs=1_000_000)  # runs until paused


def session_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gru-train"]


@pytest.fixture
def make():
    """make(config=LONG, **kw): a TrainingSession, closed (its thread joined) after the test;
    make.last is the last one made."""
    made: list[TrainingSession] = []

    def make(config: TrainConfig | None = None, **kw) -> TrainingSession:
        session = TrainingSession(config or LONG, **kw)
        made.append(session)
        make.last = session
        return session

    yield make
    for session in made:
        session.close()
    assert session_threads() == []
