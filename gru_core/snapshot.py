"""What a training session looks like at one moment: the Snapshot a UI draws.

Immutable: every tensor a CPU copy that nothing writes again, the histories views of
append-only lists, so a UI can keep one as long as it likes. The worker builds them
(snapshot_builder.py) and posts them on a SnapshotBoard (snapshot_board.py).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .history import HistoryView

if TYPE_CHECKING:  # the types of fields only: a snapshot holds them, it never computes them
    from torch import Tensor

    from .advice import Advice
    from .batch_detail import BatchDetail
    from .config import TrainConfig
    from .forward import Trace


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
    state: str  # idle, running, paused, finished, error (session_state.STATES)
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
