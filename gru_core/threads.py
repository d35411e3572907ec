"""How many intra-op torch threads training gets. Torch-free, so the app can decide early."""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def ui_torch_threads(cores: int | None = None) -> int:
    """Intra-op threads for training while a UI runs.

    With more than two cores, all but one: the event loop keeps a core of its own, which
    costs training little. With one or two, all of them: on a quiet 2-core machine,
    training beside the live app ran 1.25x faster on 2 threads than on 1 (100k against
    76-83k characters/s, H=128, B=32, T=64, measured side by side), although the UI then
    shares a core. On a machine loaded by other work, 2 spinning OpenMP threads can be
    many times slower: `gru-tui --threads 1` is the way out there.
    """
    if cores is None:
        cores = available_cores()
    return cores - 1 if cores > 2 else max(1, cores)
