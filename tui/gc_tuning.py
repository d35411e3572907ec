"""Garbage-collector tuning for a long-lived app: what exists at startup is left out of later collections."""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_objects() -> None:
    """Leave what exists once torch is loaded out of every later garbage collection.

    Torch, Textual and the composed screen are a few hundred thousand objects that live as
    long as the process; the cycles the screen's updates leave behind make Python run a
    full collection every second or two, and each one walked them all: 100-300 ms holding
    the GIL, on whichever thread was allocating (a frozen screen, a stalled training step).
    Frozen, a full collection walks only what came later. Once per process: a second app
    (tests run many) would freeze the first one's garbage with it."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()
