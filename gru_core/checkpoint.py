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

One rule serves every loader (train --load, sample, the exports, the app's --load and
its load key), checkpoints and safetensors files (portable.py) alike: check_saved_file before
the file is opened (regular, not empty; a FIFO, a device, a symlink loop refused), then
the structure within a node budget that grows with the file's size (shared references
counted each time they are met), every tensor backed by numbers the file stores, and the
weights checked against the vocabulary and hidden size (check_weights: shapes, dtype,
finite) before the run is built, so memory follows the file, not what it claims.

Saving is atomic and follows the save-target rule of gru_core/atomic.py: the file is
written next to its destination under a temporary name, flushed to disk, then renamed
over the destination in one step. A crash or a full disk during the save leaves the
previous checkpoint as it was; symlinks are followed, FIFOs and devices refused.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import pickle
import re
import stat
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .atomic import write_atomically
from .config import MAX_LR, TrainConfig
from .errors import GRUError
from .history import History
from .model import weight_shapes
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


# ====================================================================== loading
def check_saved_file(path: str, what: str = "checkpoint") -> int:
    """The rule every loader of a saved run applies first (train --load, sample, the exports,
    the app's --load and load key; checkpoints and safetensors alike), before the file is opened:
    it exists (a symlink loop is named as one), and it is a regular file, not empty. Opening a
    FIFO would block until a writer comes, and a device such as /dev/zero never ends.
    Its size in bytes; GRUError otherwise."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise GRUError(f"a {what} path is needed; got {path!r}")
    path = os.fspath(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise GRUError(f"no {what} at {path!r}; check the path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise GRUError(f"{path!r} is a loop of symbolic links that never reaches a file; point the "
                           f"link at the {what} itself") from None
        raise GRUError(f"cannot open {path!r}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the path
        raise GRUError(f"cannot open {path!r}: {exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise GRUError(f"{path!r} is a directory; give the path of a {what} file")
    if not stat.S_ISREG(info.st_mode):
        raise GRUError(f"{path!r} is not a regular file (a pipe or device?), so it cannot be a {what}; "
                       f"give the path of a file saved by gru-tui. Nothing was loaded.")
    if info.st_size == 0:
        raise GRUError(f"{path!r} is empty, not a gru-tui {what}. Nothing was loaded.")
    return info.st_size


def read_checkpoint(path: str) -> dict[str, Any]:
    """The raw dictionary, read with weights_only=True; GRUError for anything unreadable."""
    path = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    size = check_saved_file(path)
    if looks_like_safetensors(path):
        raise GRUError(f"{path!r} is a safetensors file: it holds a model's weights, not a run to resume "
                       f"(`gru-tui sample` reads it); give a checkpoint (.ckpt). Nothing was loaded.")
    _check_zip_directory(path)
    try:
        with warnings.catch_warnings():  # torch warns about old pickle protocols on stderr
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            raise _damaged(path, exc) from None
        if "Unsupported operand" in str(exc):  # not a pickle at all: a text file, say
            raise _damaged(path, exc) from None
        # weights_only refuses any global it does not know: code, classes, functions.
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise GRUError(
            f"{path!r} was refused: it holds something other than tensors and plain values{what}, "
            f"which could run code when loaded; it is not a gru-tui checkpoint. Nothing was loaded."
        ) from None
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - whatever torch's readers raise
        raise _damaged(path, exc) from None
    _check_plain(data, path, size)
    return data


def looks_like_safetensors(path: str) -> bool:
    """A safetensors file is an 8-byte header length, then its JSON header: '{'."""
    try:
        with open(path, "rb") as f:
            return f.read(9)[8:] == b"{"
    except OSError:
        return False  # the loader that opens it next names the problem


# A checkpoint's zip holds its records stored, uncompressed (torch writes them so); a
# member that inflates to far more than the whole file is a zip bomb, refused from the
# zip's directory before a byte of it is inflated.
_INFLATE_SLACK = 1 << 20
_MAX_DEPTH = 32  # gru-tui's own checkpoints nest 5 deep


def _check_zip_directory(path: str) -> None:
    try:
        if not zipfile.is_zipfile(path):
            return  # torch.load reads the old pickle format too; it refuses what is neither
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise _damaged(path, exc) from None
    on_disk = os.path.getsize(path)
    inflated = sum(m.file_size for m in members)
    if inflated > on_disk + _INFLATE_SLACK:
        raise GRUError(
            f"{path!r} was refused: its {len(members)} parts would inflate to {inflated:,} bytes from "
            f"{on_disk:,} on disk (gru-tui stores them uncompressed), like a zip bomb. Nothing was loaded."
        )


# Nodes the structure walk may visit: a checkpoint's pickle spends at least a few bytes on
# each value it holds, but a shared reference costs two bytes and is visited each time it is
# met: a 17 KB file of lists holding one list 100 times, six deep, is 10^12 visits.
_NODE_BUDGET = 100_000
_NODES_PER_BYTE = 0.5


def _check_plain(data: Any, path: str, size: int = 0) -> None:
    """Every tensor dense, on the CPU and backed by its own numbers; nesting shallow and the
    structure small for the file's size: what gru-tui itself writes.

    Sparse, quantized or meta tensors, views wider than their storage (expand(10**9) of one
    number, which a loop over it would materialise), containers nested thousands deep, or
    shared references multiplying the walk, are refused here, before any of it reaches
    torch's ops, a loop or a recursive function.
    """
    budget = _NODE_BUDGET + int(size * _NODES_PER_BYTE)
    visited = 0
    stack = [(data, 0)]
    while stack:
        obj, depth = stack.pop()
        visited += 1
        if visited > budget:
            raise GRUError(f"{path!r} cannot be loaded: its contents hold more than {budget:,} values "
                           f"(shared references counted each time), far more than a "
                           f"{size:,}-byte gru-tui checkpoint holds. Nothing was loaded.")
        if depth > _MAX_DEPTH:
            raise GRUError(f"{path!r} cannot be loaded: its contents nest more than {_MAX_DEPTH} deep, "
                           f"which gru-tui never writes. Nothing was loaded.")
        if isinstance(obj, Tensor):
            _check_tensor(obj, path)
        elif isinstance(obj, dict):
            stack.extend((v, depth + 1) for v in obj.values())
            stack.extend((k, depth + 1) for k in obj.keys() if not isinstance(k, (str, int)))
        elif isinstance(obj, (list, tuple)):
            stack.extend((v, depth + 1) for v in obj)


def _check_tensor(t: Tensor, path: str) -> None:
    if t.layout != torch.strided or t.is_quantized or t.device.type != "cpu":
        where = t.device.type if t.device.type != "cpu" else str(t.layout).split(".")[-1]
        raise GRUError(f"{path!r} cannot be loaded: it holds a {where} tensor, where gru-tui "
                       f"writes only dense ones. Nothing was loaded.")
    stored = t.untyped_storage().nbytes() // max(1, t.element_size())
    if t.numel() > stored:
        raise GRUError(f"{path!r} cannot be loaded: it holds a tensor of shape {tuple(t.shape)} "
                       f"({t.numel():,} numbers) that the file stores only {stored:,} numbers of "
                       f"(a broadcast view, which gru-tui never writes). Nothing was loaded.")


def _damaged(path: str, exc: BaseException) -> GRUError:
    try:
        with open(path, "rb") as f:
            is_zip = f.read(4) == b"PK\x03\x04"  # a zip's first bytes, also when truncated
    except OSError:
        is_zip = True
    if is_zip is False and os.path.getsize(path) == 0:
        return GRUError(f"{path!r} is empty, not a gru-tui checkpoint. Nothing was loaded.")
    if not is_zip:  # every checkpoint is a zip: this is some other file, e.g. a text
        return GRUError(
            f"{path!r} is not a gru-tui checkpoint (it is not a zip archive, as every checkpoint is; "
            f"a text file?): give a checkpoint file saved by gru-tui. Nothing was loaded."
        )
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
    """Check every part of a checkpoint's dictionary against the others, then build the run."""
    try:
        return _trainer_from(data, path, device)
    except GRUError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError,
            RecursionError) as exc:  # a part changed in a way no check above foresaw
        raise GRUError(f"{path!r} cannot be loaded: it is damaged ({type(exc).__name__}: "
                       f"{_first_line(exc)}). Nothing was changed.") from None


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

    config = _config_from(data["config"], bad, device)
    vocab = data["vocab"]
    if not isinstance(vocab, str) or vocab != config.vocab_chars:
        raise bad(f"its vocabulary {_short(vocab)} does not match its config's {_short(config.vocab_chars)}")
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
        raise bad(f"its sampling random state is damaged ({_first_line(exc)})") from None

    grads = data["last_grads"]
    if not isinstance(grads, dict) or not all(
        isinstance(v, Tensor) and k in trainer.model.named_tensors()
        and v.shape == trainer.model.named_tensors()[k].shape for k, v in grads.items()
    ):
        raise bad("its last gradients do not fit the model")

    try:
        history = History.from_dict(data["history"], steps_per_epoch=trainer.num_batches)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise bad(f"its loss history is damaged ({_first_line(exc)})") from None

    trainer.step_count, trainer.epoch, trainer.batch_index = step, epoch, batch_index
    trainer.schedule_steps, trainer.lr_scale = schedule_steps, lr_scale
    trainer.apply_lr()  # the rate of the step it resumes at
    trainer.h = h.to(device=trainer.device, dtype=trainer.dtype).clone()
    trainer.last_grads = {k: v.to(device=trainer.device, dtype=trainer.dtype) for k, v in grads.items()}
    return trainer, history


