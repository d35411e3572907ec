"""The worker thread of a TrainingSession: takes commands between steps, trains, publishes.

One pass of the loop: wait until there is something to do (SessionState.has_work, or a
change the latest snapshot misses), take a waiting reset, learning rate and jobs under
the lock, then outside it take one step of the run's TrainingLoop (gru_core/loop.py, the
loop the CLI and library users run too: the schedule, the checks counted in steps, the
guard, the end), and publish a snapshot (SnapshotBuilder, posted on the SnapshotBoard).
A fault never kills the thread: it is published as state error and the loop takes the
next command.

Cancelling: the manual backward looks at the cancel event between time steps; autograd's
does not, so a long autograd step gets a saved-tensor hook that does.
"""

from __future__ import annotations

import logging
import math
import threading
import traceback

import torch

from .errors import Cancelled, GRUError
from .loop import Event, Listener, TrainingLoop
from .session_state import SessionState
from .snapshot import EpochSample, Snapshot, SnapshotBoard
from .snapshot_builder import SnapshotBuilder
from .trainer import Trainer, TrainingDiverged

log = logging.getLogger(__name__)

LONG_STEP = 0.05  # seconds: an autograd step this long can be cut in its backward too


def _pack(saved: torch.Tensor) -> torch.Tensor:
    return saved


class _SessionListener(Listener):
    """The loop's news into the session's state: samples and notes, under its lock."""

    def __init__(self, shared: SessionState) -> None:
        self._s = shared

    def on_check(self, loop: TrainingLoop, val: float | None, sample: str | None) -> None:
        if sample is None:
            return
        trainer = loop.trainer
        with self._s.cond:
            self._s.samples.append(EpochSample(trainer.epoch, trainer.step_count, sample, val))

    def on_event(self, loop: TrainingLoop, event: Event) -> None:
        with self._s.cond:
            self._s.add_note(event.message)


