"""Checkpoints: save a run and resume it exactly where it stopped.

A checkpoint is one `torch.save` file (a zip) holding only plain types and tensors:

    format, version     "gru-tui-checkpoint", FORMAT_VERSION
    model               the article-named state_dict: Wz, Wr, Wh, Uz, Ur, Uh, bz, br, bh, Wy, by
                        (and bUh for reset="after"); plain PyTorch reads them with
                        torch.load(path, weights_only=True)["model"]["Wz"]
    config              every TrainConfig field as str/int/float/None (the text included)
    vocab               the characters in index order
    optimizer           the optimizer's state_dict (Adam's moments, SGD's momentum buffers)
    progress            step, epoch, batch_index
    h                   the hidden state carried into the next batch [B, H]
    sample_rng          the sampling generator's state, so the next samples match too
    last_grads          the last step's gradients by article name (for display)
    history             History.to_dict(): per-step and per-epoch losses, validation losses

Loading never runs code from the file, and every part is checked against the others
before anything is built, so a file that is damaged, from a newer format, or inconsistent
(weights that do not fit its own vocabulary and hidden size) raises GRUError naming the
problem. The work is split along its seams:

    checkpoint_file.py      reading a saved file safely (the path, the zip, weights_only, the structure)
    checkpoint_checks.py    the parts' checks: config, weights (check_weights), optimizer
    checkpoint.py           this format: what is saved, and the run built from a checked file
    checkpoint_session.py   saving and loading a running TrainingSession

Saving is atomic and follows the save-target rule of gru_core/atomic.py: the file is
written next to its destination under a temporary name, flushed to disk, then renamed
over the destination in one step. A crash or a full disk during the save leaves the
previous checkpoint as it was; symlinks are followed, FIFOs and devices refused.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import Tensor

from .atomic import write_atomically
from .checkpoint_checks import check_weights, config_from, load_optimizer, short
from .checkpoint_file import first_line, read_checkpoint
from .errors import GRUError
from .formatting import fixed
from .history import History
from .model import weight_shapes
from .trainer import Trainer

FORMAT = "gru-tui-checkpoint"
FORMAT_VERSION = 1
_KEYS = ("format", "version", "model", "config", "vocab", "optimizer", "progress", "h",
         "sample_rng", "last_grads", "history")


# ====================================================================== saving
def checkpoint_dict(trainer: Trainer, history: History) -> dict[str, Any]:
    """Everything a checkpoint holds, as plain types and CPU tensors."""
    config = {f.name: getattr(trainer.config, f.name) for f in dataclasses.fields(trainer.config)}
    config["vocab"] = trainer.vocab.chars  # explicit, so the indices survive any text change
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": trainer.model.state_dict(),
        "config": config,
        "vocab": trainer.vocab.chars,
        "optimizer": _to_cpu(trainer.optimizer.state_dict()),
        "progress": {"step": trainer.step_count, "epoch": trainer.epoch,
                     "batch_index": trainer.batch_index, "schedule_steps": trainer.schedule_steps,
                     "lr_scale": trainer.lr_scale},
        "h": trainer.h.detach().cpu().clone(),
        "sample_rng": trainer.sample_generator.get_state().clone(),
        "last_grads": {k: v.detach().cpu().clone() for k, v in trainer.last_grads.items()},
        "history": history.to_dict(),
    }


def save_checkpoint(trainer: Trainer, history: History, path: str) -> None:
    """Write a checkpoint atomically; GRUError (and the old file untouched) if it fails."""
    payload = checkpoint_dict(trainer, history)
    write_atomically(path, lambda f: torch.save(payload, f), what="checkpoint")


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def load_checkpoint(path: str, *, device: str | None = None) -> tuple[Trainer, History]:
    """A Trainer and History that continue exactly where the saved run stopped.

    `device` overrides the saved one; by default the saved device is used when present,
    otherwise the CPU (a run saved on a GPU resumes on a laptop).
    """
    data = read_checkpoint(path)
    return trainer_from_checkpoint(data, path=path, device=device)


def trainer_from_checkpoint(
    data: Any, *, path: str = "checkpoint", device: str | None = None
) -> tuple[Trainer, History]:
    """Check every part of a checkpoint's dictionary against the others, then build the run."""
    try:
        return _trainer_from(data, path, device)
    except GRUError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError,
            RecursionError) as exc:  # a part changed in a way no check above foresaw
        raise GRUError(f"{path!r} cannot be loaded: it is damaged ({type(exc).__name__}: "
                       f"{first_line(exc)}). Nothing was changed.") from None


