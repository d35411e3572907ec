"""The checks a checkpoint's parts pass before a run is built from them: its config, its
weights (check_weights, the rule safetensors files pass too), its optimizer state and settings.

Each takes `bad`, which makes the GRUError naming the file, so every message says which file,
what in it is wrong, the value found and what gru-tui needs instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .checkpoint_file import first_line
from .config import MAX_LR, TrainConfig
from .errors import GRUError
from .formatting import setting

if TYPE_CHECKING:
    from .trainer import Trainer


def config_from(raw: Any, bad: Callable[[str], GRUError], device: str | None) -> TrainConfig:
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


def load_optimizer(trainer: Trainer, state: Any, bad: Callable[[str], GRUError]) -> None:
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
        raise bad(f"its optimizer state does not fit this model ({first_line(exc)})") from None


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
                    raise bad(f"its optimizer's {key} is {value!r}; it must be a number {above} "
                              f"{setting(low)} to {setting(high)}")
        elif value != want or type(value) is not type(want):
            raise bad(f"its optimizer's {key} is {value!r}; gru-tui uses {want!r}")


def short(chars: Any) -> str:
    if not isinstance(chars, str):
        return type(chars).__name__
    return repr(chars) if len(chars) <= 30 else repr(chars[:30]) + f" (+{len(chars) - 30} more)"
