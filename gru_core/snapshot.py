"""Snapshots of a training session, and the board that hands them out.

A Snapshot is what a UI draws: immutable, every tensor a CPU copy that nothing writes
again, the histories views of append-only lists. The SnapshotBoard keeps the latest
one for whoever asks (`latest`, `wait_for`) and calls subscribers from its own thread
with the newest snapshot each has not seen, at most `max_rate` times a second: while a
subscriber is busy, newer snapshots replace older ones (drop, never queue), so a slow
screen never slows training.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor

from .advice import Advice
from .batch_detail import BatchDetail
from .config import TrainConfig
from .forward import Trace
from .history import HistoryView

log = logging.getLogger(__name__)

STATES = ("idle", "running", "paused", "finished", "error")
# Which state may follow which within one run; reset and adopt start a new run, in
# state idle (paused for an adopted, already trained model), from any state.
TRANSITIONS = {
    "idle": frozenset({"running", "paused", "finished", "error"}),
    "running": frozenset({"paused", "finished", "error"}),
    "paused": frozenset({"running", "finished", "error"}),
    "finished": frozenset({"running", "paused", "error"}),
    "error": frozenset({"running", "paused", "finished", "error"}),
}


@dataclass(frozen=True)
class EpochSample:
    epoch: int  # epochs completed when it was taken
    step: int
    text: str  # prime + generated
    val: float | None = None  # the validation loss when it was taken (None: no validation)


@dataclass(frozen=True)
class Snapshot:
    """What the session looked like at one moment. Never changes after publication."""

    seq: int  # publication counter, increasing
    state: str  # idle, running, paused, finished, error
    config: TrainConfig
    vocab: str  # index -> character
    epoch: int  # epochs completed
    target_epochs: int  # training stops (state finished) when epoch reaches this
    step: int  # optimizer steps taken
    batch: int  # index of the current batch (the next one to train) within the epoch
    num_batches: int
    lr: float
    loss: float | None  # last step's loss
    grad_norm: float | None  # last step's gradient norm, before clipping
    losses: HistoryView  # per step
    epoch_losses: HistoryView  # per epoch mean
    epoch_steps: HistoryView  # the step that ended each of those epochs
    val_losses: HistoryView  # (step, loss)
    uniform_loss: float  # ln V
    trace: Trace | None  # the batch about to be trained at step trace_step (first sequences);
    # None in the very first snapshot, until the worker has traced it
    grads: dict[str, Tensor]  # last step's gradients by article name
    steps_per_sec: float
    chars_per_sec: float
    samples: HistoryView  # EpochSample, one per epoch end (rate-limited for tiny epochs)
    error: str | None
    error_detail: str | None  # traceback text, for a details view
    time: float = field(default_factory=time.time)
    run_id: int = 0  # +1 at each reset or adopt: step counts only grow within one run
    trace_step: int = 0  # the step the trace was taken at (== step, but for a big model running)
    more_epochs: int = 0  # the epochs space, n or e add to a finished run's target
    best_val: float | None = None  # the best validation loss so far (its weights are kept)
    best_step: int = 0  # the step it was scored at
    note: str | None = None  # a command's outcome (restore_best) or why training stopped
    notes: int = 0  # +1 at each note
    advice: Advice | None = None  # what looks wrong and what to try (gru_core.advice)
    trace_batch: int = 0  # the batch index the trace is of (== batch, but for a big model running)
    detail: BatchDetail | None = None  # the trace's weights and backward pass: what explains its numbers
    val_note: str | None = None  # why validation that was asked for is not done (Trainer.val_note)
    # (step, kind, message) of what the loop's guard and end did: the chart marks them
    events: HistoryView = field(default_factory=lambda: HistoryView([]))

    @property
    def val_loss(self) -> float | None:
        return self.val_losses[-1][1] if len(self.val_losses) else None

    @property
    def bits_per_char(self) -> float | None:
        return None if self.loss is None else self.loss / math.log(2)


Subscriber = Callable[[Snapshot], None]


class SnapshotBoard:
    """The latest snapshot, and a delivery thread that calls subscribers with it."""

    def __init__(self, first: Snapshot, max_rate: float) -> None:
        self.max_rate = max_rate
        self._latest = first
        self._published = threading.Condition()  # readers waiting for a new snapshot
        self._deliver = threading.Condition()  # the delivery thread waiting for work
        self._subscribers: dict[int, list] = {}  # token -> [callback, last snapshot given]
        self._next_token = 0
        self._closing = False
        self.thread = threading.Thread(target=self._deliver_loop, name="gru-publish", daemon=True)
        self.thread.start()

    @property
    def latest(self) -> Snapshot:
        return self._latest

    def post(self, snap: Snapshot) -> None:
        """Make snap the latest (the newest wins); returns at once."""
        with self._published:
            self._latest = snap
            self._published.notify_all()
        with self._deliver:
            self._deliver.notify_all()

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
                self._published.wait(min(left, 0.1))

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._deliver:
            token = self._next_token
            self._next_token += 1
            self._subscribers[token] = [callback, None]
            self._deliver.notify_all()

        def unsubscribe() -> None:
            with self._deliver:
                self._subscribers.pop(token, None)

        return unsubscribe

    def close(self) -> None:
        with self._deliver:
            self._closing = True
            self._deliver.notify_all()

    def _deliver_loop(self) -> None:
        """Give each subscriber the newest snapshot it has not seen, at most max_rate a second."""
        interval = 1.0 / self.max_rate
        last_round = -math.inf
        while True:
            with self._deliver:
                while True:
                    if self._closing:
                        return
                    snap = self._latest
                    due = [entry for entry in self._subscribers.values() if entry[1] is not snap]
                    wait = last_round + interval - time.monotonic()
                    if due and wait <= 0:
                        break
                    self._deliver.wait(wait if due else None)
                for entry in due:
                    entry[1] = snap
            last_round = time.monotonic()
            for callback, _ in due:
                try:
                    callback(snap)
                except Exception:  # noqa: BLE001 - a broken subscriber must not stop the others
                    log.exception("a snapshot subscriber raised")