def _config_from(raw: Any, bad: Callable[[str], GRUError], device: str | None) -> TrainConfig:
    if not isinstance(raw, dict):
        raise bad("its config is not a dictionary")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
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


def check_weights(tensors: Any, shapes: dict[str, tuple[int, ...]], bad: Callable[[str], GRUError],
                  sizes: str, reset: str) -> None:
    """The one rule for a saved model's weights, checkpoint or safetensors: exactly the
    article-named tensors `shapes` lists (weight_shapes), each of that shape, floating-point
    and finite. `sizes` says where the shapes come from, for the message."""
    if not isinstance(tensors, dict):
        raise bad("its weights are not a dictionary of tensors")
    extra = sorted(map(str, set(tensors) - set(shapes)))
    if extra:
        raise bad(f"it has weights {', '.join(extra)} that this model (reset={reset!r}) does not use")
    for name, shape in shapes.items():
        src = tensors.get(name)
        if not isinstance(src, Tensor):
            raise bad(f"its weights lack {name}")
        if tuple(src.shape) != shape:
            raise bad(f"weight {name} has shape {tuple(src.shape)}, but {sizes} need {shape}")
        if not src.is_floating_point():
            raise bad(f"weight {name} holds {src.dtype}, not floating-point numbers")
        if not bool(torch.isfinite(src).all()):
            raise bad(f"weight {name} holds NaN or infinite numbers; training from it cannot work")


