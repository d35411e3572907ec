"""Building the snapshots a TrainingSession publishes, on its worker thread.

The session reads its own side (state, note, history views, rates) under its lock into
one RunFacts; SnapshotBuilder adds the trainer's side (the trace of the batch about to
be trained, the last gradients, what explains them) and decides how often:

- publishing: at most `max_rate` snapshots a second, unless forced (a state change, a
  single step, a command's outcome);
- tracing: the trace costs a good part of a step for a big model, so while running it
  is refreshed only as often as it costs at most ~10% of the time; a forced publication
  traces the current batch, a lean one traces nothing (the previous trace stays).

The trace is taken TRACE_CHUNK time steps at a time, so that reset and close (the cancel
event) cut it short with Cancelled.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .advice import training_advice
from .batch_detail import BatchDetail, batch_detail, model_weights
from .errors import Cancelled, GRUError
from .formatting import setting
from .forward import Trace, forward_trace
from .history import HistoryView, HistoryViews
from .snapshot import Snapshot
from .trainer import StepRecord, Trainer

TRACE_SEQUENCES = 4  # sequences of the batch traced for display (all of them when B <= 4)
TRACE_CHUNK = 32  # time steps traced between two looks at the cancel event
# The rest of the batch is traced for its gradients a part at a time, each part at most
# about this many numbers in one [T, b, max(H, V)] tensor (the readable BPTT keeps ~15 such).
PART_NUMBERS = 1 << 21

# Snapshots a second: below 0.01 the wait between two outgrows any use (1e-300 outgrew the
# clock); above 1000 they would come faster than a screen can draw.
MIN_RATE, MAX_RATE = 0.01, 1000.0


def check_rate(max_rate: object) -> float:
    if isinstance(max_rate, bool) or not isinstance(max_rate, (int, float)) or not (
        MIN_RATE <= max_rate <= MAX_RATE
    ):
        raise GRUError(f"max_rate must be from {setting(MIN_RATE)} to {setting(MAX_RATE)} snapshots a "
                       f"second, e.g. 8; got {max_rate!r}")
    return float(max_rate)


class RateWindow:
    """Steps and characters a second over the last `size` steps (only while running)."""

    def __init__(self, size: int = 64) -> None:
        self._window: deque[tuple[float, int]] = deque(maxlen=size)

    def add(self, chars: int) -> None:
        self._window.append((time.perf_counter(), chars))

    def clear(self) -> None:
        self._window.clear()

    def rates(self) -> tuple[float, float]:
        """(steps_per_sec, chars_per_sec); 0s until two steps are in."""
        window = list(self._window)
        if len(window) < 2:
            return 0.0, 0.0
        span = window[-1][0] - window[0][0]
        if span <= 0:
            return 0.0, 0.0
        return (len(window) - 1) / span, sum(c for _, c in window[1:]) / span


@dataclass(frozen=True)
class RunFacts:
    """The session's side of a snapshot, read under its lock in one go."""

    state: str
    run_id: int
    error: str | None
    error_detail: str | None
    note: str | None
    notes: int
    record: StepRecord | None  # the last step (None: none yet in this run)
    target_epochs: int
    more_epochs: int
    history: HistoryViews
    samples: HistoryView
    steps_per_sec: float
    chars_per_sec: float


@torch.no_grad()
def trace_batch(trainer: Trainer, cancel: threading.Event) -> Trace:
    """The batch about to be trained, its first TRACE_SEQUENCES sequences (the ones
    shown), from the hidden state carried into it. See trace_sequences."""
    return trace_sequences(trainer, 0, min(trainer.config.batch_size, TRACE_SEQUENCES), cancel)


@torch.no_grad()
def trace_sequences(trainer: Trainer, first: int, stop: int, cancel: threading.Event) -> Trace:
    """Sequences first … stop-1 of the batch about to be trained, from the hidden state
    carried into it.

    Traced TRACE_CHUNK time steps at a time, checking `cancel` between pieces; the
    pieces join into exactly the trace of the whole batch. Run it on the thread that
    steps the trainer (the only one that writes the weights): it takes no lock.
    """
    i = trainer.batch_index
    h = trainer.h[first:stop] if i != 0 else trainer.model.zero_state(stop - first)
    x, y = (t[:, first:stop] for t in trainer.batch(i))  # [T, stop - first]
    pieces = []
    for t in range(0, x.shape[0], TRACE_CHUNK):
        if cancel.is_set():
            raise Cancelled()
        piece = forward_trace(trainer.model, x[t:t + TRACE_CHUNK], y[t:t + TRACE_CHUNK], h)
        pieces.append(piece)
        h = piece.h[-1]
    if len(pieces) == 1:
        return pieces[0].detached_cpu()
    joined = {name: torch.cat([getattr(p, name) for p in pieces]) for name in Trace.__dataclass_fields__
              if name != "loss"}
    return Trace(loss=joined["term3"].mean(), **joined).detached_cpu()  # loss = mean_t term3


