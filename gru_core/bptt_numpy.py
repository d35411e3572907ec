r"""The hand-derived BPTT of bptt.py, run by numpy: the same equations, for small models on a CPU.

At the article's size (V=4, H=2, B=2, T=3) and up to H of a few dozen, a training step is
a few hundred tiny operations on arrays of a few dozen numbers: the arithmetic is nothing,
and the time is what each operation costs to dispatch. A torch operator costs 3-5 us
before it touches a number (argument parsing, dispatcher, output checks); a numpy ufunc
on a small array costs under 1 us. So for small CPU models this module runs the very same
forward and backward as bptt.ManualBPTT (read its docstring for the deltas, and
bptt_reference.py for them one line each) on numpy arrays that share memory with the
model's torch tensors (`tensor.numpy()` is a view, no copy): the gradients it writes
land in the parameters' `.grad` tensors. `use_numpy` decides where it is faster (the
crossover was measured; see USE_NUMPY_BELOW); the tests hold both paths equal.

Row-vector form, as in the article: h [B, H], W [V, 3H] = [Wz|Wr|Wh], U [H, 3H].
sigmoid(a) is written 1 / (1 + exp(-a)), as torch computes it.
"""

from __future__ import annotations

import threading

import numpy as np
import torch
from torch import Tensor

