"""TrainingSession: a Trainer in a worker thread, driven by plain method calls.

    UI thread                      worker thread                   delivery thread
    start() / step() / ... --->    takes commands between steps
                                   trains, publishes Snapshots --> calls subscribers with
                                   (at most max_rate per second)    the newest snapshot only

Commands never block on training: they record what was asked and return. The worker
applies them between batches (and, for close, between time steps too). Snapshots are
immutable: every tensor in one is a CPU copy that nothing writes again, so a UI can hold
one as long as it likes. A slow subscriber never slows training: while it is busy,
newer snapshots replace older ones (drop, never queue).

Threads: torch's intra-op pool is process-wide. `torch_threads` (default: leave torch's
setting alone) lets a UI keep a core for its event loop; the app passes one less than
the machine's cores when it has more than two, and measures the difference in the
benchmarks (tests/benchmarks).
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .config import TrainConfig
from .errors import GRUError
from .forward import Trace, forward_trace
from .history import History, HistoryView
from .model import GRUModel
from .sampling import Sample, check_sample_args, sample
from .trainer import Cancelled, StepRecord, Trainer, TrainingDiverged

STATES = ("idle", "running", "paused", "finished", "error")
TRACE_SEQUENCES = 4  # sequences of the batch traced for display (all of them when B <= 4)


@dataclass(frozen=True)
class EpochSample:
    epoch: int  # epochs completed when it was taken
    step: int
    text: str  # prime + generated


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
    val_losses: HistoryView  # (step, loss)
    uniform_loss: float  # ln V
    trace: Trace | None  # the current batch (first sequences) from the carried hidden state
    grads: dict[str, Tensor]  # last step's gradients by article name
    steps_per_sec: float
    chars_per_sec: float
    samples: HistoryView  # EpochSample, one per epoch end (rate-limited for tiny epochs)
    error: str | None
    error_detail: str | None  # traceback text, for a details view
    time: float = field(default_factory=time.time)

    @property
    def val_loss(self) -> float | None:
        return self.val_losses[-1][1] if len(self.val_losses) else None

    @property
    def bits_per_char(self) -> float | None:
        return None if self.loss is None else self.loss / math.log(2)


Subscriber = Callable[[Snapshot], None]


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
        if max_rate <= 0:
            raise GRUError(f"max_rate must be positive; got {max_rate}")
        if torch_threads is not None:
            torch.set_num_threads(max(1, int(torch_threads)))
        self._trainer = trainer if trainer is not None else Trainer(config or TrainConfig.default())
        self._history = history if history is not None else History()
        self._samples: list[EpochSample] = []
        self.max_rate = max_rate
        self.sample_temperature = sample_temperature

        self._cond = threading.Condition()  # guards everything below, wakes the worker
        self._state = "idle" if self._trainer.step_count == 0 else "paused"
        self._pending_steps = 0
        self._stop_at_epoch_end = False
        self._pending_reset: tuple[Trainer, History] | None = None
        self._pending_lr: float | None = None
        self._closing = False
        self._target_epochs = self._trainer.config.epochs
        self._error: str | None = None
        self._error_detail: str | None = None
        self._last_record: StepRecord | None = None
        self._rate_window: deque[tuple[float, int]] = deque(maxlen=64)

        self._weights_lock = threading.Lock()  # held while the optimizer writes the weights
        self._cancel = threading.Event()
        self._trainer.cancel_event = self._cancel

        self._seq = 0
        self._latest: Snapshot | None = None
        self._published = threading.Condition()
        self._last_publish = 0.0
        self._last_sample_at = -math.inf
        self._sample_cost = 0.0
        self._last_val_at = -math.inf
        self._val_cost = 0.0

        self._jobs: list[Callable[[Trainer, History], None]] = []
        self._subscribers: list[Subscriber] = []
        self._deliver_cond = threading.Condition()
        self._to_deliver: Snapshot | None = None

        self._publish(force=True)
        self._worker = threading.Thread(target=self._run, name="gru-train", daemon=True)
        self._delivery = threading.Thread(target=self._deliver_loop, name="gru-publish", daemon=True)
        self._worker.start()
        self._delivery.start()

    # ================================================================ commands
    def start(self) -> None:
        """Train continuously until config.epochs are done or pause() is called."""
        with self._cond:
            if self._closing or self._state == "running":
                return
            if self._trainer.epoch >= self._target_epochs:  # finished: go on for more
                self._target_epochs = self._trainer.epoch + self._trainer.config.epochs
            self._stop_at_epoch_end = False
            self._pending_steps = 0
            self._set_state("running")

    def pause(self) -> None:
        with self._cond:
            self._pending_steps = 0
            self._stop_at_epoch_end = False
            if self._state == "running":
                self._set_state("paused")

    def toggle(self) -> None:
        with self._cond:
            running = self._state == "running"
        self.pause() if running else self.start()

    def step(self) -> bool:
        """Train exactly one batch, unless already running (then False, nothing changes)."""
        with self._cond:
            if self._closing or self._state == "running":
                return False
            self._pending_steps += 1
            self._cond.notify_all()
            return True

    def run_epoch(self) -> bool:
        """Train the rest of the current epoch (a whole one at an epoch start), then pause."""
        with self._cond:
            if self._closing or self._state == "running":
                return False
            self._pending_steps = 0
            self._stop_at_epoch_end = True
            self._set_state("running")
            return True

    def reset(self, config: TrainConfig | None = None) -> None:
        """New weights from the seed (the same numbers again), optionally a new config.

        The new trainer is built here, first: an invalid config raises GRUError and the
        session goes on exactly as it was.
        """
        new_config = config if config is not None else self.config
        if not isinstance(new_config, TrainConfig):
            raise GRUError(f"reset takes a TrainConfig; got {type(new_config).__name__}")
        trainer = Trainer(new_config)
        with self._cond:
            if self._closing:
                return
            self._pending_reset = (trainer, History())
            self._cancel.set()  # stop a long step early: its result is thrown away anyway
            self._cond.notify_all()

    def adopt(self, trainer: Trainer, history: History) -> None:
        """Replace the run with a loaded one (a checkpoint), paused where it stopped."""
        with self._cond:
            if self._closing:
                return
            self._pending_reset = (trainer, history)
            self._cancel.set()
            self._cond.notify_all()

    def set_lr(self, value: float) -> None:
        """Takes effect from the next step, without a reset. GRUError if not a valid lr."""
        self.config.replace(lr=value)  # validates; raises GRUError with the reason
        with self._cond:
            self._pending_lr = float(value)
            self._cond.notify_all()

    def sample(
        self, prime: str, n: int, temperature: float = 1.0, *, top_k: int | None = None,
        generator: torch.Generator | None = None, on_char=None,
    ) -> Sample:
        """Sample from a consistent copy of the weights; training goes on meanwhile."""
        with self._cond:
            trainer = self._trainer
        check_sample_args(trainer.vocab, prime, n, temperature, top_k)
        model = self._copy_weights(trainer)
        gen = generator if generator is not None else trainer.sample_generator
        return sample(model, trainer.vocab, prime, n, temperature, top_k=top_k, generator=gen,
                      on_char=on_char)

    def with_trainer(self, fn: Callable[[Trainer, History], object]) -> object:
        """Run fn(trainer, history) between steps, with training held (for saving).

        Waits for the step in progress, at most one batch.
        """
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
                raise GRUError("the session is closed")
            self._jobs.append(job)
            self._cond.notify_all()
        while not done.wait(0.05):
            if not self._worker.is_alive():
                raise GRUError("the training thread has stopped")
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box.get("value")

    def close(self, timeout: float = 1.0) -> None:
        """Stop training and join the threads (within `timeout`, mid-epoch too)."""
        with self._cond:
            self._closing = True
            self._cancel.set()
            self._cond.notify_all()
        with self._deliver_cond:
            self._deliver_cond.notify_all()
        if threading.current_thread() is not self._worker:
            self._worker.join(timeout)
        if threading.current_thread() is not self._delivery:
            self._delivery.join(max(0.05, timeout / 4))

    def __enter__(self) -> "TrainingSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ================================================================ reading
    @property
    def config(self) -> TrainConfig:
        with self._cond:
            return self._trainer.config

    @property
    def state(self) -> str:
        with self._cond:
            return self._state

    @property
    def alive(self) -> bool:
        return self._worker.is_alive()

    def snapshot(self) -> Snapshot:
        """The latest published snapshot."""
        with self._published:
            assert self._latest is not None
            return self._latest

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """callback(snapshot) from the delivery thread, newest only; returns an unsubscribe."""
        with self._deliver_cond:
            self._subscribers.append(callback)
            if self._to_deliver is None:
                self._to_deliver = self._latest
            self._deliver_cond.notify_all()

        def unsubscribe() -> None:
            with self._deliver_cond:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float = 10.0) -> Snapshot:
        """Block until a published snapshot satisfies predicate; TimeoutError if none does."""
        deadline = time.monotonic() + timeout
        with self._published:
            while True:
                snap = self._latest
                if snap is not None and predicate(snap):
                    return snap
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no snapshot matched within {timeout} s; last: {snap and snap.state}")
                self._published.wait(min(left, 0.1))

    # ================================================================ worker
    def _set_state(self, state: str) -> None:
        """Caller holds self._cond."""
        self._state = state
        if state != "error":
            self._error = self._error_detail = None
        self._cond.notify_all()

    def _run(self) -> None:
        while True:
            try:
                if not self._run_once():
                    return
            except BaseException as exc:  # never die: publish and take the next command
                self._fail(exc)

    def _run_once(self) -> bool:
        """One pass of the worker loop; False when closing."""
        with self._cond:
            while not (self._closing or self._pending_reset or self._jobs
                       or self._pending_lr is not None or self._pending_steps
                       or self._state == "running"):
                self._cond.wait()
            if self._closing:
                self._publish(force=True)
                return False
            jobs, self._jobs = self._jobs, []
            if self._pending_reset is not None:
                trainer, history = self._pending_reset
                self._pending_reset = None
                self._cancel.clear()
                self._trainer, self._history, self._samples = trainer, history, []
                trainer.cancel_event = self._cancel
                self._target_epochs = trainer.config.epochs
                self._pending_steps = 0
                self._stop_at_epoch_end = False
                self._last_record = None
                self._rate_window.clear()
                self._last_sample_at = self._last_val_at = -math.inf
                self._set_state("idle" if trainer.step_count == 0 else "paused")
                publish_now = True
            else:
                publish_now = False
            if self._pending_lr is not None:
                self._trainer.set_lr(self._pending_lr)
                self._pending_lr = None
                publish_now = True
            trainer = self._trainer
            do_step = self._state == "running" or self._pending_steps > 0
            single = self._state != "running"
            if single and self._pending_steps:
                self._pending_steps -= 1
        for job in jobs:
            job(trainer, self._history)
        if do_step:
            self._train_one(trainer, single)
        elif publish_now or jobs:
            self._publish(force=True)
        return True

    def _train_one(self, trainer: Trainer, single: bool) -> None:
        try:
            with self._weights_lock:
                record = trainer.step()
        except Cancelled:
            return  # a reset or close is waiting; its handling publishes
        except TrainingDiverged as exc:
            with self._cond:
                self._pending_steps = 0
                self._stop_at_epoch_end = False
                self._error, self._error_detail = str(exc), None
                self._state = "error"
            self._publish(force=True)
            return
        with self._cond:
            if trainer is not self._trainer:
                return
            self._last_record = record
            self._history.add_step(record.loss)
            self._rate_window.append((time.perf_counter(), trainer.chars_per_step))
            epoch_end = trainer.batch_index == 0
            if epoch_end:
                n = trainer.num_batches
                self._history.add_epoch(sum(self._history.losses[-n:]) / n)
            finished = epoch_end and trainer.epoch >= self._target_epochs
            state_changed = False
            if single:
                if self._state in ("idle", "finished", "error"):
                    self._state = "paused"
                state_changed = True
            elif finished:
                self._set_state("finished")
                state_changed = True
            elif epoch_end and self._stop_at_epoch_end:
                self._stop_at_epoch_end = False
                self._set_state("paused")
                state_changed = True
            if self._state != "error":
                self._error = self._error_detail = None
        if epoch_end:
            self._epoch_end_extras(trainer, force=state_changed or single)
        self._publish(force=state_changed)

    def _epoch_end_extras(self, trainer: Trainer, force: bool) -> None:
        """Sample and validate at epoch ends, spending at most ~10% of the time on each."""
        now = time.perf_counter()
        cfg = trainer.config
        if cfg.sample_len and (force or now - self._last_sample_at >= max(0.25, 10 * self._sample_cost)):
            t0 = time.perf_counter()
            try:
                text = trainer.sample(cfg.prime, cfg.sample_len, self.sample_temperature)
            except GRUError as exc:  # a prime outside a new text's vocabulary, say
                text = f"(no sample: {exc})"
            self._sample_cost = time.perf_counter() - t0
            self._last_sample_at = time.perf_counter()
            with self._cond:
                self._samples.append(EpochSample(trainer.epoch, trainer.step_count, text))
        if trainer.val_X is not None and (
            force or now - self._last_val_at >= max(1.0, 10 * self._val_cost)
        ):
            t0 = time.perf_counter()
            val = trainer.evaluate()
            self._val_cost = time.perf_counter() - t0
            self._last_val_at = time.perf_counter()
            if val is not None:
                with self._cond:
                    self._history.add_val(trainer.step_count, val)

    def _fail(self, exc: BaseException) -> None:
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with self._cond:
            self._pending_steps = 0
            self._stop_at_epoch_end = False
            self._error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, GRUError) else str(exc)
            self._error_detail = detail
            self._state = "error"
        try:
            self._publish(force=True)
        except BaseException:  # noqa: BLE001 - publishing must not kill the worker either
            pass

    def _copy_weights(self, trainer: Trainer) -> GRUModel:
        with self._weights_lock:
            return trainer.model.detached_copy()

    # ================================================================ publishing
    def _publish(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_publish < 1.0 / self.max_rate:
            return
        self._last_publish = now
        with self._cond:
            trainer, history = self._trainer, self._history
            state, error, detail = self._state, self._error, self._error_detail
            record, target = self._last_record, self._target_epochs
            losses, epoch_losses, val_losses = history.views()
            samples = HistoryView(self._samples)
            window = list(self._rate_window)
        trace = self._current_trace(trainer)
        grads = {k: v.detach().to("cpu", copy=True) for k, v in trainer.last_grads.items()}
        steps_per_sec = chars_per_sec = 0.0
        if state == "running" and len(window) >= 2:
            span = window[-1][0] - window[0][0]
            if span > 0:
                steps_per_sec = (len(window) - 1) / span
                chars_per_sec = sum(c for _, c in window[1:]) / span
        with self._published:
            self._seq += 1
            snap = Snapshot(
                seq=self._seq, state=state, config=trainer.config, vocab=trainer.vocab.chars,
                epoch=trainer.epoch, target_epochs=target, step=trainer.step_count,
                batch=trainer.batch_index, num_batches=trainer.num_batches, lr=trainer.lr,
                loss=record.loss if record else None,
                grad_norm=record.grad_norm if record else None,
                losses=losses, epoch_losses=epoch_losses, val_losses=val_losses,
                uniform_loss=trainer.uniform_loss, trace=trace, grads=grads,
                steps_per_sec=steps_per_sec, chars_per_sec=chars_per_sec, samples=samples,
                error=error, error_detail=detail,
            )
            self._latest = snap
            self._published.notify_all()
        with self._deliver_cond:
            self._to_deliver = snap
            self._deliver_cond.notify_all()

    @torch.no_grad()
    def _current_trace(self, trainer: Trainer) -> Trace:
        """The batch about to be trained, from the hidden state carried into it."""
        i = trainer.batch_index
        k = min(trainer.config.batch_size, TRACE_SEQUENCES)
        h0 = trainer.h[:k] if i != 0 else trainer.model.zero_state(k)
        x, y = trainer.X[i][:, :k], trainer.Y[i][:, :k]
        # No lock: this runs on the worker, the only thread that writes the weights.
        return forward_trace(trainer.model, x, y, h0).detached_cpu()

    def _deliver_loop(self) -> None:
        delivered = None
        while True:
            with self._deliver_cond:
                while not self._closing and (self._to_deliver is None or self._to_deliver is delivered):
                    self._deliver_cond.wait(0.5)
                if self._closing:
                    return
                snap, subscribers = self._to_deliver, list(self._subscribers)
            delivered = snap
            for callback in subscribers:
                try:
                    callback(snap)
                except Exception:  # noqa: BLE001 - a broken subscriber must not stop others
                    pass
