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

Loading never runs code from the file: `torch.load(weights_only=True)` only unpickles
tensors and plain containers, and anything else is refused. Every part is checked
against the others before anything is built, so a file that is damaged, from a newer
format, or inconsistent (weights that do not fit its own vocabulary and hidden size)
raises GRUError naming the problem.

Saving is atomic and follows the save-target rule of gru_core/atomic.py: the file is
written next to its destination under a temporary name, flushed to disk, then renamed
over the destination in one step. A crash or a full disk during the save leaves the
previous checkpoint as it was; symlinks are followed, FIFOs and devices refused.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .atomic import write_atomically
from .config import TrainConfig
from .errors import GRUError
from .history import History
from .trainer import Trainer

if TYPE_CHECKING:
    from .session import TrainingSession

FORMAT = "gru-tui-checkpoint"
FORMAT_VERSION = 1
_KEYS = ("format", "version", "model", "config", "vocab", "optimizer", "progress", "h",
         "sample_rng", "last_grads", "history")


# ====================================================================== saving
def checkpoint_dict(trainer: Trainer, history: History) -> dict[str, Any]:
    """Everything a checkpoint holds, as plain types and CPU tensors."""
    config = {f.name: getattr(trainer.config, f.name) for f in dataclasses.fields(trainer.config)}
    config.pop("extra")  # free-form, not guaranteed to be plain types; not saved
    config["vocab"] = trainer.vocab.chars  # explicit, so the indices survive any text change
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": trainer.model.state_dict(),
        "config": config,
        "vocab": trainer.vocab.chars,
        "optimizer": _to_cpu(trainer.optimizer.state_dict()),
        "progress": {"step": trainer.step_count, "epoch": trainer.epoch,
                     "batch_index": trainer.batch_index},
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


