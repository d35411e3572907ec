"""The one training loop: steps, the learning-rate schedule, checks, the guard, the end.

Every front end trains through TrainingLoop: the app's session worker (one `step()` per
pass, between commands), `gru-tui train` (`run()`), and library users. It knows nothing of
its listeners (minGPT's callbacks): what happened comes back as a StepOutcome, and a
Listener hears each step, check, epoch end and event as it happens.

What one `step()` does, in order:
1. one batch (Trainer.step: the schedule sets its learning rate);
2. the divergence guard: when the smoothed training loss rises GUARD_RISE nats above its
   best, passes ln V (the loss of a uniform guess) after it was well below, or the step's
   loss or gradients are not finite, the weights, optimizer moments and learning rate of
   the last good check are put back and the learning rate is halved (an Event says so);
3. a check every `check_every` steps within an epoch (about CHECKS_PER_EPOCH an epoch, or
   config.val_every) and at every epoch end: validation (the best weights are kept) and a
   sample at `sample_temperature` (the same DEFAULT_TEMPERATURE everywhere);
4. the end: config.epochs done, or config.patience checks without a new best. With
   end_at_best the run then ends on its best weights, when validation found better ones
   than the last (an Event says so).

Validation cadence is counted in steps, never in seconds, so the same settings and seed
give the same losses, checks and samples in the app, headless and from Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .config import CHECKS_PER_EPOCH
from .errors import Cancelled, GRUError
from .formatting import fixed, significant
from .history import History
from .trainer import StepRecord, Trainer, TrainingDiverged

DEFAULT_TEMPERATURE = 1.0  # samples at checks: the model's own probabilities
GUARD_WINDOW = 50  # steps the guard smooths the training loss over (an exponential mean),
GUARD_CHARS = 25_000  # or more, so the mean is over this many characters: a batch of 4
# characters has a loss that jumps by nats from one step to the next, and the lowest point
# of a mean over few of them lies far below its level
GUARD_RISE = 1.0  # nats above the best smoothed loss: diverging
GUARD_ARM_MARGIN = 0.5  # ln V counts once the smoothed loss was this far below it
GUARD_VAL_MARGIN = 0.1  # nats above the best validation: weights too far gone to come back to
GUARD_RECENT = 5  # steps whose own mean must be near the best for weights to count as good
GUARD_LR_FACTOR = 0.5
GUARD_MAX_RECOVERIES = 8  # then the run stops with an error: the lr is 1/256 of where it was


@dataclass(frozen=True)
class Event:
    """Something a user must hear about, as data: the front end words and places it.

    kind: "diverged" (the guard put good weights back), "patience" (stopped: no new best),
    "best_restored" (the run ended on its best weights). message: one plain line (no key
    names) for front ends that show it as it is, within 80 columns for runs of under 100,000
    steps (the status line's width at 80x24). figures: the numbers in it, by name.
    """

    step: int
    kind: str
    message: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepOutcome:
    record: StepRecord | None  # None: the step diverged and the guard undid it
    epoch_end: bool = False
    checked: bool = False
    val: float | None = None
    sample: str | None = None
    events: list[Event] = field(default_factory=list)
    finished: str | None = None  # "epochs" or "patience" when the run ended with this step


class Listener:
    """What a front end hears, as it happens; every method is optional."""

    def on_step(self, loop: TrainingLoop, record: StepRecord, epoch_end: bool) -> None: ...

    def on_check(self, loop: TrainingLoop, val: float | None, sample: str | None) -> None: ...

    def on_epoch_end(self, loop: TrainingLoop, epoch: int, mean_loss: float) -> None: ...

    def on_event(self, loop: TrainingLoop, event: Event) -> None: ...


class TrainingLoop:
    """Drives one Trainer and records into one History; single-threaded like the Trainer."""

    def __init__(
        self, trainer: Trainer, history: History | None = None, *, listener: Listener | None = None,
        sample_temperature: float = DEFAULT_TEMPERATURE, end_at_best: bool = True,
    ) -> None:
        self.trainer = trainer
        self.history = history if history is not None else History()
        self.listener = listener or Listener()
        self.sample_temperature = sample_temperature
        self.end_at_best = end_at_best
        self._ema: float | None = None  # the smoothed training loss
        self._best_ema = math.inf
        self._recoveries = 0
        recent = self.history.losses[-self.guard_window:]
        if recent:  # a resumed run: the guard starts from where it was
            self._ema = self._best_ema = sum(recent) / len(recent)
        # The guard's copies. A copy taken at a check is only a candidate: the update just
        # before it may already have spoiled the weights (one step at a wild lr does), and
        # an lr set just before it is in it before its harm shows. It becomes the good
        # copy, the one a recovery goes back to, when the next check finds the run healthy.
        copy = trainer.good_state() if trainer.config.guard else None
        self._good: dict[str, Any] | None = copy
        self._candidate: dict[str, Any] | None = copy
        self._good_ema = self._candidate_ema = self._ema

    # ------------------------------------------------------------------ facts
    @property
    def check_every(self) -> int:
        """Steps between checks within an epoch (an epoch's end is always one)."""
        return self.trainer.config.check_every(self.trainer.num_batches)

    @property
    def guard_window(self) -> int:
        """Steps the guard's mean of the training loss spans (GUARD_WINDOW, GUARD_CHARS)."""
        return max(GUARD_WINDOW, math.ceil(GUARD_CHARS / self.trainer.chars_per_step))

    @property
    def finished(self) -> bool:
        return self.trainer.epoch >= self.trainer.config.epochs

    # ------------------------------------------------------------------ the loop
    def run(self, epochs: int | None = None) -> str:
        """Train until the run ends ("epochs" or "patience"); KeyboardInterrupt passes through."""
        if epochs is not None:
            self.trainer.config = self.trainer.config.replace(epochs=epochs)
        while True:
            outcome = self.step()
            if outcome.finished:
                return outcome.finished

    def step(self) -> StepOutcome:
        """One batch, then the guard, a check when one is due, and the end when it comes."""
        trainer, cfg = self.trainer, self.trainer.config
        try:
            record = trainer.step()
        except TrainingDiverged as exc:
            if not cfg.guard or self._good is None:
                raise
            return StepOutcome(None, events=[self._recover(str(exc).split(" at step")[0])])
        epoch_end = trainer.batch_index == 0
        self.history.add_step(record.loss, epoch_end=epoch_end)
        self.listener.on_step(self, record, epoch_end)
        outcome = StepOutcome(record, epoch_end=epoch_end)
        diverged = self._watch(record.loss)
        if diverged is not None:
            outcome.events.append(self._recover(diverged))
            return outcome
        done_in_epoch = trainer.num_batches if epoch_end else trainer.batch_index
        if epoch_end or done_in_epoch % self.check_every == 0:
            outcome.checked = True
            outcome.val, outcome.sample = self.check()
        if epoch_end:
            self.listener.on_epoch_end(self, trainer.epoch, self.history.epoch_losses[-1])
        if trainer.out_of_patience:
            outcome.finished = "patience"
            outcome.events.append(self._event(
                "patience",
                f"stopped: {cfg.patience} validation checks without a new best (best val "
                f"{fixed(trainer.best_val)} at step {trainer.best_step})",
                patience=cfg.patience, best_val=trainer.best_val, best_step=trainer.best_step))
        elif epoch_end and trainer.epoch >= cfg.epochs:
            outcome.finished = "epochs"
        if outcome.finished:
            trainer.checks_since_best = 0  # a run continued after its end gets its patience anew
        if outcome.finished and self.end_at_best:
            restored = self.end_on_best(outcome.val)
            if restored is not None:
                outcome.events.append(restored)
        return outcome

    def check(self) -> tuple[float | None, str | None]:
        """Validate (keeping the best weights) and sample now; the guard's copy is renewed."""
        trainer, cfg = self.trainer, self.trainer.config
        val = trainer.validate(trainer.cancel_event)
        if val is not None:
            self.history.add_val(trainer.step_count, val)
        text = None
        if cfg.sample_len:
            cancel = trainer.cancel_event
            try:
                text = trainer.sample(cfg.prime, cfg.sample_len, self.sample_temperature,
                                      on_char=None if cancel is None else lambda ch: not cancel.is_set())
            except GRUError as exc:  # a prime outside a new text's vocabulary, say
                text = f"(no sample: {exc})"
        # validation can see a slide the training loss hides (seen on a changelog: the epoch's
        # weights scored 0.13 above the best before the training loss rose a nat)
        sliding = val is not None and val > (trainer.best_val or val) + GUARD_VAL_MARGIN
        if cfg.guard and self._healthy() and not sliding:
            self._good, self._good_ema = self._candidate, self._candidate_ema
            self._candidate, self._candidate_ema = trainer.good_state(), self._ema
        self.listener.on_check(self, val, text)
        return val, text

    def end_on_best(self, last_val: float | None = None) -> Event | None:
        """Put the best weights back if validation scored them better than the last; the Event."""
        trainer = self.trainer
        if trainer.best_state is None:
            return None
        if last_val is None:
            last_val = trainer.evaluate(trainer.cancel_event)
        if last_val is None or last_val <= trainer.best_val:
            return None
        step = trainer.restore_best()
        self.history.add_val(trainer.step_count, trainer.best_val)  # what the weights now score
        return self._event(
            "best_restored",
            f"ended on the best weights: val {fixed(trainer.best_val)} from step {step} "
            f"(the last scored {fixed(last_val)})",
            best_val=trainer.best_val, best_step=step, last_val=last_val)

    # ------------------------------------------------------------------ the guard
    def _watch(self, loss: float) -> str | None:
        """Feed the guard one step's loss; why the run is diverging, or None."""
        if not self.trainer.config.guard:
            return None
        window = self.guard_window
        alpha = 2 / (window + 1)
        self._ema = loss if self._ema is None else self._ema + alpha * (loss - self._ema)
        if len(self.history.losses) < window // 2:  # the mean is still mostly its first steps
            return None
        self._best_ema = min(self._best_ema, self._ema)
        uniform = self.trainer.uniform_loss
        if self._ema > self._best_ema + GUARD_RISE:
            return f"loss {fixed(self._ema, 2)}, best {fixed(self._best_ema, 2)}"
        if self._best_ema < uniform - GUARD_ARM_MARGIN and self._ema > uniform:
            return f"loss {fixed(self._ema, 2)} > ln V {fixed(uniform, 2)}"
        return None

    def _healthy(self) -> bool:
        """Are these weights good enough to come back to? The smoothed loss lags a sudden
        rise, so the last few steps' own losses must be near the best too."""
        if self._ema is None:
            return True
        near = self._best_ema + GUARD_RISE / 4
        last = self.history.losses[-GUARD_RECENT:]
        return self._ema <= near and sum(last) / len(last) <= near

    def _recover(self, why: str) -> Event:
        trainer = self.trainer
        step = trainer.step_count
        self._recoveries += 1
        if self._recoveries > GUARD_MAX_RECOVERIES:
            raise TrainingDiverged(
                f"diverged {self._recoveries} times; {why} at step {step} even at lr "
                f"{significant(trainer.lr, 2)}: lower the learning rate or turn on clipping")
        good = self._good
        trainer.restore_good(good, trainer.lr_scale * GUARD_LR_FACTOR)
        self._candidate, self._ema = good, self._good_ema
        return self._event(
            "diverged",
            f"diverged at step {step} ({why}): back to step {good['step']}, lr {significant(trainer.lr, 2)}",
            at_step=step, back_to=good["step"], lr=trainer.lr, why=why)

    def _event(self, kind: str, message: str, **figures: Any) -> Event:
        event = Event(self.trainer.step_count, kind, message, figures)
        self.history.add_event(event.step, kind, message)
        self.listener.on_event(self, event)
        return event


__all__ = ["CHECKS_PER_EPOCH", "DEFAULT_TEMPERATURE", "Cancelled", "Event", "Listener", "StepOutcome",
           "TrainingLoop"]