def _trainer_from(data: Any, path: str, device: str | None) -> tuple[Trainer, History]:
    def bad(problem: str) -> GRUError:
        return GRUError(f"{path!r} cannot be loaded: {problem}. Nothing was changed.")

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise bad("it is not a gru-tui checkpoint (no 'format' marker)")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise bad(f"its format version {version!r} is not one this program knows")
    if version > FORMAT_VERSION:
        raise bad(f"it was written in format version {version}, by a newer gru-tui; this one "
                  f"reads up to version {FORMAT_VERSION}: upgrade gru-tui to load it")
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise bad(f"it lacks {', '.join(missing)}")

    config = config_from(data["config"], bad, device)
    vocab = data["vocab"]
    if not isinstance(vocab, str) or vocab != config.vocab_chars:
        raise bad(f"its vocabulary {short(vocab)} does not match its config's {short(config.vocab_chars)}")
    H, B = config.hidden_size, config.batch_size
    # the file's own tensors against the shapes its config needs, before the run is built:
    # memory follows the tensors present, not a hidden size the file merely claims
    check_weights(data["model"], weight_shapes(len(vocab), H, config.reset), bad,
                  f"its vocabulary of {len(vocab)} characters and hidden size {H}", config.reset)
    h = data["h"]
    if not isinstance(h, Tensor) or tuple(h.shape) != (B, H) or not h.is_floating_point():
        shape = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise bad(f"its hidden state has shape {shape}; batch {B} x hidden {H} needs ({B}, {H})")
    try:
        trainer = Trainer(config)
    except GRUError as exc:
        raise bad(str(exc)) from None

    try:
        trainer.model.load_state_dict(data["model"])
    except GRUError as exc:
        raise bad(str(exc)) from None

    load_optimizer(trainer, data["optimizer"], bad)

    progress = data["progress"]
    if not isinstance(progress, dict):
        raise bad("its progress record is not a dictionary")
    step, epoch, batch_index = (progress.get(k) for k in ("step", "epoch", "batch_index"))
    for name, value in (("step", step), ("epoch", epoch), ("batch_index", batch_index)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(f"its {name} {value!r} is not a count")
    if batch_index >= trainer.num_batches:
        raise bad(f"its batch index {batch_index} is past the {trainer.num_batches} batches of its text")
    # the schedule's plan and the guard's scale (absent before the schedule: a constant run's)
    schedule_steps = progress.get("schedule_steps", trainer.schedule_steps)
    lr_scale = progress.get("lr_scale", 1.0)
    if isinstance(schedule_steps, bool) or not isinstance(schedule_steps, int) or schedule_steps < 0:
        raise bad(f"its planned steps {schedule_steps!r} are not a count")
    if isinstance(lr_scale, bool) or not isinstance(lr_scale, float) or not 0 < lr_scale <= 1:
        raise bad(f"its learning-rate scale {lr_scale!r} is not a number from 0 to 1")

    if not bool(torch.isfinite(h).all()):
        raise bad("its hidden state holds NaN or infinite numbers")

    rng = data["sample_rng"]
    try:
        trainer.sample_generator.set_state(rng)
    except (RuntimeError, TypeError) as exc:
        raise bad(f"its sampling random state is damaged ({first_line(exc)})") from None

    grads = data["last_grads"]
    if not isinstance(grads, dict) or not all(
        isinstance(v, Tensor) and k in trainer.model.named_tensors()
        and v.shape == trainer.model.named_tensors()[k].shape for k, v in grads.items()
    ):
        raise bad("its last gradients do not fit the model")

    try:
        history = History.from_dict(data["history"], steps_per_epoch=trainer.num_batches)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise bad(f"its loss history is damaged ({first_line(exc)})") from None

    trainer.step_count, trainer.epoch, trainer.batch_index = step, epoch, batch_index
    trainer.schedule_steps, trainer.lr_scale = schedule_steps, lr_scale
    trainer.apply_lr()  # the rate of the step it resumes at
    trainer.h = h.to(device=trainer.device, dtype=trainer.dtype).clone()
    trainer.last_grads = {k: v.to(device=trainer.device, dtype=trainer.dtype) for k, v in grads.items()}
    return trainer, history


# ====================================================================== names
def checkpoint_name(step: int, val_loss: float | None, suffix: str = ".ckpt", prefix: str = "gru-tui") -> str:
    """char-rnn's naming: gru-tui-step900-val2.80.ckpt, so later saves do not overwrite earlier ones.

    Without a validation loss (none held out, or none measured yet): gru-tui-step900.ckpt.
    """
    val = "" if val_loss is None or not math.isfinite(val_loss) else f"-val{fixed(val_loss, 2)}"
    return f"{prefix}-step{step}{val}{suffix}"
