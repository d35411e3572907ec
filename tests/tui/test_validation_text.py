"""The config pane's validation line, from the snapshot's config, val_note and last val loss."""

from __future__ import annotations

import math
from types import SimpleNamespace

from gru_core.config import TrainConfig
from tui.render.validation_text import validation_status

TEXT = "Beautiful is better than ugly.\nExplicit is better than implicit.\n" * 20


def snap(val_loss=None, val_note=None, **config):
    config = TrainConfig.default(text=TEXT, **config)
    return SimpleNamespace(config=config, val_loss=val_loss, val_note=val_note)


def test_the_validation_line_says_what_is_held_out_and_the_last_loss_in_nats_and_bits():
    s = snap(val_fraction=0.1)
    held = len(TEXT) - s.config.train_chars
    assert held > 0
    assert validation_status(s) == (f"validation: {held:,} characters held out; not measured yet "
                                    f"(training measures it)")
    s = snap(val_loss=2.0, val_fraction=0.1)
    assert validation_status(s) == (f"validation: {held:,} characters held out; last 2.0000 nats = "
                                    f"{2.0 / math.log(2):.3f} bits/char")
    assert validation_status(snap(val_fraction=0.0)).startswith("validation off: set a fraction")
    assert validation_status(snap(val_note="validation off: too short", val_fraction=0.1)) == (
        "validation off: too short")  # the trainer's own reason comes first