from .forward import Cancelled

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
    """The [T, B, .] arrays of one step, reused from step to step (one set per shape)."""

    def __init__(self, T: int, B: int, H: int, V: int, reset_after: bool, dtype) -> None:
        e = lambda *shape: np.empty(shape, dtype=dtype)  # noqa: E731
        self.xp = e(T, B, 3 * H)  # x Wz + bz | x Wr + br | x Wh + bh (reset after: bUh in the last block)
        self.hs = e(T + 1, B, H)  # hs[t] is h_prev of step t, hs[t+1] its output
        self.h_tilde = e(T, B, H)
        self.dh = e(T, B, H)
        self.one_minus_z = e(T, B, H)
        self.tmp = e(T, B, H)
        self.logits = e(T * B, V)
        self.norm = e(T * B, 1)
        self.dh_mm = e(B, H)
        self.rows = np.arange(T * B)
        if reset_after:
            self.xp_h = e(T, B, H)
            self.gates = e(T, B, 3 * H)  # z | r | hn
            self.da = e(T, B, 4, H)  # da_z | da_r | da_hn | da_h
        else:
            self.zr = e(T, B, 2 * H)
            self.rh = e(T, B, H)
            self.da = e(T, B, 3, H)  # da_z | da_r | da_h
            self.d_rh = e(B, H)


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


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    return np.reciprocal(a, out=a)


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
        return loss, s.hs[T].copy()
    finally:
        _give_back(key, s)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _forward(s, W, U, b, bUh, Wy, by, x, y, h0, reset_after, cancel) -> float:
    T, B = x.shape
    H = U.shape[0]
    xp, hs, h_tilde_all = s.xp, s.hs, s.h_tilde
    np.take(W, x.reshape(-1), axis=0, out=xp.reshape(T * B, 3 * H))  # x W: the rows of the characters
    xp += b
    hs[0] = h0
    if reset_after:
        # gates[t] = [x Wz + bz + h Uz | x Wr + br + h Ur | h Uh + bUh = hn]
        xp_h = s.xp_h
        xp_h[...] = xp[..., 2 * H :]
        xp[..., 2 * H :] = bUh
        gates = s.gates
        for t in range(T):
            _check(cancel)
            h, g = hs[t], gates[t]
            np.matmul(h, U, out=g)
            g += xp[t]
            zr = _sigmoid_(g[:, : 2 * H])
            z, r, hn = zr[:, :H], zr[:, H:], g[:, 2 * H :]
            h_tilde = np.multiply(r, hn, out=h_tilde_all[t])
            h_tilde += xp_h[t]
            np.tanh(h_tilde, out=h_tilde)
            # h = z * h_prev + (1 - z) * h_tilde  ==  h_tilde + z * (h_prev - h_tilde)
            h_new = np.subtract(h, h_tilde, out=hs[t + 1])
            h_new *= z
            h_new += h_tilde
    else:
        U_zr, Uh = np.ascontiguousarray(U[:, : 2 * H]), np.ascontiguousarray(U[:, 2 * H :])
        zr_all, rh_all = s.zr, s.rh
        for t in range(T):
            _check(cancel)
            h = hs[t]
            zr = np.matmul(h, U_zr, out=zr_all[t])
            zr += xp[t, :, : 2 * H]
            _sigmoid_(zr)
            z, r = zr[:, :H], zr[:, H:]
            rh = np.multiply(r, h, out=rh_all[t])
            h_tilde = np.matmul(rh, Uh, out=h_tilde_all[t])
            h_tilde += xp[t, :, 2 * H :]
            np.tanh(h_tilde, out=h_tilde)
            h_new = np.subtract(h, h_tilde, out=hs[t + 1])
            h_new *= z
            h_new += h_tilde
    # log y_hat = logits - max - log(sum(exp(logits - max))), over the vocabulary
    logits = np.matmul(hs[1:].reshape(T * B, H), Wy, out=s.logits)  # [T*B, V]
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
    hs, h_tilde = s.hs, s.h_tilde
    # do = (y_hat - onehot(y)) / (T*B)
    do = s.logits
    do[s.rows, y.reshape(-1)] -= 1
    do *= 1.0 / (T * B)
    h_out = hs[1:].reshape(T * B, H)
    _check(cancel)
    np.matmul(h_out.T, do, out=dWy)
    do.sum(axis=0, out=dby)
    dh_all = s.dh
    np.matmul(do, Wy.T, out=dh_all.reshape(T * B, H))  # do Wy^T; each step adds its dh_next

    h_prev_all = hs[:-1]
    da_all = s.da
    one_minus_z = s.one_minus_z
    if reset_after:
        gates = s.gates
        z, r, hn = gates[..., :H], gates[..., H : 2 * H], gates[..., 2 * H :]
        da_z, da_r, da_hn, da_h = (da_all[:, :, k] for k in range(4))
    else:
        z, r = s.zr[..., :H], s.zr[..., H:]
        da_z, da_r, da_h = (da_all[:, :, k] for k in range(3))
    np.subtract(1, z, out=one_minus_z)
    # da_h = dh * (1 - z) * (1 - h_tilde^2)
    np.multiply(h_tilde, h_tilde, out=da_h)
    np.subtract(1, da_h, out=da_h)
    da_h *= one_minus_z
    # da_z = dh * (h_prev - h_tilde) * z * (1 - z)
    np.subtract(h_prev_all, h_tilde, out=da_z)
    da_z *= z
    da_z *= one_minus_z
    r_grad = np.subtract(1, r, out=s.tmp)
    r_grad *= r  # r * (1 - r), sigmoid'
    if reset_after:
        # da_r = da_h * hn * r * (1 - r) ;  da_hn = da_h * r
        np.multiply(da_h, hn, out=da_r)
        da_r *= r_grad
        np.multiply(da_h, r, out=da_hn)
        U_T = np.ascontiguousarray(U.T)  # [3H, H]: rows Uz^T, Ur^T, Uh^T match da_z | da_r | da_hn
    else:
        # da_r = d_rh * h_prev * r * (1 - r): the factor now, d_rh = da_h Uh^T in the loop
        np.multiply(h_prev_all, r_grad, out=da_r)
        U_zr_T = np.ascontiguousarray(U[:, : 2 * H].T)  # [2H, H]
        Uh_T = np.ascontiguousarray(U[:, 2 * H :].T)
        d_rh = s.d_rh
    dh_mm = s.dh_mm

    dh = dh_all[T - 1]
    for t in range(T - 1, -1, -1):
        _check(cancel)
        da = da_all[t]  # [B, k, H]: factors in, deltas out
        da_flat = da.reshape(B, -1)
        if reset_after:
            da *= dh[:, None, :]
            if t > 0:
                # dh_next = dh * z + [da_z | da_r | da_hn] U^T, added to step t-1's do Wy^T
                dh_prev = dh_all[t - 1]
                dh *= z[t]
                dh_prev += dh
                dh_prev += np.matmul(da_flat[:, : 3 * H], U_T, out=dh_mm)
                dh = dh_prev
        else:
            da[:, 0::2] *= dh[:, None, :]  # da_z, da_h
            np.matmul(da[:, 2], Uh_T, out=d_rh)  # d_rh = da_h Uh^T
            da[:, 1] *= d_rh  # da_r
            if t > 0:
                # dh_next = dh * z + d_rh * r + [da_z | da_r] [Uz | Ur]^T
                dh_prev = dh_all[t - 1]
                dh *= z[t]
                dh_prev += dh
                d_rh *= r[t]
                dh_prev += d_rh
                dh_prev += np.matmul(da_flat[:, : 2 * H], U_zr_T, out=dh_mm)
                dh = dh_prev

    # Sums over time: one matmul / scatter-add each, over all T*B rows.
    h_prev_rows = h_prev_all.reshape(T * B, H)
    x_rows = x.reshape(-1)
    dW[...] = 0
    if reset_after:
        da_rows = da_all.reshape(T * B, 4 * H)  # da_z | da_r | da_hn | da_h
        np.matmul(h_prev_rows.T, da_rows[:, : 3 * H], out=dU)
        db[: 2 * H] = da_rows[:, : 2 * H].sum(axis=0)
        db[2 * H :] = da_rows[:, 3 * H :].sum(axis=0)
        da_rows[:, 2 * H : 3 * H].sum(axis=0, out=dbUh)
        np.add.at(dW[:, : 2 * H], x_rows, da_rows[:, : 2 * H])
        np.add.at(dW[:, 2 * H :], x_rows, da_rows[:, 3 * H :])
    else:
        da_rows = da_all.reshape(T * B, 3 * H)  # da_z | da_r | da_h
        np.matmul(h_prev_rows.T, da_rows[:, : 2 * H], out=dU[:, : 2 * H])
        np.matmul(s.rh.reshape(T * B, H).T, da_rows[:, 2 * H :], out=dU[:, 2 * H :])
        da_rows.sum(axis=0, out=db)
        np.add.at(dW, x_rows, da_rows)
