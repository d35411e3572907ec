"""The learning-rate schedule: how the step size changes over a run.

    lr(step) = config.lr x factor(step) x the guard's scale

- constant: factor 1 (the article, the default preset, and any run a user sets by hand).
- cosine (fitted runs): a short linear warm-up over the first WARMUP_FRACTION of the run's
  planned steps (at most MAX_WARMUP_STEPS), then half a cosine down to FINAL_FRACTION of
  config.lr at the last planned step, and FINAL_FRACTION after it (a finished run that is
  continued goes on at the small rate, never jumps back up).

Why cosine to a tenth: a constant Adam 1e-2, the rate that learns fastest in a run's first
minutes, blew up after 4-6 epochs of a 755 KB text; decayed, the same start learns as fast
and then settles (tests/benchmarks/long_runs.py measures it against constant rates and
char-rnn's settings on texts it was not tuned on).

Torch-free: the config checks a schedule's name, and the CLI prints it, before torch loads.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")
FINAL_FRACTION = 0.1  # cosine ends at this share of config.lr
WARMUP_FRACTION = 0.01  # of the planned steps
MAX_WARMUP_STEPS = 200


def lr_factor(schedule: str, step: int, planned_steps: int) -> float:
    """The share of config.lr that step `step` (0-based) of a run of `planned_steps` uses."""
    if schedule == "constant" or planned_steps <= 0:
        return 1.0
    warmup = max(1, min(MAX_WARMUP_STEPS, round(planned_steps * WARMUP_FRACTION)))
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, planned_steps - warmup))
    return FINAL_FRACTION + (1 - FINAL_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress))
