"""TrainingSession: a Trainer in a worker thread, driven by plain method calls.

    UI thread                      worker thread
    start() / step() / ... --->    takes commands between steps
    snapshot() / wait_for() <---   trains, publishes Snapshots (the newest wins)

Commands never wait for training: they record what was asked and return (set_lr and
sample wait at most for one optimizer update, under the Trainer's weights lock). The worker
(session_worker.py) applies them between batches; reset and close also cut a step short
(the cancel event is checked between time steps, in the forward and in the backward,
manual or autograd).
Commands take effect in the order they were called: `reset(); start()` trains the new run.

State machine (STATES, TRANSITIONS in session_state.py, which holds what commands and
worker share, under one lock; SessionState.set_state raises on any change not listed):

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
and posts them on a SnapshotBoard (snapshot_board.py). `snapshot()` and `wait_for()` see each
one as soon as it is posted; a newer one replaces the older (drop, never queue), so a slow
reader never slows training. The app reads `snapshot()` on a timer.

Threads: torch's intra-op pool is process-wide, but with OpenMP the count a thread
uses is fixed when it first runs an op. `torch_threads` is applied inside the worker
thread (None: leave torch's setting alone, as the headless CLI does). The app passes
`ui_torch_threads()` (gru_core/threads.py, which says why): all cores but one where there
are more than two, one on one or two. `gru-tui` also asks OpenMP to wait passively before
torch loads (`prefer_passive_openmp`): spinning threads beside one busy process trained at
0.04x of their quiet speed. `--threads N` sets the count by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch

from .config import TrainConfig
from .errors import GRUError
from .formatting import fixed
from .history import History
from .loop import DEFAULT_TEMPERATURE
from .sampling import Sample, check_sample_args, sample
from .session_state import STATES, SessionState
from .session_worker import SessionWorker
from .snapshot import EpochSample, Snapshot
from .snapshot_builder import check_rate
from .threads import check_threads, ui_torch_threads
from .trainer import Trainer

__all__ = ["STATES", "EpochSample", "Snapshot", "TrainingSession", "ui_torch_threads"]


class TrainingSession:
    """Owns a Trainer and one worker thread. All methods are safe from any thread."""

    def __init__(
        self,
        config: TrainConfig | None = None,
        *,
        max_rate: float = 8.0,
        torch_threads: int | None = None,
        sample_temperature: float = DEFAULT_TEMPERATURE,
        trainer: Trainer | None = None,
        history: History | None = None,
    ) -> None:
        self.max_rate = check_rate(max_rate)
        if torch_threads is not None:
            check_threads(torch_threads, "torch_threads")
        trainer = trainer if trainer is not None else Trainer(config or TrainConfig.default())
        self._s = SessionState(trainer, history if history is not None else History(), sample_temperature)
        self._cond = self._s.cond
        self._worker = SessionWorker(self._s, self.max_rate, torch_threads)
        self._board = self._worker.board

    @property
    def sample_temperature(self) -> float:
        """The temperature of the samples taken at epoch ends."""
        return self._s.sample_temperature

    @sample_temperature.setter
    def sample_temperature(self, value: float) -> None:
        self._s.sample_temperature = value

    # ================================================================ commands
    def start(self) -> None:
        """Train continuously until config.epochs are done (finished) or pause() is called.

        From finished, trains as many epochs again (see SessionState._continue_finished).
        """
        self._s.command_run(stop_at_epoch_end=False)

    def pause(self) -> None:
        """Stop after the step in progress (and drop steps asked for but not yet taken)."""
        self._s.command_pause()

    def toggle(self) -> None:
        with self._cond:
            self.pause() if self._s.state == "running" else self.start()

    def step(self) -> bool:
        """Train exactly one batch, unless running (then False, and nothing changes)."""
        return self._s.command_step()

    def run_epoch(self) -> bool:
        """Train the rest of the current epoch (a whole one at an epoch start), then pause."""
        return self._s.command_run(stop_at_epoch_end=True)

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
        if self._s.closing:
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
        self._s.install(trainer, History(), keep_lr=config is None)

    def adopt(self, trainer: Trainer, history: History | None = None) -> None:
        """Replace the run with a loaded one (a checkpoint), paused where it stopped."""
        if not isinstance(trainer, Trainer):
            raise GRUError(f"adopt takes a Trainer; got {type(trainer).__name__}")
        if history is not None and not isinstance(history, History):
            raise GRUError(f"adopt takes a History or None; got {type(history).__name__}")
        self._s.install(trainer, history if history is not None else History(), keep_lr=False)

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
                note = (f"restored the best weights: val {fixed(trainer.best_val)} from step {step} "
                        f"(training goes on from them)")
            self._s.add_note(note)

        self._s.add_job(job)  # nothing to do once closed

    def set_lr(self, value: float) -> None:
        """Takes effect from the next update, without a reset. GRUError if not a valid lr.

        Waits at most for one optimizer update (Trainer.set_lr), not a whole step.
        """
        self._s.command_set_lr(value)

    def sample(
        self, prime: str, n: int, temperature: float = 1.0, *, top_k: int | None = None,
        generator: torch.Generator | None = None, on_char: Callable[[str], object] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Sample:
        """Sample from a consistent copy of the weights; training goes on meanwhile.

        Waits at most for one optimizer update, not a whole step. Without a generator it
        draws from torch's global one; pass a seeded generator for repeatable samples.
        """
        trainer = self._s.next_trainer()
        check_sample_args(trainer.vocab, prime, n, temperature, top_k)
        model = trainer.copy_model()
        return sample(model, trainer.vocab, prime, n, temperature, top_k=top_k, generator=generator,
                      on_char=on_char, cancelled=cancelled)

    def with_trainer(self, fn: Callable[[Trainer, History], object]) -> object:
        """Run fn(trainer, history) on the worker between steps, training held (for saving).

        Waits for the step in progress, at most one batch; fn's exception is raised here.
        """
        if threading.current_thread() is self._worker.thread:
            return fn(self._s.trainer, self._s.history)
        done = threading.Event()
        box: dict[str, object] = {}

        def job(trainer: Trainer, history: History) -> None:
            try:
                box["value"] = fn(trainer, history)
            except BaseException as exc:  # handed back to the caller's thread
                box["error"] = exc
            finally:
                done.set()

        if not self._s.add_job(job):
            raise GRUError("the session is closed; start a new one")
        while not done.wait(0.05):
            if not self._worker.thread.is_alive():
                raise GRUError("the training thread has stopped (the session was closed)")
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box.get("value")

    def close(self, timeout: float = 1.0) -> None:
        """Stop training and join the worker thread within `timeout`, mid-epoch too."""
        self._s.command_close()
        if self._worker.thread is not threading.current_thread():
            self._worker.thread.join(max(0.01, timeout))

    def __enter__(self) -> TrainingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ================================================================ reading
    @property
    def config(self) -> TrainConfig:
        """The config of the run (of the new one, right after reset)."""
        with self._cond:
            return self._s.next_trainer().config

    @property
    def state(self) -> str:
        with self._cond:
            return self._s.state

    @property
    def alive(self) -> bool:
        return self._worker.thread.is_alive()

    def snapshot(self) -> Snapshot:
        """The latest published snapshot."""
        return self._board.latest

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float = 10.0) -> Snapshot:
        """Block until a published snapshot satisfies predicate; TimeoutError if none does."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            raise GRUError(f"timeout must be a number of seconds, 0 or more (inf waits for ever); "
                           f"got {timeout!r}")
        return self._board.wait_for(predicate, timeout)
