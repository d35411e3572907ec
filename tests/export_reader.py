"""The tests' reader of gru_core's matrix JSON (gru_core/export.py writes it; no production
code reads it back): an exported matrix as a tensor, the names of non-finite numbers as
the numbers."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

_FROM_NAME = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _nonfinite_from_names(data: Any) -> Any:
    if isinstance(data, list):
        return [_nonfinite_from_names(v) for v in data]
    return _FROM_NAME.get(data, data) if isinstance(data, str) else data


def tensor_from(entry: dict[str, Any], dtype: torch.dtype = torch.float32) -> Tensor:
    """The reverse of export.matrix(): {"shape": [...], "data": nested lists} as a tensor."""
    data = _nonfinite_from_names(entry["data"])
    return torch.tensor(data, dtype=dtype).reshape(entry["shape"])
