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

Every line fits 80 columns with its figures, remedy included (the app puts its own key in
the place of OVERFIT_REMEDY).
"""

from __future__ import annotations

from collections.abc import Sequence

ADVICE_AFTER_STEPS = 100
ADVICE_WINDOW = 20
DIVERGE_LOOKBACK = 10  # windows: the advice reads at most the last 220 steps
DIVERGE_RISE = 0.5
OVERFIT_CHECKS = 3
OVERFIT_MARGIN = 0.02
# the overfitting line's remedy: a front end with its own way to restore the best
# weights (the app's b) says that instead
OVERFIT_REMEDY = "restore the best weights"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def training_advice(
    losses: Sequence[float], val_losses: Sequence[tuple[int, float]], uniform_loss: float, lr: float,
) -> str | None:
    """One line saying what is wrong and what to try, or None when nothing is."""
    n, w = len(losses), ADVICE_WINDOW
    if n >= ADVICE_AFTER_STEPS:
        recent = _mean(losses[-w:])
        oldest = max(w, n - w * (DIVERGE_LOOKBACK + 1))
        earlier = [_mean(losses[end - w:end]) for end in range(n - w, oldest - 1, -w)]
        best = min(earlier) if earlier else recent
        if recent > best + DIVERGE_RISE or (recent > uniform_loss and best < uniform_loss - DIVERGE_RISE):
            return (f"diverging: training loss {recent:.2f} rose from {best:.2f}; "
                    f"try lr {lr / 4:.2g} (now {lr:.2g})")
        if recent > uniform_loss:
            return (f"not learning: training loss {recent:.2f} is above ln V = {uniform_loss:.2f}; "
                    f"try lr {lr / 4:g} (now {lr:g})")
    if len(val_losses) > OVERFIT_CHECKS:
        values = [v for _, v in val_losses]
        best = min(values)
        since = values[::-1].index(best)
        if since >= OVERFIT_CHECKS and values[-1] > best + OVERFIT_MARGIN:
            # the best's step is on the status line beside it ("best 2.300 @305")
            return f"overfitting: val up {since} checks from {best:.3f} to {values[-1]:.3f}; {OVERFIT_REMEDY}"
    return None
