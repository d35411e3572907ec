"""What to tell a user whose run is going wrong, from the loss histories alone.

Three cases besides NaN (which the divergence guard undoes, gru_core/loop.py, or, with the
guard off, stops training: trainer.TrainingDiverged), each named for what the losses do,
with its own remedy:

- diverging: the training loss, after it had come down, rose again: its mean over the
  last ADVICE_WINDOW steps is DIVERGE_RISE nats above the best such mean of the last
  DIVERGE_LOOKBACK windows, or above ln V after being well below it. The learning rate is
  too high for where the run now is.
- not learning: after the first ADVICE_AFTER_STEPS steps the mean training loss is still
  above ln V, the loss of a uniform guess, and never came down. The rate is too high for
  the model's size.
- overfitting: the validation loss has not beaten its best for OVERFIT_CHECKS checks in a
  row and now stands clearly (OVERFIT_MARGIN nats) above it, while the training loss
  still falls (rising with it, that is diverging).

Advice is data, not a sentence (Advice): its kind, its figures, and its remedy as an action
name ("lower_lr", "restore_best") with a key-free wording. Each front end words the remedy
its own way (the app with its key from tui/keys.py, the CLI with its flags); `line()` joins
the finding and a remedy, and every line fits 80 columns with its figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .formatting import fixed, setting, significant

ADVICE_AFTER_STEPS = 100
ADVICE_WINDOW = 20
DIVERGE_LOOKBACK = 10  # windows: the advice reads at most the last 220 steps
DIVERGE_RISE = 0.5
OVERFIT_CHECKS = 3
OVERFIT_MARGIN = 0.02

LOWER_LR = "lower_lr"  # set the learning rate to Advice.figures["lr"]
RESTORE_BEST = "restore_best"  # put back the weights of the best validation loss


@dataclass(frozen=True)
class Advice:
    """What looks wrong (kind, in the figures' words) and what to try (an action)."""

    kind: str  # "diverging", "not learning", "overfitting"
    finding: str  # the figures in words: "training loss 4.40 rose from 1.00"
    figures: dict[str, float]  # the numbers behind it, by name ("loss", "best", "lr", ...)
    action: str  # the remedy: LOWER_LR or RESTORE_BEST
    remedy: str  # the remedy in words that name no front end's key or flag

    def line(self, remedy: str | None = None) -> str:
        """One line: the finding, then `remedy` (a front end's own wording) or the key-free one."""
        return f"{self.kind}: {self.finding}; {self.remedy if remedy is None else remedy}"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _lower_lr(kind: str, finding: str, figures: dict[str, float], lr: float, digits: int | None) -> Advice:
    """digits: significant digits of the rates (None: as a setting is written, in full)."""
    suggested = lr / 4
    show = setting if digits is None else (lambda v: significant(v, digits))
    return Advice(kind, finding, {**figures, "lr": suggested, "lr_now": lr}, LOWER_LR,
                  f"try lr {show(suggested)} (now {show(lr)})")


def training_advice(
    losses: Sequence[float], val_losses: Sequence[tuple[int, float]], uniform_loss: float, lr: float,
) -> Advice | None:
    """What is wrong and what to try, or None when nothing is."""
    n, w = len(losses), ADVICE_WINDOW
    if n >= ADVICE_AFTER_STEPS:
        recent = _mean(losses[-w:])
        oldest = max(w, n - w * (DIVERGE_LOOKBACK + 1))
        earlier = [_mean(losses[end - w:end]) for end in range(n - w, oldest - 1, -w)]
        best = min(earlier) if earlier else recent
        if recent > best + DIVERGE_RISE or (recent > uniform_loss and best < uniform_loss - DIVERGE_RISE):
            return _lower_lr("diverging", f"training loss {fixed(recent, 2)} rose from {fixed(best, 2)}",
                             {"loss": recent, "best": best}, lr, 2)
        if recent > uniform_loss:
            return _lower_lr("not learning",
                             f"training loss {fixed(recent, 2)} is above ln V = {fixed(uniform_loss, 2)}",
                             {"loss": recent, "uniform": uniform_loss}, lr, None)
    if len(val_losses) > OVERFIT_CHECKS:
        values = [v for _, v in val_losses]
        best = min(values)
        since = values[::-1].index(best)
        if since >= OVERFIT_CHECKS and values[-1] > best + OVERFIT_MARGIN:
            # the best's step is on the status line beside it ("best 2.300 @305")
            return Advice("overfitting",
                          f"val up {since} checks from {fixed(best, 3)} to {fixed(values[-1], 3)}",
                          {"checks": since, "best": best, "val": values[-1]}, RESTORE_BEST,
                          "restore the best weights")
    return None