class SessionWorker:
    """Owns the worker thread ("gru-train") and the board it posts snapshots on."""

    def __init__(self, shared: SessionState, max_rate: float, torch_threads: int | None) -> None:
        self._s = shared
        self._torch_threads = torch_threads
        self._step_seconds = math.inf  # the last step's time (unknown: assume long)
        self._loop: TrainingLoop | None = None  # the current run's, made at its first use
        self._builder = SnapshotBuilder(max_rate, shared.cancel)
        # The first snapshot has no trace yet: the worker traces at once, with its own
        # torch threads (the caller's may be many, and slow on a busy machine).
        self.board = SnapshotBoard(self._make_snapshot(force=True, lean=True), max_rate)
        self.thread = threading.Thread(target=self._run, name="gru-train", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if self._torch_threads is not None:
            torch.set_num_threads(self._torch_threads)  # fixes this thread's OpenMP count
        first = True
        while True:
            try:
                if first:
                    first = False
                    self._publish(force=True)  # the first snapshot with a trace
                if not self._run_once():
                    return
            except BaseException as exc:  # never die: publish and take the next command
                try:
                    self._fail(exc)
                except BaseException:  # noqa: BLE001 - not even publishing the fault may kill it
                    log.exception("could not publish a training fault")

    def _is_stale(self) -> bool:
        """Does the latest snapshot miss a change (a command's, or a rate-limited step's)?"""
        s, snap = self._s, self._builder.latest
        return snap is None or (snap.run_id, snap.state, snap.step, snap.lr, snap.error, snap.notes) != (
            s.run_id, s.state, s.trainer.step_count, s.trainer.lr, s.error, s.notes)

    def _run_once(self) -> bool:
        """One pass of the worker loop; False when closing."""
        s = self._s
        with s.cond:
            while not s.has_work() and not self._is_stale():
                s.cond.wait()
            closing = s.closing
            loaded = False
            if not closing:
                if s.pending_reset is not None:
                    self._take_reset()
                    loaded = s.trainer.step_count > 0  # a checkpoint: show its sample at once
                jobs, s.jobs = s.jobs, []
                trainer, history = s.trainer, s.history
                do_step = s.state == "running" or s.pending_steps > 0
                single = s.state != "running"
                if do_step and single:
                    s.pending_steps -= 1
        if closing:
            with s.cond:
                if s.pending_reset is not None:
                    self._take_reset()
            self._publish(force=True, lean=True)
            return False
        if loaded:
            self._check(trainer)  # a checkpoint: its validation and sample at once
        for job in jobs:
            job(trainer, history)
        if do_step:
            self._train_one(trainer, single)
        else:
            self._publish(force=True)
        return True

    def _take_reset(self) -> None:
        self._s.take_reset()
        self._step_seconds = math.inf
        self._loop = None

    def _loop_for(self, trainer: Trainer) -> TrainingLoop:
        loop = self._loop
        if loop is None or loop.trainer is not trainer:
            s = self._s
            loop = self._loop = TrainingLoop(trainer, s.history, listener=_SessionListener(s),
                                             sample_temperature=s.sample_temperature)
        loop.sample_temperature = self._s.sample_temperature
        return loop

    def _check(self, trainer: Trainer) -> None:
        try:
            self._loop_for(trainer).check()
        except Cancelled:
            pass  # a reset or close is waiting

    def _train_one(self, trainer: Trainer, single: bool) -> None:
        s = self._s
        loop = self._loop_for(trainer)
        # A hook at every saved tensor backward reads: too costly for a short step (~25% at
        # the article's size), so only for a long autograd one.
        cut_backward = trainer.config.backward == "autograd" and self._step_seconds > LONG_STEP
        try:
            if cut_backward:
                with torch.autograd.graph.saved_tensors_hooks(_pack, self._unpack_unless_cancelled):
                    outcome = loop.step()
            else:
                outcome = loop.step()
        except Cancelled:
            return  # a reset or close is waiting; it publishes
        except TrainingDiverged as exc:  # the weights are still those of the last good step
            self._fail(exc, with_traceback=False)
            return
        record = outcome.record
        if record is not None:
            self._step_seconds = record.seconds
        with s.cond:
            if s.pending_reset is not None:
                return  # this run is being replaced: its last step does not matter
            before = s.state
            if record is not None:
                s.last_record = record
                s.rates.add(trainer.chars_per_step)
            if outcome.finished:
                s.stop_at_epoch_end = False
                s.set_state("finished")
            elif single and s.state in ("idle", "finished", "error"):
                s.set_state("paused")
            elif outcome.epoch_end and s.stop_at_epoch_end:
                s.stop_at_epoch_end = False
                if s.state == "running":
                    s.set_state("paused")
            changed = single or s.state != before or bool(outcome.events) or outcome.checked
        latest = self._builder.latest
        self._publish(force=changed or latest is None or latest.state != s.state)

    def _unpack_unless_cancelled(self, saved: torch.Tensor) -> torch.Tensor:
        if self._s.cancel.is_set():
            raise Cancelled()  # out of loss.backward(), before the optimizer touches anything
        return saved

    def _fail(self, exc: BaseException, *, with_traceback: bool = True) -> None:
        """Publish a fault as state error; the worker then waits for the next command."""
        s = self._s
        detail = None
        if with_traceback:
            detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with s.cond:
            if s.pending_reset is not None or s.closing:
                log.warning("training fault in a run being replaced or closed: %s", exc)
                return
            s.pending_steps = 0
            s.stop_at_epoch_end = False
            s.error = str(exc) if isinstance(exc, GRUError) else f"{type(exc).__name__}: {exc}"
            s.error_detail = detail
            s.set_state("error")
        try:
            self._publish(force=True)
        except Exception:  # noqa: BLE001 - the trace itself may be what fails
            self._publish(force=True, lean=True)

    def _publish(self, force: bool = False, lean: bool = False) -> None:
        """Publish a snapshot. lean: no new trace or gradients."""
        if not force and not self._builder.due():
            return
        try:
            snap = self._make_snapshot(force, lean)
        except Cancelled:
            return  # a reset or close is waiting; it publishes
        if snap is not None:
            self.board.post(snap)
            self._builder.published()

    def _make_snapshot(self, force: bool, lean: bool = False) -> Snapshot | None:
        """None while a reset waits: the new run's state must not show the old run's numbers."""
        with self._s.cond:
            if self._s.pending_reset is not None:
                return None
            trainer, facts = self._s.trainer, self._s.facts()
        return self._builder.build(trainer, facts, force=force, lean=lean)
