r"""A trained model outside gru-tui: torch.nn.GRU state dicts, and safetensors.

A checkpoint (checkpoint.py) holds a whole run: weights, optimizer, RNG, history and
the training text. To use the model elsewhere only the weights and the vocabulary are
needed, in a form other programs read:

**nn.GRU** (`export_torch`, `gru-tui export-torch CKPT OUT.pt`): a `torch.save` dict
of plain types and tensors, read with `torch.load(path, weights_only=True)`:

    format, version   "gru-tui-torch", 1
    gru               state_dict of torch.nn.GRU(V, H)     (weight_ih_l0 [3H, V], ...)
    linear            state_dict of torch.nn.Linear(H, V)  (weight [V, H], bias [V])
    vocab             the characters in index order: input i is the one-hot of vocab[i]
    input_size, hidden_size   V and H

    d = torch.load("model.pt", weights_only=True)
    gru = torch.nn.GRU(d["input_size"], d["hidden_size"]); gru.load_state_dict(d["gru"])
    linear = torch.nn.Linear(d["hidden_size"], d["input_size"]); linear.load_state_dict(d["linear"])
    out, h = gru(one_hot_inputs)            # [T, 1, V] -> [T, 1, H]
    y_hat = torch.softmax(linear(out), -1)  # equals gru-tui's y_hat to 1e-5

Only the reset-after form has such a twin. nn.GRU computes
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)): the reset gate scales the product
h Uh (+ bUh). The article's reset-before form computes tanh(x Wh + (r * h) Uh + bh):
r scales h before the product. (r * h) Uh is not r * (h Uh) unless r is the same for
every unit, so no nn.GRU weights reproduce it (outputs differ by order 1, see
article-notes); such a model is refused with that reason.

**safetensors** (`export_safetensors`, `gru-tui export-safetensors CKPT OUT.safetensors`):
the article-named weights (Wz, Wr, Wh, Uz, Ur, Uh, bz, br, bh, Wy, by, and bUh for
reset="after"), read without any pickle by every safetensors library. The header's
metadata holds strings: format "gru-tui-weights", version "1", vocab (the characters as
a JSON string), config (a JSON object: every TrainConfig field but the training text,
which is not shared, and its length as text_chars), step, val_loss. Both forms work for
reset-before and reset-after. `load_model` reads them back, or a checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from typing import Any

import torch

from .atomic import write_atomically
from .checkpoint import trainer_from_checkpoint
from .checkpoint_checks import check_weights
from .checkpoint_file import check_saved_file, looks_like_safetensors, read_checkpoint
from .config import MAX_HIDDEN
from .data import Vocab
from .errors import GRUError
from .history import History
from .model import GRUModel, weight_shapes
from .trainer import Trainer

TORCH_FORMAT = "gru-tui-torch"
WEIGHTS_FORMAT = "gru-tui-weights"
VERSION = 1


@dataclass(frozen=True)
class SavedModel:
    """The parts of a saved run that sampling and sharing need."""

    model: GRUModel
    vocab: Vocab
    config: dict[str, Any]  # TrainConfig fields as plain values (without the text)
    step: int
    val_loss: float | None


# ====================================================================== reading
def load_model(path: str) -> SavedModel:
    """A checkpoint (.ckpt) or a safetensors file made by export_safetensors; GRUError if neither."""
    check_saved_file(path, "saved model")  # before it is opened: no FIFO, device or loop
    path = os.fspath(path)
    if looks_like_safetensors(path):
        return read_safetensors(path)
    data = read_checkpoint(path)
    if isinstance(data, dict) and data.get("format") == TORCH_FORMAT:
        raise GRUError(f"{path!r} is an nn.GRU export (gru-tui export-torch); give the checkpoint "
                       f"it was made from, or a safetensors file")
    trainer, history = trainer_from_checkpoint(data, path=path, device="cpu")
    return saved_from_trainer(trainer, history)


def saved_from_trainer(trainer: Trainer, history: History) -> SavedModel:
    """The model a trainer holds now (an independent CPU copy: training may go on)."""
    config = {f.name: getattr(trainer.config, f.name) for f in dataclasses.fields(trainer.config)}
    config.pop("text")
    config["text_chars"] = len(trainer.config.text)
    val = history.val_losses[-1][1] if history.val_losses else None
    model = trainer.model.detached_copy()
    for name in ("W", "U", "b", "bUh", "Wy", "by"):
        setattr(model, name, getattr(model, name).cpu())
    return SavedModel(model, trainer.vocab, config, trainer.step_count, val)


# what the weights may be stored as, and the bytes each number takes
_DTYPES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
_MAX_HEADER = 100 << 20  # the safetensors library's own limit


def read_safetensors(path: str) -> SavedModel:
    """A model from export_safetensors' file: no pickle, every part checked.

    The header is read and checked first: the metadata (vocabulary, hidden size, reset),
    then every tensor's name, dtype, shape and byte range against the shapes that metadata
    needs and the file's size. Only then are the tensors read, so memory follows the
    tensors present; their values pass the checkpoint's rule (check_weights: finite).
    """
    from safetensors import SafetensorError, safe_open

    def bad(problem: str) -> GRUError:
        return GRUError(f"{path!r} cannot be loaded: {problem}. Nothing was loaded.")

    size = check_saved_file(path, "safetensors file")
    header, data_bytes = _safetensors_header(path, size, bad)
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise bad("its metadata is not a table of strings")
    if meta.get("format") != WEIGHTS_FORMAT:
        raise bad(f"its metadata has no format {WEIGHTS_FORMAT!r}; it was not written by gru-tui")
    if meta.get("version") != str(VERSION):
        raise bad(f"its format version {meta.get('version')!r} is not {VERSION}, the one this gru-tui reads")
    try:
        chars = json.loads(meta["vocab"])
        config = json.loads(meta["config"])
        step = int(meta.get("step", "0"))
        val = float(meta["val_loss"]) if meta.get("val_loss") else None
    except (KeyError, ValueError, TypeError, RecursionError) as exc:
        raise bad(f"its metadata is damaged ({type(exc).__name__}: {str(exc)[:100]})") from None
    if not isinstance(chars, str) or not chars or not isinstance(config, dict):
        raise bad("its metadata lacks the vocabulary or the config")
    if len(set(chars)) != len(chars):
        raise bad("its vocabulary lists a character twice")
    hidden, reset = config.get("hidden_size"), config.get("reset")
    if (isinstance(hidden, bool) or not isinstance(hidden, int) or not 1 <= hidden <= MAX_HIDDEN
            or reset not in ("before", "after")):
        raise bad(f"its config has hidden_size {_shown(hidden)} and reset {_shown(reset)}; gru-tui writes a "
                  f"whole number from 1 to {MAX_HIDDEN} and 'before' or 'after'")
    shapes = weight_shapes(len(chars), hidden, reset)
    sizes = f"its vocabulary of {len(chars)} characters and hidden size {hidden}"
    extra = sorted(set(header) - set(shapes))
    if extra:
        names = ", ".join(map(str, extra))[:200]
        raise bad(f"it has tensors {names} that a reset={reset!r} GRU does not use")
    for name, shape in shapes.items():
        entry = header.get(name)
        if not isinstance(entry, dict):
            raise bad(f"its weights lack {name}")
        dtype, got, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in _DTYPES:
            raise bad(f"weight {name} holds {_shown(dtype)}, not floating-point numbers")
        if not isinstance(got, list) or tuple(got) != shape:
            raise bad(f"weight {name} has shape {_shown(got)}, but {sizes} need {shape}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in offsets)
                or offsets[1] - offsets[0] != math.prod(shape) * _DTYPES[dtype] or offsets[0] < 0
                or offsets[1] > data_bytes):
            raise bad(f"weight {name}'s bytes {_shown(offsets)} do not hold its {shape} numbers "
                      f"inside the file")
    try:
        with safe_open(path, framework="pt") as f:
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise bad(f"it is neither a checkpoint nor a safetensors file ({str(exc)[:200]})") from None
    check_weights(tensors, shapes, bad, sizes, reset)
    model = GRUModel(len(chars), hidden, reset=reset)
    try:
        model.load_state_dict(tensors)
    except GRUError as exc:
        raise bad(str(exc)) from None
    return SavedModel(model, Vocab(chars), config, step, val)


def _safetensors_header(path: str, size: int, bad) -> tuple[dict[str, Any], int]:
    """The JSON header of a safetensors file, its length checked against the file's size, and
    the bytes of tensor data after it."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 2 <= n <= min(size - 8, _MAX_HEADER):
                raise bad(f"its header claims {n:,} bytes in a file of {size:,}; it is damaged")
            header = json.loads(f.read(n))
    except OSError as exc:
        raise bad(f"it cannot be read ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:
        raise bad(f"it is neither a checkpoint nor a safetensors file (its header is not JSON: "
                  f"{str(exc)[:100]})") from None
    if not isinstance(header, dict):
        raise bad("it is neither a checkpoint nor a safetensors file (its header is not a JSON object)")
    return header, size - 8 - n


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ====================================================================== writing
def export_safetensors(saved: SavedModel, path: str) -> None:
    """Write the article-named weights with vocab and config as metadata, atomically."""
    from safetensors.torch import save

    tensors = {k: v.contiguous() for k, v in saved.model.state_dict().items()}
    meta = {
        "format": WEIGHTS_FORMAT,
        "version": str(VERSION),
        "vocab": json.dumps(saved.vocab.chars),
        "config": json.dumps(saved.config, sort_keys=True),
        "step": str(saved.step),
        "val_loss": "" if saved.val_loss is None else repr(float(saved.val_loss)),
    }
    blob = save(tensors, metadata=meta)
    write_atomically(path, lambda f: f.write(blob), what="safetensors file")


def torch_state(saved: SavedModel) -> dict[str, Any]:
    """The export-torch dictionary (see the module docstring); GRUError for reset-before."""
    if saved.model.reset != "after":
        raise GRUError(
            "this model was trained with reset='before' (the article's form, Cho et al. 2014), "
            "which has no torch.nn.GRU equivalent: it computes tanh(x Wh + (r * h) Uh + bh), "
            "scaling h by the reset gate before the Uh product, while nn.GRU computes "
            "tanh(W_in x + b_in + r * (W_hn h + b_hn)), scaling the product; no nn.GRU weights "
            "give the same outputs. Train with --reset after to export to nn.GRU, or share this "
            "model with `gru-tui export-safetensors`"
        )
    model = saved.model.detached_copy()
    gru, linear = model.to_torch()
    gru, linear = gru.float(), linear.float()
    return {
        "format": TORCH_FORMAT,
        "version": VERSION,
        "gru": {k: v.detach().cpu().clone() for k, v in gru.state_dict().items()},
        "linear": {k: v.detach().cpu().clone() for k, v in linear.state_dict().items()},
        "vocab": saved.vocab.chars,
        "input_size": saved.vocab.size,
        "hidden_size": model.hidden_size,
    }


def export_torch(saved: SavedModel, path: str) -> None:
    """Write torch_state(saved) with torch.save, atomically."""
    state = torch_state(saved)
    write_atomically(path, lambda f: torch.save(state, f), what="nn.GRU export")
