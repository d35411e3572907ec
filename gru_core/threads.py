"""How many intra-op torch threads training gets. Torch-free, so the app can decide early."""

from __future__ import annotations

import os

from .errors import GRUError


def available_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def prefer_passive_openmp() -> None:
    """Before torch loads: OpenMP threads sleep while they wait, unless the user chose.

    By default they spin. On a 2-core machine with one other busy process, 2 spinning
    threads trained at 0.04x of their own quiet speed (573 against 14,790 characters/s,
    H=128, B=32, T=64), while passive ones kept 0.85x (32,374 against 38,108), measured
    side by side by `python -m tests.benchmarks --only threads`. OpenMP reads the policy
    once, when torch loads, so this must run first; `OMP_WAIT_POLICY` set by the user wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def training_threads(cores: int | None = None, *, ui: bool = False) -> int:
    """The one thread policy: intra-op torch threads for training, headless or beside a UI.

    On one or two cores, one thread: at the fitted size on a 2-core machine `gru-tui train`
    ran 119-127k characters/s on 1 thread against 38-41k on torch's default of 2 spinning
    threads, and 2 threads beside one busy process kept 0.22 of their quiet speed (issue
    25). With more cores: all of them headless, all but one beside a UI (its event loop
    keeps a core), their OpenMP waits passive (`prefer_passive_openmp`).
    Trainer, the CLI, TrainingSession (through the app) and the benchmarks all use it.
    """
    if cores is None:
        cores = available_cores()
    if cores <= 2:
        return 1
    return cores - 1 if ui else cores


def ui_torch_threads(cores: int | None = None) -> int:
    """Intra-op threads for training while a UI runs.

    With more than two cores, all but one: the event loop keeps a core of its own, which
    costs training little. With one or two, one: the event loop needs the other, and the
    worst case decides. Beside one busy process, 1 thread trained at 41k characters/s
    against 32k for 2 passive threads and 0.6k for 2 spinning ones (H=128, B=32, T=64,
    side by side); a quiet machine gave 2 threads up to 1.25x over 1, which is not worth
    the risk. `gru-tui --threads N` overrides it; the help screen shows the count in use.
    """
    return training_threads(cores, ui=True)


def check_threads(value: object, name: str = "--threads") -> int:
    """A thread count from 1 to the cores this process may use; GRUError saying what would work.

    More threads than cores only make OpenMP's threads queue for the cores (1,024 crawled),
    and a huge count made torch crash outright.
    """
    cores = available_cores()
    if isinstance(value, bool) or not isinstance(value, int):
        raise GRUError(f"{name} must be a whole number from 1 to {cores}; got {value!r}")
    if not 1 <= value <= cores:
        more = f" (this process may use {cores} core{'s' if cores != 1 else ''})" if value > cores else ""
        raise GRUError(f"{name} must be from 1 to {cores}{more}; got {value}")
    return value