def _load_optimizer(trainer: Trainer, state: Any, bad: Callable[[str], GRUError]) -> None:
    if not isinstance(state, dict) or "state" not in state or "param_groups" not in state:
        raise bad("its optimizer state is not an optimizer state_dict")
    groups = state["param_groups"]
    if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
        raise bad("its optimizer state does not fit this model")
    marker = "betas" if trainer.config.optimizer == "adam" else "momentum"  # present in each
    if marker not in groups[0]:
        raise bad(f"its optimizer state is not {trainer.config.optimizer}'s, which its config names")
    _check_param_group(groups[0], trainer.optimizer.state_dict()["param_groups"][0], bad)
    params = trainer.model.parameters()
    per_param = state["state"]
    if not isinstance(per_param, dict):
        raise bad("its optimizer state is damaged")
    for key, entry in per_param.items():
        if not isinstance(key, int) or not 0 <= key < len(params) or not isinstance(entry, dict):
            raise bad("its optimizer state does not fit this model")
        expected = _OPTIMIZER_STATE[trainer.config.optimizer]
        if set(entry) - set(expected) or (trainer.config.optimizer == "adam" and set(entry) != set(expected)):
            raise bad(f"its optimizer state has {', '.join(map(repr, sorted(map(str, entry))))} where "
                      f"{trainer.config.optimizer} keeps {', '.join(map(repr, expected))}")
        for name, value in entry.items():
            if value is None and name == "momentum_buffer":
                continue
            if not isinstance(value, Tensor) or not value.is_floating_point():
                raise bad(f"its optimizer's {name} is {type(value).__name__}, not a tensor of numbers")
            want = () if name == "step" else tuple(params[key].shape)  # Adam's step count is one number
            if tuple(value.shape) != want:
                raise bad(f"its optimizer's {name} has shape {tuple(value.shape)} where "
                          f"{'a step count has ()' if name == 'step' else f'the weights have {want}'}")
            if not bool(torch.isfinite(value).all()):
                raise bad(f"its optimizer's {name} holds NaN or infinite numbers")
    try:
        trainer.optimizer.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise bad(f"its optimizer state does not fit this model ({_first_line(exc)})") from None


