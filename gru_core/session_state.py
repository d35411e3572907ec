"""What a TrainingSession's commands ask and its worker does, under one condition.

Commands (any thread) record what was asked here and return; the worker
(session_worker.py) takes it between steps. Every state change within a run goes
through `set_state`, which refuses what TRANSITIONS (snapshot.py) does not allow; reset
and adopt begin a new run (`install`), in state idle (paused for a trained model), from
any state. Every method here is called with `cond` held.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from .history import History, HistoryView
from .snapshot import TRANSITIONS, EpochSample
from .snapshot_builder import RateWindow, RunFacts
from .trainer import StepRecord, Trainer

Job = Callable[[Trainer, History], None]


class SessionState:
    """The run, its state and the commands waiting for the worker; guarded by `cond`."""

    def __init__(self, trainer: Trainer, history: History, sample_temperature: float) -> None:
        self.cond = threading.Condition()  # guards everything below, wakes the worker
        self.cancel = threading.Event()  # set: a reset or close cuts the step in progress short
        trainer.cancel_event = self.cancel
        self.trainer, self.history = trainer, history
        self.samples: list[EpochSample] = []
        self.sample_temperature = sample_temperature  # for the samples taken at epoch ends
        self.state = "idle" if trainer.step_count == 0 else "paused"
        self.run_id = 0  # +1 at each reset or adopt
        self.pending_steps = 0
        self.stop_at_epoch_end = False
        self.pending_reset: tuple[Trainer, History] | None = None
        self.jobs: list[Job] = []
        self.closing = False
        self.target_epochs = trainer.config.epochs
        self.more_epochs = trainer.config.epochs  # what continuing a finished run adds
        self.error: str | None = None
        self.error_detail: str | None = None
        self.note: str | None = None  # a command's outcome or why training stopped
        self.notes = 0  # +1 at each note, so a repeated one still shows
        self.running_since = -math.inf  # when start/run_epoch last set it running
        self.last_record: StepRecord | None = None
        self.rates = RateWindow()

    def set_state(self, state: str) -> None:
        """Every state change within a run goes through here; TRANSITIONS says which may."""
        if state != self.state and state not in TRANSITIONS[self.state]:
            raise RuntimeError(f"the session cannot go from {self.state} to {state}")  # a bug here
        self._enter(state)

    def _enter(self, state: str) -> None:
        self.state = state
        if state != "error":
            self.error = self.error_detail = None
        self.cond.notify_all()

    def set_running(self, *, stop_at_epoch_end: bool) -> None:
        """start and run_epoch: from any state but running (the caller checks)."""
        self.continue_finished()
        self.pending_steps = 0
        self.stop_at_epoch_end = stop_at_epoch_end
        self.rates.clear()
        self.running_since = time.perf_counter()
        self.set_state("running")

    def continue_finished(self) -> None:
        """Training a finished run (space, n or e) first moves its target as many epochs on as
        the run was set up with; config.epochs follows, so the config pane and the status
        line show the same target (epoch never runs past it)."""
        trainer = self.next_trainer()
        if trainer.epoch >= self.target_epochs:
            self.target_epochs = trainer.epoch + self.more_epochs
            trainer.config = trainer.config.replace(epochs=self.target_epochs)

    def next_trainer(self) -> Trainer:
        """The trainer commands act on: a reset's new one as soon as reset() returns."""
        return self.pending_reset[0] if self.pending_reset is not None else self.trainer

    def install(self, trainer: Trainer, history: History, *, keep_lr: bool) -> None:
        """A new run (reset, adopt), taken by the worker between steps."""
        if self.closing:
            return
        if keep_lr:  # set_lr may have come after the new trainer's config was read
            trainer.set_lr(self.next_trainer().lr)
        self.pending_reset = (trainer, history)
        self.pending_steps = 0
        self.stop_at_epoch_end = False
        self.target_epochs = self.more_epochs = trainer.config.epochs
        self.cancel.set()  # cut the step in progress short: its result is thrown away
        self._enter("idle" if trainer.step_count == 0 else "paused")  # a new run, from any state

    def take_reset(self) -> None:
        """The worker makes the installed run the current one."""
        trainer, history = self.pending_reset
        self.pending_reset = None
        self.cancel.clear()
        trainer.cancel_event = self.cancel
        self.trainer, self.history, self.samples = trainer, history, []
        self.note = None
        self.run_id += 1
        self.last_record = None
        self.rates.clear()

    def add_job(self, job: Job) -> None:
        self.jobs.append(job)
        self.cond.notify_all()

    def add_note(self, note: str) -> None:
        self.note = note
        self.notes += 1

    def has_work(self) -> bool:
        return bool(self.closing or self.pending_reset or self.jobs or self.pending_steps
                    or self.state == "running")

    def facts(self) -> RunFacts:
        """The session's side of a snapshot."""
        steps_per_sec, chars_per_sec = self.rates.rates() if self.state == "running" else (0.0, 0.0)
        return RunFacts(
            state=self.state, run_id=self.run_id, error=self.error, error_detail=self.error_detail,
            note=self.note, notes=self.notes, record=self.last_record,
            target_epochs=self.target_epochs, more_epochs=self.more_epochs,
            history=self.history.views(), samples=HistoryView(self.samples),
            steps_per_sec=steps_per_sec, chars_per_sec=chars_per_sec,
        )
