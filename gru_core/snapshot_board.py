"""The board a session's worker posts its snapshots on, for whoever asks.

`latest` is the newest snapshot (the newest wins: nothing queues, so a slow reader never
slows training); `wait_for` blocks until one satisfies a predicate. No thread of its own:
`post` notifies the waiting readers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .snapshot import Snapshot


class SnapshotBoard:
    """The latest snapshot, and a condition readers wait on for a newer one."""

    def __init__(self, first: Snapshot) -> None:
        self._latest = first
        self._published = threading.Condition()  # readers waiting for a new snapshot

    @property
    def latest(self) -> Snapshot:
        return self._latest

    def post(self, snap: Snapshot) -> None:
        """Make snap the latest; returns at once."""
        with self._published:
            self._latest = snap
            self._published.notify_all()

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float) -> Snapshot:
        deadline = time.monotonic() + timeout
        with self._published:
            while True:
                snap = self._latest
                if predicate(snap):
                    return snap
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"no snapshot matched within {timeout} s; the last: state {snap.state}, "
                        f"step {snap.step}, run {snap.run_id}"
                    )
                # woken by post; the cap re-asks a predicate that also reads other state
                self._published.wait(min(left, 0.1))