_OPTIMIZER_STATE = {"adam": ("step", "exp_avg", "exp_avg_sq"), "sgd": ("momentum_buffer",)}
# the optimizer's numbers a file may hold: (lowest, highest, lowest allowed itself)
_GROUP_RANGES = {"lr": (0.0, MAX_LR, False), "momentum": (0.0, 0.999, True),
                 "dampening": (0.0, 1.0, True), "weight_decay": (0.0, 1e6, True),
                 "eps": (0.0, 1.0, False), "betas": (0.0, 1.0, True)}


def _check_param_group(group: dict, fresh: dict, bad: Callable[[str], GRUError]) -> None:
    """The optimizer's settings: the same keys as a fresh optimizer's, numbers in range.

    A string, NaN or a flag gru-tui never sets (amsgrad, fused, ...) would fail, livelock
    or crash the worker at the first step; here it is refused before anything starts.
    """
    unknown = sorted(map(str, set(group) - set(fresh)))
    missing = sorted(set(fresh) - set(group))
    if unknown or missing:
        raise bad(f"its optimizer settings differ from {', '.join(map(repr, fresh))} "
                  f"(unknown {unknown or 'none'}, missing {missing or 'none'})")
    if group["params"] != fresh["params"]:
        raise bad("its optimizer state does not fit this model")
    for key, want in fresh.items():
        value = group[key]
        if key == "params":
            continue
        if key in _GROUP_RANGES:
            low, high, low_ok = _GROUP_RANGES[key]
            numbers = value if isinstance(value, (tuple, list)) else (value,)
            if isinstance(want, tuple) and (not isinstance(value, (tuple, list)) or len(value) != len(want)):
                raise bad(f"its optimizer's {key} is {value!r}, not {len(want)} numbers")
            for x in numbers:
                if isinstance(x, bool) or not isinstance(x, (int, float)) or not (
                    (low <= x if low_ok else low < x) and x <= high
                ):
                    above = "from" if low_ok else "above"
                    raise bad(f"its optimizer's {key} is {value!r}; it must be a number {above} {low:g} "
                              f"to {high:g}")
        elif value != want or type(value) is not type(want):
            raise bad(f"its optimizer's {key} is {value!r}; gru-tui uses {want!r}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _short(chars: Any) -> str:
    if not isinstance(chars, str):
        return type(chars).__name__
    return repr(chars) if len(chars) <= 30 else repr(chars[:30]) + f" (+{len(chars) - 30} more)"


# ====================================================================== sessions
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
        return SavedWeights(f"{now}, the best so far (val {trainer.best_val:.4f})")
    weights = trainer.model.state_dict()
    if all(torch.equal(weights[k], v) for k, v in trainer.best_state.items()):  # restored
        return SavedWeights(f"the best weights, val {trainer.best_val:.4f} from step {trainer.best_step} "
                            f"(restored; the run is at step {trainer.step_count})")
    return SavedWeights(f"{now}; the best (val {trainer.best_val:.4f} at step {trainer.best_step}) are not "
                        f"in the file", best_left_out=True)


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
