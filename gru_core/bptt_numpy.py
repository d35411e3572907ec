r"""The hand-derived BPTT of bptt.py, run by numpy: the same equations, for small models on a CPU.

At the article's size (V=4, H=2, B=2, T=3) and up to H of a few dozen, a training step is
a few hundred tiny operations on arrays of a few dozen numbers: the arithmetic is nothing,
and the time is what each operation costs to dispatch. A torch operator costs 3-5 us
before it touches a number (argument parsing, dispatcher, output checks); a numpy ufunc
on a small array costs under 1 us. So for small CPU models this module runs the very same
forward and backward as bptt.ManualBPTT (the output layer here, the cell's equations in
gru_core/cell.py's numpy kernel, `numpy_forward` and `numpy_backward`) on numpy arrays
that share memory with the model's torch tensors (`tensor.numpy()` is a view, no copy):
the gradients it writes land in the parameters' `.grad` tensors. `use_numpy` decides
where it is faster (the crossover was measured; see USE_NUMPY_BELOW); the tests hold both
paths equal.
"""

from __future__ import annotations

import threading

import numpy as np
import torch
from torch import Tensor

from . import cell
from .errors import Cancelled

# numpy wins below this many numbers in one step's hidden state (B * H), on a CPU. Measured
# here (2-core x86, torch 2.13, numpy 2.4, T=16, both reset forms, the whole forward and
# backward): numpy takes 0.5-0.6x torch's time at B*H = 4..1024 (article, H=16 and 32 at
# B=8, H=32 at B=32), about 0.85x at H=64, B=32 (2048), and torch wins from H=128, B=16
# on, where the matmuls start to count and torch's kernels are faster.
USE_NUMPY_BELOW = 2048


def use_numpy(W: Tensor, B: int, H: int) -> bool:
    """True where the numpy kernel is faster than torch's: CPU, small B * H."""
    return W.device.type == "cpu" and B * H < USE_NUMPY_BELOW and W.dtype in (torch.float32, torch.float64)


class _Scratch:
    """The arrays of one step, reused from step to step (one set per shape): the cell's
    (cell.numpy_shapes, by name) and the output layer's."""

    def __init__(self, T: int, B: int, H: int, V: int, reset_after: bool, dtype) -> None:
        self.cell = {name: np.empty(shape, dtype=dtype)
                     for name, shape in cell.numpy_shapes(T, B, H, reset_after).items()}
        self.logits = np.empty((T * B, V), dtype=dtype)
        self.norm = np.empty((T * B, 1), dtype=dtype)
        self.rows = np.arange(T * B)


_scratch_lock = threading.Lock()
_scratch: dict[tuple, _Scratch] = {}


def _take(key: tuple) -> _Scratch:
    with _scratch_lock:
        found = _scratch.pop(key, None)
    return found if found is not None else _Scratch(*key)


def _give_back(key: tuple, s: _Scratch) -> None:
    with _scratch_lock:
        if len(_scratch) >= 4:
            _scratch.clear()
        _scratch[key] = s


def numpy_step(
    W: np.ndarray, U: np.ndarray, b: np.ndarray, bUh: np.ndarray, Wy: np.ndarray, by: np.ndarray,
    x: np.ndarray, y: np.ndarray, h0: np.ndarray, reset_after: bool,
    grads: tuple[np.ndarray, ...], cancel: threading.Event | None = None,
) -> tuple[float, np.ndarray]:
    """(loss, h_T [B, H]); the gradients are written into `grads` (dW, dU, db, dbUh, dWy, dby).

    grads[3] (dbUh) is None in the reset-before form. Every array is read, or written, in
    place; h_T is a fresh array.
    """
    T, B = x.shape
    V, H = Wy.shape[1], U.shape[0]
    key = (T, B, H, V, reset_after, W.dtype)
    s = _take(key)
    try:
        # A diverging run overflows here; the Trainer reports that (TrainingDiverged), not numpy.
        with np.errstate(all="ignore"):
            loss = _forward(s, W, U, b, bUh, Wy, by, x, y, h0, reset_after, cancel)
            _backward(s, W, U, Wy, x, y, reset_after, grads, cancel)
        return loss, s.cell["hs"][T].copy()
    finally:
        _give_back(key, s)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _forward(s, W, U, b, bUh, Wy, by, x, y, h0, reset_after, cancel) -> float:
    T, B = x.shape
    H = U.shape[0]
    h_out = cell.numpy_forward(s.cell, W, U, b, bUh, x, h0, reset_after, cancel)  # [T, B, H]
    # log y_hat = logits - max - log(sum(exp(logits - max))), over the vocabulary
    logits = np.matmul(h_out.reshape(T * B, H), Wy, out=s.logits)  # [T*B, V]
    logits += by
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)  # now exp(logits - max): y_hat before normalising
    logits.sum(axis=1, keepdims=True, out=s.norm)
    y_flat = y.reshape(-1)
    picked = logits[s.rows, y_flat] / s.norm[:, 0]  # y_hat[target]
    loss = -float(np.log(picked).sum()) / (T * B)
    logits /= s.norm  # y_hat
    return loss


def _backward(s, W, U, Wy, x, y, reset_after, grads, cancel) -> None:
    T, B = x.shape
    H = U.shape[0]
    dW, dU, db, dbUh, dWy, dby = grads
    # do = (y_hat - onehot(y)) / (T*B)
    do = s.logits
    do[s.rows, y.reshape(-1)] -= 1
    do *= 1.0 / (T * B)
    h_out = s.cell["hs"][1:].reshape(T * B, H)
    _check(cancel)
    np.matmul(h_out.T, do, out=dWy)
    do.sum(axis=0, out=dby)
    # do Wy^T, the output's share of dh; the cell adds each step's dh_next
    np.matmul(do, Wy.T, out=s.cell["dh"].reshape(T * B, H))
    cell.numpy_backward(s.cell, U, x, reset_after, (dW, dU, db, dbUh), cancel)