# ====================================================================== loading
def read_checkpoint(path: str) -> dict[str, Any]:
    """The raw dictionary, read with weights_only=True; GRUError for anything unreadable."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise GRUError(f"no checkpoint at {path!r}; check the path")
    if os.path.isdir(path):
        raise GRUError(f"{path!r} is a directory; give the path of a checkpoint file")
    try:
        with warnings.catch_warnings():  # torch warns about old pickle protocols on stderr
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            raise _damaged(path, exc) from None
        # weights_only refuses any global it does not know: code, classes, functions.
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise GRUError(
            f"{path!r} was refused: it holds something other than tensors and plain values{what}, "
            f"which could run code when loaded; it is not a gru-tui checkpoint. Nothing was loaded."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError,
            IndexError, TypeError, AttributeError, UnicodeDecodeError, MemoryError) as exc:
        raise _damaged(path, exc) from None
    return data


def _damaged(path: str, exc: BaseException) -> GRUError:
    return GRUError(
        f"{path!r} is not a readable checkpoint: it is damaged or truncated, or not made by "
        f"gru-tui ({type(exc).__name__}: {_first_line(exc)}). Nothing was loaded."
    )


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

    config = _config_from(data["config"], bad, device)
    vocab = data["vocab"]
    if not isinstance(vocab, str) or vocab != config.vocab_chars:
        raise bad(f"its vocabulary {_short(vocab)} does not match its config's {_short(config.vocab_chars)}")
    try:
        trainer = Trainer(config)
    except GRUError as exc:
        raise bad(str(exc)) from None
    H, B = config.hidden_size, config.batch_size

    _check_weights(data["model"], trainer, bad)
    try:
        trainer.model.load_state_dict(data["model"])
    except GRUError as exc:
        raise bad(str(exc)) from None

    _load_optimizer(trainer, data["optimizer"], bad)

    progress = data["progress"]
    if not isinstance(progress, dict):
        raise bad("its progress record is not a dictionary")
    step, epoch, batch_index = (progress.get(k) for k in ("step", "epoch", "batch_index"))
    for name, value in (("step", step), ("epoch", epoch), ("batch_index", batch_index)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(f"its {name} {value!r} is not a count")
    if batch_index >= trainer.num_batches:
        raise bad(f"its batch index {batch_index} is past the {trainer.num_batches} batches of its text")

    h = data["h"]
    if not isinstance(h, Tensor) or tuple(h.shape) != (B, H) or not h.is_floating_point():
        shape = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise bad(f"its hidden state has shape {shape}; batch {B} x hidden {H} needs ({B}, {H})")

    rng = data["sample_rng"]
    try:
        trainer.sample_generator.set_state(rng)
    except (RuntimeError, TypeError) as exc:
        raise bad(f"its sampling random state is damaged ({_first_line(exc)})") from None

    grads = data["last_grads"]
    if not isinstance(grads, dict) or not all(
        isinstance(v, Tensor) and k in trainer.model.named_tensors()
        and v.shape == trainer.model.named_tensors()[k].shape for k, v in grads.items()
    ):
        raise bad("its last gradients do not fit the model")

    try:
        history = History.from_dict(data["history"], steps_per_epoch=trainer.num_batches)
    except (TypeError, ValueError, AttributeError) as exc:
        raise bad(f"its loss history is damaged ({_first_line(exc)})") from None

    trainer.step_count, trainer.epoch, trainer.batch_index = step, epoch, batch_index
    trainer.h = h.to(device=trainer.device, dtype=trainer.dtype).clone()
    trainer.last_grads = {k: v.to(device=trainer.device, dtype=trainer.dtype) for k, v in grads.items()}
    return trainer, history


def _config_from(raw: Any, bad: Callable[[str], GRUError], device: str | None) -> TrainConfig:
    if not isinstance(raw, dict):
        raise bad("its config is not a dictionary")
    known = {f.name for f in dataclasses.fields(TrainConfig)} - {"extra"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise bad(f"its config has fields this gru-tui does not know: {', '.join(map(str, unknown))}")
    fields = dict(raw)
    if device is not None:
        fields["device"] = device
    elif fields.get("device") == "cuda" and not torch.cuda.is_available():
        fields["device"] = "cpu"
    try:
        return TrainConfig(**fields)
    except GRUError as exc:
        raise bad(f"its config is invalid: {exc}") from None
    except TypeError as exc:
        raise bad(f"its config is invalid: {exc}") from None


def _check_weights(model_state: Any, trainer: Trainer, bad: Callable[[str], GRUError]) -> None:
    if not isinstance(model_state, dict):
        raise bad("its weights are not a dictionary of tensors")
    want = trainer.model.named_tensors()
    V, H = trainer.vocab.size, trainer.config.hidden_size
    extra = sorted(set(model_state) - set(want))
    if extra:
        raise bad(f"it has weights {', '.join(map(str, extra))} that this model (reset="
                  f"{trainer.config.reset!r}) does not use")
    for name, target in want.items():
        src = model_state.get(name)
        if not isinstance(src, Tensor):
            raise bad(f"its weights lack {name}")
        if tuple(src.shape) != tuple(target.shape):
            raise bad(f"weight {name} has shape {tuple(src.shape)}, but its vocabulary of {V} characters "
                      f"and hidden size {H} need {tuple(target.shape)}")
        if not src.is_floating_point():
            raise bad(f"weight {name} holds {src.dtype}, not floating-point numbers")


def _load_optimizer(trainer: Trainer, state: Any, bad: Callable[[str], GRUError]) -> None:
    if not isinstance(state, dict) or "state" not in state or "param_groups" not in state:
        raise bad("its optimizer state is not an optimizer state_dict")
    groups = state["param_groups"]
    if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
        raise bad("its optimizer state does not fit this model")
    marker = "betas" if trainer.config.optimizer == "adam" else "momentum"  # present in each
    if marker not in groups[0]:
        raise bad(f"its optimizer state is not {trainer.config.optimizer}'s, which its config names")
    params = trainer.model.parameters()
    per_param = state["state"]
    if not isinstance(per_param, dict):
        raise bad("its optimizer state is damaged")
    for key, entry in per_param.items():
        if not isinstance(key, int) or not 0 <= key < len(params) or not isinstance(entry, dict):
            raise bad("its optimizer state does not fit this model")
        for name, value in entry.items():
            if isinstance(value, Tensor) and value.dim() > 0 and value.shape != params[key].shape:
                raise bad(f"its optimizer's {name} has shape {tuple(value.shape)} where the "
                          f"weights have {tuple(params[key].shape)}")
    try:
        trainer.optimizer.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise bad(f"its optimizer state does not fit this model ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _short(chars: Any) -> str:
    if not isinstance(chars, str):
        return type(chars).__name__
    return repr(chars) if len(chars) <= 30 else repr(chars[:30]) + f" (+{len(chars) - 30} more)"


# ====================================================================== sessions
def save_session(session: "TrainingSession", path: str) -> None:
    """Save a running session between two steps (training waits at most one batch)."""
    session.with_trainer(lambda trainer, history: save_checkpoint(trainer, history, path))


def load_into_session(session: "TrainingSession", path: str) -> TrainConfig:
    """Load a checkpoint and hand it to the session, paused where it stopped.

    The file is read and checked first, on the calling thread: if it is refused
    (GRUError), the session goes on exactly as it was.
    """
    trainer, history = load_checkpoint(path)
    session.adopt(trainer, history)
    return trainer.config


# ====================================================================== names
def checkpoint_name(step: int, val_loss: float | None, suffix: str = ".ckpt", prefix: str = "gru-tui") -> str:
    """char-rnn's naming: gru-tui-step900-val2.80.ckpt, so later saves do not overwrite earlier ones.

    Without a validation loss (none held out, or none measured yet): gru-tui-step900.ckpt.
    """
    val = "" if val_loss is None or not math.isfinite(val_loss) else f"-val{val_loss:.2f}"
    return f"{prefix}-step{step}{val}{suffix}"
