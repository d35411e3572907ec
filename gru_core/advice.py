"""What to tell a user whose run is going wrong, from the loss histories alone.

Two cases besides NaN (which stops training itself, see trainer.TrainingDiverged):

- not learning: after the first part of training (ADVICE_AFTER_STEPS steps) the mean
  training loss of the last ADVICE_WINDOW steps is still above ln V, the loss of a
  uniform guess. The learning rate is almost always too high for the model's size.
- overfitting: the validation loss has not beaten its best for OVERFIT_CHECKS checks
  in a row and now stands clearly (OVERFIT_MARGIN nats) above it, while training goes on.
"""

from __future__ import annotations

from collections.abc import Sequence

ADVICE_AFTER_STEPS = 100
ADVICE_WINDOW = 20
OVERFIT_CHECKS = 3
OVERFIT_MARGIN = 0.02
# the overfitting line's last clause: a front end with its own way to restore the best
# weights (the app's b) says that instead
OVERFIT_REMEDY = "restore the best weights, or stop earlier with patience"


def training_advice(
    losses: Sequence[float], val_losses: Sequence[tuple[int, float]], uniform_loss: float, lr: float,
) -> str | None:
    """One line saying what is wrong and what to try, or None when nothing is."""
    if len(losses) >= ADVICE_AFTER_STEPS:
        recent = losses[-ADVICE_WINDOW:]
        mean = sum(recent) / len(recent)
        if mean > uniform_loss:
            return (f"not learning: training loss {mean:.2f} is above ln V = {uniform_loss:.2f} "
                    f"(a uniform guess) after {len(losses)} steps; lower the learning rate "
                    f"(now {lr:g}, try {lr / 4:g})")
    if len(val_losses) > OVERFIT_CHECKS:
        values = [v for _, v in val_losses]
        best = min(values)
        best_at = len(values) - 1 - values[::-1].index(best)
        since = len(values) - 1 - best_at
        if since >= OVERFIT_CHECKS and values[-1] > best + OVERFIT_MARGIN:
            return (f"overfitting: validation loss {values[-1]:.3f} has risen for {since} checks "
                    f"from its best {best:.3f} (step {val_losses[best_at][0]}); {OVERFIT_REMEDY}")
    return None
