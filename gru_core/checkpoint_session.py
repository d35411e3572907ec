"""A checkpoint and a running TrainingSession: save it between two steps, load one into it,
and say which weights were saved (each front end says how to restore the best its own way)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .formatting import fixed

if TYPE_CHECKING:
    from .config import TrainConfig
    from .history import History
    from .session import TrainingSession
    from .trainer import Trainer


@dataclass(frozen=True)
class SavedWeights:
    """Which weights a checkpoint holds, in words, and whether the best-validation copy the
    trainer keeps was left out (each front end says how to restore them its own way)."""

    words: str
    best_left_out: bool = False

    def line(self, restore: str) -> str:
        """The words, then `restore` (how this front end puts the best weights back) if they were left out."""
        return f"{self.words}: {restore}" if self.best_left_out else self.words


def save_session(session: "TrainingSession", path: str) -> SavedWeights:
    """Save a running session between two steps (training waits at most one batch); which
    weights were saved (describe_weights), said of the weights written."""
    def save(trainer: Trainer, history: History) -> SavedWeights:
        save_checkpoint(trainer, history, path)
        return describe_weights(trainer)

    return session.with_trainer(save)


def describe_weights(trainer: Trainer) -> SavedWeights:
    """Which weights a checkpoint holds: the current ones (the best-validation copy the trainer
    keeps is not saved), said against that best copy when there is one."""
    now = f"the current weights of step {trainer.step_count}"
    if trainer.best_state is None:
        kept = "" if trainer.config.val_fraction else " (no validation: no best weights kept)"
        return SavedWeights(now + kept)
    if trainer.best_step == trainer.step_count:
        return SavedWeights(f"{now}, the best so far (val {fixed(trainer.best_val)})")
    weights = trainer.model.state_dict()
    if all(torch.equal(weights[k], v) for k, v in trainer.best_state.items()):  # restored
        return SavedWeights(f"the best weights, val {fixed(trainer.best_val)} from step {trainer.best_step} "
                            f"(restored; the run is at step {trainer.step_count})")
    return SavedWeights(f"{now}; the best (val {fixed(trainer.best_val)} at step {trainer.best_step}) "
                        f"are not in the file", best_left_out=True)


def load_into_session(session: "TrainingSession", path: str) -> TrainConfig:
    """Load a checkpoint and hand it to the session, paused where it stopped.

    The file is read and checked first, on the calling thread: if it is refused
    (GRUError), the session goes on exactly as it was.
    """
    trainer, history = load_checkpoint(path)
    session.adopt(trainer, history)
    return trainer.config