def other_sequences(trainer: Trainer, shown: int, cancel: threading.Event) -> Iterator[Trace]:
    """The traces of the batch's sequences after the first `shown`, a part at a time."""
    cfg = trainer.config
    part = max(1, PART_NUMBERS // (cfg.seq_len * max(cfg.hidden_size, trainer.vocab.size)))
    for first in range(shown, cfg.batch_size, part):
        yield trace_sequences(trainer, first, min(cfg.batch_size, first + part), cancel)


def detail_of(trainer: Trainer, trace: Trace, cancel: threading.Event) -> BatchDetail:
    """The backward pass of the whole batch `trace` shows the first sequences of: the
    gradients the step applies, and the shown sequences' deltas that explain them."""
    return batch_detail(model_weights(trainer.model), trace, trainer.config.reset, cancel,
                        others=other_sequences(trainer, int(trace.x.shape[1]), cancel),
                        batch_size=trainer.config.batch_size, clip=trainer.config.clip)


class SnapshotBuilder:
    """Makes Snapshots from a trainer and RunFacts, and throttles their publication."""

    def __init__(self, max_rate: float, cancel: threading.Event) -> None:
        self.max_rate = check_rate(max_rate)
        self.latest: Snapshot | None = None  # the last one built
        self._cancel = cancel
        self._seq = 0
        self._last_publish = -math.inf
        self._last_trace_at = -math.inf
        self._trace_cost = 0.0

    def due(self) -> bool:
        """Has 1 / max_rate passed since the last publication?"""
        return time.perf_counter() - self._last_publish >= 1.0 / self.max_rate

    def published(self) -> None:
        self._last_publish = time.perf_counter()

    def build(self, trainer: Trainer, facts: RunFacts, *, force: bool, lean: bool) -> Snapshot:
        """The next snapshot. Cancelled when the cancel event cuts its trace short."""
        previous = self.latest
        same_run = previous is not None and previous.run_id == facts.run_id
        if not lean:
            grads = {k: v.detach().to("cpu", copy=True) for k, v in trainer.last_grads.items()}
        elif same_run and previous.step == trainer.step_count:
            grads = previous.grads
        else:
            grads = {}
        now = time.perf_counter()
        if not lean and (force or not same_run or previous.trace is None
                         or now - self._last_trace_at >= 10 * self._trace_cost):
            trace, trace_step, trace_batch_index = (trace_batch(trainer, self._cancel), trainer.step_count,
                                                    trainer.batch_index)
            detail = detail_of(trainer, trace, self._cancel)
            self._last_trace_at = time.perf_counter()
            self._trace_cost = self._last_trace_at - now
        elif same_run:
            trace, trace_step, trace_batch_index = previous.trace, previous.trace_step, previous.trace_batch
            detail = previous.detail
        else:
            trace, trace_step, trace_batch_index, detail = None, 0, 0, None
        views, record = facts.history, facts.record
        with trainer.weights_lock:  # set_lr (any thread) changes the two together
            config, lr = trainer.config, trainer.lr
        self._seq += 1
        self.latest = Snapshot(
            seq=self._seq, state=facts.state, config=config, vocab=trainer.vocab.chars,
            epoch=trainer.epoch, target_epochs=facts.target_epochs, step=trainer.step_count,
            batch=trainer.batch_index, num_batches=trainer.num_batches, lr=lr,
            loss=record.loss if record else (views.losses[-1] if len(views.losses) else None),  # a loaded run
            grad_norm=record.grad_norm if record else None,
            losses=views.losses, epoch_losses=views.epoch_losses, epoch_steps=views.epoch_steps,
            val_losses=views.val_losses,
            uniform_loss=trainer.uniform_loss, trace=trace, grads=grads,
            steps_per_sec=facts.steps_per_sec, chars_per_sec=facts.chars_per_sec, samples=facts.samples,
            error=facts.error, error_detail=facts.error_detail, run_id=facts.run_id, trace_step=trace_step,
            more_epochs=facts.more_epochs, best_val=trainer.best_val, best_step=trainer.best_step,
            note=facts.note, notes=facts.notes,
            advice=training_advice(views.losses, views.val_losses, trainer.uniform_loss, lr),
            trace_batch=trace_batch_index, detail=detail, val_note=trainer.val_note, events=views.events,
        )
        return self.latest
