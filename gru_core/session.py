"""TrainingSession: a Trainer in a worker thread, driven by plain method calls.

    UI thread                      worker thread                   delivery thread
    start() / step() / ... --->    takes commands between steps
                                   trains, publishes Snapshots --> calls subscribers with
                                                                    the newest snapshot only,
                                                                    at most max_rate per second

Commands never wait for training: they record what was asked and return. The worker
applies them between batches; reset and close also cut a step short (the cancel event
is checked between time steps, in the forward and in the backward, manual or autograd).
Commands take effect in the order they were called: `reset(); start()` trains the new run.

State machine (STATES, TRANSITIONS in snapshot.py; `_set_state` refuses any other change):

    idle --start/run_epoch--> running --pause / run_epoch's epoch end--> paused
    idle, paused, finished, error --step--> paused   (one batch; finished at the last one)
    paused, finished, error --start/run_epoch--> running
    running --config.epochs done--> finished --start/step/run_epoch--> as above, the target
        moved on by the run's epochs (config.epochs follows: the status never reads 6/5)
    any --a fault (NaN loss, an exception)--> error (the thread lives on)
    any --reset--> idle; --adopt--> paused (idle for an untrained trainer)

Snapshots are immutable: every tensor in one is a CPU copy nothing writes again, and the
histories are views of append-only lists, so a UI can keep one as long as it likes. The
worker builds them (snapshot_builder.py: the trace, the rates, at most `max_rate` a second)
and posts them on a SnapshotBoard (snapshot.py). `snapshot()` and `wait_for()` see each one
as soon as it is posted; subscribers get at most `max_rate` calls a second, the newest, and
a slow subscriber never slows training (newer snapshots replace older ones: drop, never queue).

Threads: torch's intra-op pool is process-wide, but with OpenMP the count a thread
uses is fixed when it first runs an op. `torch_threads` is applied inside the worker
thread (None: leave torch's setting alone, as the headless CLI does). The app passes
`ui_torch_threads()` (gru_core/threads.py, which says why): all cores but one where there
are more than two, one on one or two. `gru-tui` also asks OpenMP to wait passively before
torch loads (`prefer_passive_openmp`): spinning threads beside one busy process trained at
0.04x of their quiet speed. `--threads N` sets the count by hand.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import traceback
from collections.abc import Callable

import torch

from .config import TrainConfig
from .errors import GRUError
from .history import History, HistoryView
from .sampling import Sample, check_sample_args, sample
from .snapshot import STATES, TRANSITIONS, EpochSample, Snapshot, SnapshotBoard, Subscriber
from .snapshot_builder import RateWindow, RunFacts, SnapshotBuilder, check_rate
from .threads import check_threads, ui_torch_threads
from .trainer import Cancelled, StepRecord, Trainer, TrainingDiverged

__all__ = ["STATES", "EpochSample", "Snapshot", "Subscriber", "TrainingSession", "ui_torch_threads"]

log = logging.getLogger(__name__)

PERIODIC_SECONDS = 5.0  # within a long epoch: a validation check and a sample this often
LONG_STEP = 0.05  # seconds: an autograd step this long can be cut in its backward too


def _pack(saved: torch.Tensor) -> torch.Tensor:
    return saved


class TrainingSession:
    """Owns a Trainer and one worker thread. All methods are safe from any thread."""

    def __init__(
        self,
        config: TrainConfig | None = None,
        *,
        max_rate: float = 8.0,
        torch_threads: int | None = None,
        sample_temperature: float = 1.0,
        trainer: Trainer | None = None,
        history: History | None = None,
    ) -> None:
        max_rate = check_rate(max_rate)
        if torch_threads is not None:
            check_threads(torch_threads, "torch_threads")
        self._torch_threads = torch_threads
        self._trainer = trainer if trainer is not None else Trainer(config or TrainConfig.default())
        self._history = history if history is not None else History()
        self._samples: list[EpochSample] = []
        self.max_rate = max_rate
        self.sample_temperature = sample_temperature  # for the samples taken at epoch ends

        self._cond = threading.Condition()  # guards everything below, wakes the worker
        self._state = "idle" if self._trainer.step_count == 0 else "paused"
        self._run_id = 0
        self._pending_steps = 0
        self._stop_at_epoch_end = False
        self._pending_reset: tuple[Trainer, History] | None = None
        self._pending_lr: float | None = None
        self._jobs: list[Callable[[Trainer, History], None]] = []
        self._closing = False
        self._target_epochs = self._trainer.config.epochs
        self._more_epochs = self._trainer.config.epochs  # what continuing a finished run adds
        self._error: str | None = None
        self._error_detail: str | None = None
        self._note: str | None = None  # a command's outcome or why training stopped
        self._running_since = -math.inf  # when start/run_epoch last set it running
        self._notes = 0  # +1 at each note, so a repeated one still shows
        self._last_record: StepRecord | None = None
        self._rates = RateWindow()
        self._step_seconds = math.inf  # the last step's time (unknown: assume long)

        self._cancel = threading.Event()
        self._trainer.cancel_event = self._cancel

        self._last_sample_at = self._last_val_at = -math.inf
        self._sample_cost = self._val_cost = 0.0

        self._builder = SnapshotBuilder(self.max_rate, self._cancel)
        # The first snapshot has no trace yet: the worker traces at once, with its own
        # torch threads (the caller's may be many, and slow on a busy machine).
        self._board = SnapshotBoard(self._make_snapshot(force=True, lean=True), self.max_rate)
        self._worker = threading.Thread(target=self._run, name="gru-train", daemon=True)
        self._worker.start()

    # ================================================================ commands
    def start(self) -> None:
        """Train continuously until config.epochs are done (finished) or pause() is called.

        From finished, trains as many epochs again (see _continue_finished).
        """
        with self._cond:
            if self._closing or self._state == "running":
                return
            self._continue_finished()
            self._pending_steps = 0
            self._stop_at_epoch_end = False
            self._rates.clear()
            self._running_since = time.perf_counter()
            self._set_state("running")

    def pause(self) -> None:
        """Stop after the step in progress (and drop steps asked for but not yet taken)."""
        with self._cond:
            self._pending_steps = 0
            self._stop_at_epoch_end = False
            if self._state == "running":
                self._set_state("paused")

    def toggle(self) -> None:
        with self._cond:
            self.pause() if self._state == "running" else self.start()

    def step(self) -> bool:
        """Train exactly one batch, unless running (then False, and nothing changes)."""
        with self._cond:
            if self._closing or self._state == "running":
                return False
            self._continue_finished()
            self._pending_steps += 1
            self._cond.notify_all()
            return True

    def run_epoch(self) -> bool:
        """Train the rest of the current epoch (a whole one at an epoch start), then pause."""
        with self._cond:
            if self._closing or self._state == "running":
                return False
            self._continue_finished()
            self._pending_steps = 0
            self._stop_at_epoch_end = True
            self._rates.clear()
            self._running_since = time.perf_counter()
            self._set_state("running")
            return True

    def reset(self, config: TrainConfig | None = None) -> None:
        """New weights from the seed (the same numbers again), optionally a new config.

        The new trainer is built here, in the caller's thread, before anything changes:
        an invalid config raises GRUError and the session goes on exactly as it was.
        A learning rate set with set_lr is kept by reset() and replaced by reset(config).
        """
        if config is not None and not isinstance(config, TrainConfig):
            raise GRUError(f"reset takes a TrainConfig or nothing; got {type(config).__name__}")
        new_config = config if config is not None else self.config
        new_config.validate()  # a config changed behind the frozen dataclass's back
        if self._closing:
            return
        try:
            trainer = Trainer(new_config)
        except GRUError:
            raise
        except Exception as exc:  # torch refusing (out of memory, say): a user-sized mistake
            raise GRUError(
                f"could not set up training with this config ({type(exc).__name__}: {exc}); "
                f"try a smaller hidden_size, batch_size or seq_len"
            ) from exc
        self._install(trainer, History(), keep_lr=config is None)

    def adopt(self, trainer: Trainer, history: History | None = None) -> None:
        """Replace the run with a loaded one (a checkpoint), paused where it stopped."""
        if not isinstance(trainer, Trainer):
            raise GRUError(f"adopt takes a Trainer; got {type(trainer).__name__}")
        if history is not None and not isinstance(history, History):
            raise GRUError(f"adopt takes a History or None; got {type(history).__name__}")
        self._install(trainer, history if history is not None else History(), keep_lr=False)

    def restore_best(self) -> None:
        """Put back the weights of the best validation loss, between steps; training holds.

        Returns at once; the next snapshot's `note` says what was restored (or why not).
        """
        def job(trainer: Trainer, history: History) -> None:
            try:
                step = trainer.restore_best()
            except GRUError as exc:
                note = str(exc)
            else:
                note = (f"restored the best weights: val {trainer.best_val:.4f} from step {step} "
                        f"(training goes on from them)")
            with self._cond:
                self._note = note
                self._notes += 1

        with self._cond:
            if self._closing:
                return
            self._jobs.append(job)
            self._cond.notify_all()

    def set_lr(self, value: float) -> None:
        """Takes effect from the next step, without a reset. GRUError if not a valid lr."""
        self.config.replace(lr=value)  # validates; raises GRUError with the reason
        with self._cond:
            self._pending_lr = float(value)
            self._cond.notify_all()

    def sample(
        self, prime: str, n: int, temperature: float = 1.0, *, top_k: int | None = None,
        generator: torch.Generator | None = None, on_char: Callable[[str], object] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Sample:
        """Sample from a consistent copy of the weights; training goes on meanwhile.

        Waits at most for one optimizer update, not a whole step. Without a generator it
        draws from torch's global one; pass a seeded generator for repeatable samples.
        """
        with self._cond:
            trainer = self._next_trainer()
        check_sample_args(trainer.vocab, prime, n, temperature, top_k)
        model = trainer.copy_model()
        return sample(model, trainer.vocab, prime, n, temperature, top_k=top_k, generator=generator,
                      on_char=on_char, cancelled=cancelled)

    def with_trainer(self, fn: Callable[[Trainer, History], object]) -> object:
        """Run fn(trainer, history) on the worker between steps, training held (for saving).

        Waits for the step in progress, at most one batch; fn's exception is raised here.
        """
        if threading.current_thread() is self._worker:
            return fn(self._trainer, self._history)
        done = threading.Event()
        box: dict[str, object] = {}

        def job(trainer: Trainer, history: History) -> None:
            try:
                box["value"] = fn(trainer, history)
            except BaseException as exc:  # handed back to the caller's thread
                box["error"] = exc
            finally:
                done.set()

        with self._cond:
            if self._closing:
                raise GRUError("the session is closed; start a new one")
            self._jobs.append(job)
            self._cond.notify_all()
        while not done.wait(0.05):
            if not self._worker.is_alive():
                raise GRUError("the training thread has stopped (the session was closed)")
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box.get("value")

    def close(self, timeout: float = 1.0) -> None:
        """Stop training and join the threads within `timeout`, mid-epoch too.

        A subscriber blocked in its callback keeps the (daemon) delivery thread alive.
        """
        with self._cond:
            self._closing = True
            self._cancel.set()
            self._cond.notify_all()
        self._board.close()
        deadline = time.monotonic() + timeout
        for thread in (self._worker, self._board.thread):
            if thread is not threading.current_thread():
                thread.join(max(0.01, deadline - time.monotonic()))

    def __enter__(self) -> TrainingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ================================================================ reading
    @property
    def config(self) -> TrainConfig:
        """The config of the run (of the new one, right after reset)."""
        with self._cond:
            return self._next_trainer().config

    @property
    def state(self) -> str:
        with self._cond:
            return self._state

    @property
    def alive(self) -> bool:
        return self._worker.is_alive()

    def snapshot(self) -> Snapshot:
        """The latest published snapshot."""
        return self._board.latest

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """callback(snapshot) from the delivery thread, newest only; returns an unsubscribe.

        The current snapshot comes first, then at most max_rate calls a second. A call
        already under way when unsubscribe() returns may still finish.
        """
        return self._board.subscribe(callback)

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float = 10.0) -> Snapshot:
        """Block until a published snapshot satisfies predicate; TimeoutError if none does."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            raise GRUError(f"timeout must be a number of seconds, 0 or more (inf waits for ever); "
                           f"got {timeout!r}")
        return self._board.wait_for(predicate, timeout)

    # ================================================================ helpers (hold _cond)
    def _set_state(self, state: str) -> None:
        """Every state change within a run goes through here; TRANSITIONS says which may."""
        if state != self._state and state not in TRANSITIONS[self._state]:
            raise RuntimeError(f"the session cannot go from {self._state} to {state}")  # a bug here
        self._enter(state)

    def _enter(self, state: str) -> None:
        self._state = state
        if state != "error":
            self._error = self._error_detail = None
        self._cond.notify_all()

    def _continue_finished(self) -> None:
        """Training a finished run (space, n or e) first moves its target as many epochs on as
        the run was set up with; config.epochs follows, so the config pane and the status
        line show the same target (epoch never runs past it)."""
        trainer = self._next_trainer()
        if trainer.epoch >= self._target_epochs:
            self._target_epochs = trainer.epoch + self._more_epochs
            trainer.config = trainer.config.replace(epochs=self._target_epochs)

    def _next_trainer(self) -> Trainer:
        """The trainer commands act on: a reset's new one as soon as reset() returns."""
        return self._pending_reset[0] if self._pending_reset is not None else self._trainer

    def _install(self, trainer: Trainer, history: History, *, keep_lr: bool) -> None:
        with self._cond:
            if self._closing:
                return
            self._pending_reset = (trainer, history)
            if not keep_lr:
                self._pending_lr = None
            self._pending_steps = 0
            self._stop_at_epoch_end = False
            self._target_epochs = self._more_epochs = trainer.config.epochs
            self._cancel.set()  # cut the step in progress short: its result is thrown away
            self._enter("idle" if trainer.step_count == 0 else "paused")  # a new run, from any state

    # ================================================================ worker
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

    def _has_work(self) -> bool:
        return bool(self._closing or self._pending_reset or self._jobs or self._pending_lr is not None
                    or self._pending_steps or self._state == "running")

    def _is_stale(self) -> bool:
        """Does the latest snapshot miss a change (a command's, or a rate-limited step's)?"""
        snap, trainer = self._builder.latest, self._trainer
        return snap is None or (snap.run_id, snap.state, snap.step, snap.lr, snap.error,
                                snap.notes) != (
            self._run_id, self._state, trainer.step_count, trainer.lr, self._error, self._notes)

    def _run_once(self) -> bool:
        """One pass of the worker loop; False when closing."""
        with self._cond:
            while not self._has_work() and not self._is_stale():
                self._cond.wait()
            closing = self._closing
            loaded = False
            if not closing:
                if self._pending_reset is not None:
                    self._take_reset()
                    loaded = self._trainer.step_count > 0  # a checkpoint: show its sample at once
                if self._pending_lr is not None:
                    lr, self._pending_lr = self._pending_lr, None
                    self._trainer.set_lr(lr)
                jobs, self._jobs = self._jobs, []
                trainer, history = self._trainer, self._history
                do_step = self._state == "running" or self._pending_steps > 0
                single = self._state != "running"
                if do_step and single:
                    self._pending_steps -= 1
        if closing:
            with self._cond:
                if self._pending_reset is not None:
                    self._take_reset()
            self._publish(force=True, lean=True)
            return False
        if loaded:
            self._epoch_end_extras(trainer, force=True)
        for job in jobs:
            job(trainer, history)
        if do_step:
            self._train_one(trainer, single)
        else:
            self._publish(force=True)
        return True

    def _take_reset(self) -> None:
        trainer, history = self._pending_reset
        self._pending_reset = None
        self._cancel.clear()
        trainer.cancel_event = self._cancel
        self._trainer, self._history, self._samples = trainer, history, []
        self._note = None
        self._run_id += 1
        self._last_record = None
        self._step_seconds = math.inf
        self._rates.clear()
        self._last_sample_at = self._last_val_at = -math.inf

    def _train_one(self, trainer: Trainer, single: bool) -> None:
        # The manual backward looks at the cancel event between time steps; autograd's
        # does not, so a long autograd step gets a hook that does, at every saved tensor
        # backward reads (too costly for a short step: ~25% at the article's size).
        cut_backward = trainer.config.backward == "autograd" and self._step_seconds > LONG_STEP
        try:
            if cut_backward:
                with torch.autograd.graph.saved_tensors_hooks(_pack, self._unpack_unless_cancelled):
                    record = trainer.step()
            else:
                record = trainer.step()
            self._step_seconds = record.seconds
        except Cancelled:
            return  # a reset or close is waiting; it publishes
        except TrainingDiverged as exc:  # the weights are still those of the last good step
            self._fail(exc, with_traceback=False)
            return
        with self._cond:
            if self._pending_reset is not None:
                return  # this run is being replaced: its last step does not matter
            self._last_record = record
            epoch_end = trainer.batch_index == 0
            self._history.add_step(record.loss, epoch_end=epoch_end)
            self._rates.add(trainer.chars_per_step)
            before = self._state
            if epoch_end and trainer.epoch >= self._target_epochs:
                self._stop_at_epoch_end = False
                self._set_state("finished")
            elif single and self._state in ("idle", "finished", "error"):
                self._set_state("paused")
            elif epoch_end and self._stop_at_epoch_end:
                self._stop_at_epoch_end = False
                if self._state == "running":
                    self._set_state("paused")
            changed = single or self._state != before
        if epoch_end:
            self._epoch_end_extras(trainer, force=changed)
        elif self._state == "running" and (
            time.perf_counter() - max(self._last_sample_at, self._last_val_at, self._running_since)
            >= PERIODIC_SECONDS
        ):
            self._epoch_end_extras(trainer, force=True)  # a long epoch: every few seconds too
        if trainer.out_of_patience:
            with self._cond:
                if self._state == "running" and self._pending_reset is None:
                    self._stop_at_epoch_end = False
                    self._note = (f"stopped: {trainer.config.patience} validation checks without "
                                  f"a new best (best val {trainer.best_val:.4f} at step "
                                  f"{trainer.best_step})")
                    self._notes += 1
                    self._set_state("finished")
                    changed = True
        self._publish(force=changed or self._is_stale_state())

    def _unpack_unless_cancelled(self, saved: torch.Tensor) -> torch.Tensor:
        if self._cancel.is_set():
            raise Cancelled()  # out of loss.backward(), before the optimizer touches anything
        return saved

    def _is_stale_state(self) -> bool:
        snap = self._builder.latest
        return snap is None or snap.state != self._state

    def _epoch_end_extras(self, trainer: Trainer, force: bool) -> None:
        """Validate, then sample (labelled with that validation loss), at epoch ends and
        every PERIODIC_SECONDS of a long epoch, spending at most ~10% of the time on each."""
        cfg = trainer.config
        now = time.perf_counter()
        if trainer.val_X is not None and (force or now - self._last_val_at >= max(1.0, 10 * self._val_cost)):
            t0 = time.perf_counter()
            try:
                val = self._evaluate(trainer)
            except Cancelled:
                return
            self._last_val_at = time.perf_counter()
            self._val_cost = self._last_val_at - t0
            with self._cond:
                self._history.add_val(trainer.step_count, val)
        if cfg.sample_len and (force or now - self._last_sample_at >= max(0.25, 10 * self._sample_cost)):
            t0 = time.perf_counter()
            try:
                text = trainer.sample(cfg.prime, cfg.sample_len, self.sample_temperature,
                                      on_char=lambda ch: not self._cancel.is_set())
            except GRUError as exc:  # a prime outside a new text's vocabulary, say
                text = f"(no sample: {exc})"
            self._last_sample_at = time.perf_counter()
            self._sample_cost = self._last_sample_at - t0
            with self._cond:
                val_now = self._history.val_losses[-1][1] if self._history.val_losses else None
                self._samples.append(EpochSample(trainer.epoch, trainer.step_count, text, val_now))

    def _evaluate(self, trainer: Trainer) -> float:
        """Trainer.validate, cut short by the cancel event (a big validation part takes a while)."""
        return trainer.validate(self._cancel)

    def _fail(self, exc: BaseException, *, with_traceback: bool = True) -> None:
        """Publish a fault as state error; the worker then waits for the next command."""
        detail = None
        if with_traceback:
            detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with self._cond:
            if self._pending_reset is not None or self._closing:
                log.warning("training fault in a run being replaced or closed: %s", exc)
                return
            self._pending_steps = 0
            self._stop_at_epoch_end = False
            self._error = str(exc) if isinstance(exc, GRUError) else f"{type(exc).__name__}: {exc}"
            self._error_detail = detail
            self._set_state("error")
        try:
            self._publish(force=True)
        except Exception:  # noqa: BLE001 - the trace itself may be what fails
            self._publish(force=True, lean=True)

    # ================================================================ publishing
    def _publish(self, force: bool = False, lean: bool = False) -> None:
        """Publish a snapshot (on the worker only). lean: no new trace or gradients."""
        if not force and not self._builder.due():
            return
        try:
            snap = self._make_snapshot(force, lean)
        except Cancelled:
            return  # a reset or close is waiting; it publishes
        if snap is not None:
            self._board.post(snap)
            self._builder.published()

    def _make_snapshot(self, force: bool, lean: bool = False) -> Snapshot | None:
        """None while a reset waits: the new run's state must not show the old run's numbers."""
        with self._cond:
            if self._pending_reset is not None:
                return None
            steps_per_sec, chars_per_sec = self._rates.rates() if self._state == "running" else (0.0, 0.0)
            trainer = self._trainer
            facts = RunFacts(
                state=self._state, run_id=self._run_id, error=self._error, error_detail=self._error_detail,
                note=self._note, notes=self._notes, record=self._last_record,
                target_epochs=self._target_epochs, more_epochs=self._more_epochs,
                history=self._history.views(), samples=HistoryView(self._samples),
                steps_per_sec=steps_per_sec, chars_per_sec=chars_per_sec,
            )
        return self._builder.build(trainer, facts, force=force, lean=lean)
