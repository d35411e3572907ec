"""A TrainingSession's run: its state, the table of legal state changes, and the commands
waiting for the worker, all under one condition.

Commands (any thread) say what was asked (`command_run`, `command_pause`, `command_step`,
`install`, ...) and return; the worker (session_worker.py) says what happened
(`take_work`, `step_done`, `fail`). Each of those methods takes `cond` itself (a
reentrant lock, so a caller that already holds it may call them too); the fields are
written nowhere else. Every state change goes through `set_state`, which checks it
against TRANSITIONS: a change the table does not list is a bug here, and raises.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .history import History, HistoryView
from .snapshot import EpochSample
from .snapshot_builder import RateWindow, RunFacts
from .trainer import StepRecord, Trainer

if TYPE_CHECKING:
    from .loop import StepOutcome

Job = Callable[[Trainer, History], None]

STATES = ("idle", "running", "paused", "finished", "error")
# Every change of state within one run, and what makes it. Staying put is no change (no
# entry), but for error -> error: a new fault replaces the one shown.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("idle", "running"): "start or run_epoch",
    ("idle", "paused"): "a single step (step)",
    ("idle", "finished"): "a single step that ends the run",
    ("idle", "error"): "a fault",
    ("running", "paused"): "pause, or run_epoch's epoch end",
    ("running", "finished"): "the run's last epoch done (or patience ran out)",
    ("running", "error"): "a fault",
    ("paused", "running"): "start or run_epoch",
    ("paused", "finished"): "a single step that ends the run",
    ("paused", "error"): "a fault",
    ("finished", "running"): "start or run_epoch: the target moves on",
    ("finished", "paused"): "step: the target moves on",
    ("finished", "error"): "a fault",
    ("error", "running"): "start or run_epoch",
    ("error", "paused"): "a single step that worked",
    ("error", "finished"): "a single step that ends the run",
    ("error", "error"): "a new fault",
}
# reset and adopt begin a new run from any state, in one of these: idle for an untrained
# trainer, paused for a trained one (a checkpoint).
RUN_STARTS = ("idle", "paused")


@dataclass
class Work:
    """What the worker took in one pass, under the lock."""

    closing: bool
    new_run: bool  # a reset or adopt was taken: the worker starts afresh with this trainer
    trainer: Trainer
    history: History
    jobs: list[Job] = field(default_factory=list)
    step: bool = False  # take one step of the run
    single: bool = False  # ... a single one (step), not one of a running stretch


class SessionState:
    """The run, its state and the commands waiting for the worker; guarded by `cond`."""

    def __init__(self, trainer: Trainer, history: History, sample_temperature: float) -> None:
        self.cond = threading.Condition()  # (an RLock) guards everything below, wakes the worker
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

    # ================================================================ the state machine
    def set_state(self, state: str, *, new_run: bool = False) -> None:
        """Every change of state goes through here: within a run, TRANSITIONS says which may;
        a new run (new_run) starts in one of RUN_STARTS, from any state."""
        with self.cond:
            legal = state in RUN_STARTS if new_run else (self.state, state) in TRANSITIONS
            if not legal:  # a bug in the session, not a user's mistake
                raise RuntimeError(f"the session cannot go from {self.state} to {state}"
                                   f"{' (a new run)' if new_run else ''}")
            self.state = state
            if state != "error":
                self.error = self.error_detail = None
            self.cond.notify_all()

    # ================================================================ commands (any thread)
    def command_run(self, *, stop_at_epoch_end: bool) -> bool:
        """start (train on) and run_epoch (to the epoch's end); False when running or closed."""
        with self.cond:
            if self.closing or self.state == "running":
                return False
            self._continue_finished()
            self.pending_steps = 0
            self.stop_at_epoch_end = stop_at_epoch_end
            self.rates.clear()
            self.running_since = time.perf_counter()
            self.set_state("running")
            return True

    def command_pause(self) -> None:
        """Stop after the step in progress, and drop steps asked for but not yet taken."""
        with self.cond:
            self.pending_steps = 0
            self.stop_at_epoch_end = False
            if self.state == "running":
                self.set_state("paused")

    def command_step(self) -> bool:
        """One more single step for the worker; False when running or closed."""
        with self.cond:
            if self.closing or self.state == "running":
                return False
            self._continue_finished()
            if self.state == "finished":  # its target moved on: a snapshot before the step
                self.set_state("paused")  # (or after a pause() drops it) must not say finished
            self.pending_steps += 1
            self.cond.notify_all()
            return True

    def command_set_lr(self, value: float) -> None:
        """GRUError if not a valid lr (Trainer.set_lr); the worker publishes the new one."""
        with self.cond:
            self.next_trainer().set_lr(value)
            self.cond.notify_all()

    def command_close(self) -> None:
        with self.cond:
            self.closing = True
            self.cancel.set()
            self.cond.notify_all()

    def install(self, trainer: Trainer, history: History, *, keep_lr: bool) -> None:
        """A new run (reset, adopt), taken by the worker between steps."""
        with self.cond:
            if self.closing:
                return
            if keep_lr:  # set_lr may have come after the new trainer's config was read
                trainer.set_lr(self.next_trainer().lr)
            self.pending_reset = (trainer, history)
            self.pending_steps = 0
            self.stop_at_epoch_end = False
            self.target_epochs = self.more_epochs = trainer.config.epochs
            self.cancel.set()  # cut the step in progress short: its result is thrown away
            self.set_state("idle" if trainer.step_count == 0 else "paused", new_run=True)

    def add_job(self, job: Job) -> bool:
        """job(trainer, history) on the worker between steps; False (not added) once closed."""
        with self.cond:
            if self.closing:
                return False
            self.jobs.append(job)
            self.cond.notify_all()
            return True

    def add_note(self, note: str) -> None:
        with self.cond:
            self.note = note
            self.notes += 1

    def add_sample(self, sample: EpochSample) -> None:
        with self.cond:
            self.samples.append(sample)

    def next_trainer(self) -> Trainer:
        """The trainer commands act on: a reset's new one as soon as reset() returns."""
        with self.cond:
            return self.pending_reset[0] if self.pending_reset is not None else self.trainer

    def _continue_finished(self) -> None:
        """Training a finished run (space, n or e) first moves its target as many epochs on as
        the run was set up with; config.epochs follows, so the config pane and the status
        line show the same target (epoch never runs past it)."""
        trainer = self.next_trainer()
        if trainer.epoch >= self.target_epochs:
            self.target_epochs = trainer.epoch + self.more_epochs
            trainer.config = trainer.config.replace(epochs=self.target_epochs)

    # ================================================================ the worker's side
    def has_work(self) -> bool:
        with self.cond:
            return bool(self.closing or self.pending_reset or self.jobs or self.pending_steps
                        or self.state == "running")

    def take_work(self) -> Work:
        """What the worker does next: a waiting reset first (also when closing, so the last
        snapshot shows the new run), then the jobs and one step, if any is due."""
        with self.cond:
            new_run = self.pending_reset is not None
            if new_run:
                self._take_reset()
            work = Work(self.closing, new_run, self.trainer, self.history)
            if self.closing:
                return work
            work.jobs, self.jobs = self.jobs, []
            work.step = self.state == "running" or self.pending_steps > 0
            work.single = self.state != "running"
            if work.step and work.single:
                self.pending_steps -= 1
            return work

    def _take_reset(self) -> None:
        """The installed run becomes the current one."""
        trainer, history = self.pending_reset
        self.pending_reset = None
        self.cancel.clear()
        trainer.cancel_event = self.cancel
        self.trainer, self.history, self.samples = trainer, history, []
        self.note = None
        self.run_id += 1
        self.last_record = None
        self.rates.clear()

    def step_done(self, outcome: StepOutcome, *, single: bool) -> bool:
        """The worker took a step of the current run: its record, and where it leads.

        True when a snapshot must show it at once (a single step, a change of state, an
        event, a check); False too when the run is being replaced (the step is thrown away).
        """
        with self.cond:
            if self.pending_reset is not None:
                return False
            before = self.state
            if outcome.record is not None:
                self.last_record = outcome.record
                self.rates.add(self.trainer.chars_per_step)
            # The loop read config.epochs before the step: a start or step while it ran may
            # have moved a reached target on since (_continue_finished), and then it goes on.
            ended = outcome.finished == "patience" or (
                outcome.finished and self.trainer.epoch >= self.target_epochs)
            if ended:
                self.stop_at_epoch_end = False
                if self.state != "finished":  # a step asked for twice may follow the end
                    self.set_state("finished")
            elif single and self.state in ("idle", "finished", "error"):
                self.set_state("paused")
            elif outcome.epoch_end and self.stop_at_epoch_end:
                self.stop_at_epoch_end = False
                if self.state == "running":
                    self.set_state("paused")
            return single or self.state != before or bool(outcome.events) or outcome.checked

    def fail(self, error: str, detail: str | None) -> bool:
        """A fault in the current run: state error, commands waiting dropped. False (nothing
        changes) when the run is being replaced or the session closed."""
        with self.cond:
            if self.pending_reset is not None or self.closing:
                return False
            self.pending_steps = 0
            self.stop_at_epoch_end = False
            self.error, self.error_detail = error, detail
            self.set_state("error")
            return True

    def facts(self) -> RunFacts:
        """The session's side of a snapshot."""
        with self.cond:
            steps_per_sec, chars_per_sec = self.rates.rates() if self.state == "running" else (0.0, 0.0)
            return RunFacts(
                state=self.state, run_id=self.run_id, error=self.error, error_detail=self.error_detail,
                note=self.note, notes=self.notes, record=self.last_record,
                target_epochs=self.target_epochs, more_epochs=self.more_epochs,
                history=self.history.views(), samples=HistoryView(self.samples),
                steps_per_sec=steps_per_sec, chars_per_sec=chars_per_sec,
            )
