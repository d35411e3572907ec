"""What the config pane says about validation for the run on screen (text only, no widget)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gru_core.formatting import fixed

if TYPE_CHECKING:
    from gru_core.session import Snapshot


def validation_status(snap: Snapshot) -> str:
    """What the config pane says about validation for the run on screen."""
    config = snap.config
    if snap.val_note:
        return snap.val_note
    if not config.val_fraction:
        return "validation off: set a fraction (e.g. 0.1) to hold text out"
    held = len(config.text) - config.train_chars
    val = snap.val_loss
    if val is None:
        # not "measured at epoch ends": nothing is measured yet, and a long epoch is measured within
        return f"validation: {held:,} characters held out; not measured yet (training measures it)"
    bits = val / math.log(2)
    return f"validation: {held:,} characters held out; last {fixed(val)} nats = {fixed(bits, 3)} bits/char"
