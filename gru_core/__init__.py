"""gru_core: a GRU from explicit matrices, its training, and the session that runs it.

UI-free by rule: nothing here imports textual or tui. The names below load lazily, so
`from gru_core import TrainConfig` does not import torch (the app shows its first
frame while torch is still loading).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .threads import prefer_passive_openmp

prefer_passive_openmp()  # before anything here loads torch: OpenMP reads it once, at load

from .config import TrainConfig  # noqa: E402
from .errors import GRUError  # noqa: E402

_LAZY = {
    "Trainer": "trainer",
    "StepRecord": "trainer",
    "TrainingDiverged": "trainer",
    "GRUModel": "model",
    "Vocab": "data",
    "Trace": "forward",
    "Sample": "sampling",
    "TrainingSession": "session",
    "Snapshot": "session",
}

__all__ = ["GRUError", "TrainConfig", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'gru_core' has no attribute {name!r}")


if TYPE_CHECKING:
    from .data import Vocab
    from .forward import Trace
    from .model import GRUModel
    from .sampling import Sample
    from .session import Snapshot, TrainingSession
    from .trainer import StepRecord, Trainer, TrainingDiverged
