r"""The GRU cell: its equations, forward and backward, both reset forms, every kernel.

Row vectors (the article's x @ W). One time step, x_t [B] character indices, h_prev [B, H]:

    z       = sigmoid(x_t Wz + h_prev Uz + bz)                   update gate
    r       = sigmoid(x_t Wr + h_prev Ur + br)                   reset gate
    h_tilde = tanh(x_t Wh + (r * h_prev) Uh + bh)                reset="before" (Cho et al. 2014)
    h_tilde = tanh(x_t Wh + bh + r * hn),  hn = h_prev Uh + bUh  reset="after"  (torch.nn.GRU)
    h       = z * h_prev + (1 - z) * h_tilde

Backward, given dh = dL/dh of the step (its output's share plus dh_next of the step after):

    da_h    = dh * (1 - z) * (1 - h_tilde^2)                     pre-activation of h_tilde
    da_z    = dh * (h_prev - h_tilde) * z * (1 - z)              pre-activation of z
    before: d_rh = da_h Uh^T ;  da_r = d_rh * h_prev * r * (1 - r)
            dh_next = dh * z + d_rh * r + da_z Uz^T + da_r Ur^T
    after:  da_hn = da_h * r ;  da_r = da_h * hn * r * (1 - r)
            dh_next = dh * z + da_hn Uh^T + da_z Uz^T + da_r Ur^T
    summed over t:  dWg += x^T da_g ;  dUg += h_prev^T da_g ;  dbg += sum da_g   (g = z, r, h)
            but dUh: before (r * h_prev)^T da_h ;  after h_prev^T da_hn, and dbUh += sum da_hn

Shapes: Wz, Wr, Wh [V, H]; Uz, Ur, Uh [H, H]; bz, br, bh, bUh [H]. The kernels take them
stacked, as the model stores them: W = [Wz|Wr|Wh] [V, 3H], U = [Uz|Ur|Uh] [H, 3H],
b = [bz|br|bh] [3H]. x is one-hot, so x_t Wz is row x_t of Wz (a gather), and x^T da a
scatter-add of da's rows.

The readable reference comes first (`forward_step`, `backward_step`, `weight_gradients`:
one line per equation, article names). The fast kernels follow, the same equations
rearranged for speed (as nanoGPT keeps its manual attention beside the flash kernel):

- "torch": `hidden_states`, the forward that autograd differentiates (forward_loss);
- "fused": `fused_forward` / `fused_backward`, the hand-derived BPTT on preallocated torch
  buffers (bptt.py, the Trainer's path for larger models);
- "numpy": `numpy_forward` / `numpy_backward`, the same in numpy for small CPU models
  (bptt_numpy.py: a numpy call costs a fraction of a torch call's dispatch);
- "sampler": `OneSequence`, one sequence a character at a time in numpy (sampling.py).

`KERNELS` maps those names to a common (forward, backward) pair, so one parametrised test
(tests/core/test_cell.py) holds every kernel equal to the reference.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .errors import Cancelled


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


# ===================================================================== the reference


@dataclass(frozen=True)
class StepOut:
    """One time step of the forward pass, every intermediate kept (all [B, H])."""

    z: Tensor
    r: Tensor
    h_tilde: Tensor
    h: Tensor


def forward_step(w: Mapping[str, Tensor], x_t: Tensor | int, h_prev: Tensor, reset: str) -> StepOut:
    """One time step: x_t [B] character indices (or one index), h_prev [B, H] (or [H]).

    w: the article-named weights (Wz ... bh, and bUh for reset="after")."""
    z = torch.sigmoid(w["Wz"][x_t] + h_prev @ w["Uz"] + w["bz"])
    r = torch.sigmoid(w["Wr"][x_t] + h_prev @ w["Ur"] + w["br"])
    if reset == "before":
        h_tilde = torch.tanh(w["Wh"][x_t] + (r * h_prev) @ w["Uh"] + w["bh"])
    else:
        h_tilde = torch.tanh(w["Wh"][x_t] + w["bh"] + r * (h_prev @ w["Uh"] + w["bUh"]))
    h = z * h_prev + (1 - z) * h_tilde
    return StepOut(z=z, r=r, h_tilde=h_tilde, h=h)


def backward_step(w: Mapping[str, Tensor], dh: Tensor, h_prev: Tensor, z: Tensor, r: Tensor,
                  h_tilde: Tensor, reset: str) -> tuple[dict[str, Tensor], Tensor]:
    """(da, dh_next) of one time step, from dh = dL/dh of its output [B, H].

    da: "z", "r", "h" (and "hn" for reset="after"), the deltas of the pre-activations."""
    da_h = dh * (1 - z) * (1 - h_tilde**2)
    da_z = dh * (h_prev - h_tilde) * z * (1 - z)
    if reset == "before":
        d_rh = da_h @ w["Uh"].T
        da_r = d_rh * h_prev * r * (1 - r)
        dh_next = dh * z + d_rh * r + da_z @ w["Uz"].T + da_r @ w["Ur"].T
        return {"z": da_z, "r": da_r, "h": da_h}, dh_next
    hn = h_prev @ w["Uh"] + w["bUh"]
    da_hn = da_h * r
    da_r = da_h * hn * r * (1 - r)
    dh_next = dh * z + da_hn @ w["Uh"].T + da_z @ w["Uz"].T + da_r @ w["Ur"].T
    return {"z": da_z, "r": da_r, "h": da_h, "hn": da_hn}, dh_next


def weight_gradients(x: Tensor, h_prev: Tensor, r: Tensor, da: Mapping[str, Tensor], reset: str,
                     vocab_size: int) -> dict[str, Tensor]:
    """dWz ... dbh (and dbUh) summed over every time step: x [N] indices, h_prev, r and
    da's entries [N, H], their N = T*B rows taken at once (x^T da is index_add_ of da's rows)."""
    H = h_prev.shape[-1]
    grads: dict[str, Tensor] = {}
    for gate in ("z", "r", "h"):
        d = da[gate]
        grads["W" + gate] = torch.zeros(vocab_size, H, dtype=d.dtype, device=d.device).index_add_(0, x, d)
        grads["b" + gate] = d.sum(0)
        if gate != "h":
            grads["U" + gate] = h_prev.T @ d
    if reset == "before":
        grads["Uh"] = (r * h_prev).T @ da["h"]
    else:
        grads["Uh"] = h_prev.T @ da["hn"]
        grads["bUh"] = da["hn"].sum(0)
    return grads


# ===================================================================== torch, for autograd

INPUT_CHUNK = 32  # time steps whose input sums are gathered at once


def _input_sums(x: Tensor, W: Tensor, b: Tensor, cancel: threading.Event | None) -> Iterator[Tensor]:
    """x_t W + b [B, 3H] (x Wz + bz | x Wr + br | x Wh + bh) for each t, gathered INPUT_CHUNK
    time steps at a time, with `cancel` checked before each time step: all T at once was one
    [T, B, 3H] gather (118 MB at H=512, B=64, T=300) that a close had to wait for.
    `unbind(0)` hands out per-step views whose backward stacks, where indexing xp[t] in the
    loop would make every step's backward write a full-size zero gradient."""
    for t0 in range(0, x.shape[0], INPUT_CHUNK):
        _check_cancel(cancel)
        xp = torch.nn.functional.embedding(x[t0 : t0 + INPUT_CHUNK], W) + b
        for xp_t in xp.unbind(0):
            _check_cancel(cancel)
            yield xp_t


def hidden_states(W: Tensor, U: Tensor, b: Tensor, bUh: Tensor, x: Tensor, h0: Tensor, reset: str,
                  cancel: threading.Event | None = None) -> tuple[Tensor, Tensor]:
    """(h for every time step [T, B, H], the last h [B, H]), with autograd's graph.

    forward_step's equations, with the input side of the gates gathered for many steps at
    once, and z and r sharing one matmul. `cancel`, when set, stops the loop (Cancelled)."""
    H = U.shape[0]
    U_zr, Uh = U[:, : 2 * H], U[:, 2 * H :]
    h = h0
    hs = []
    for xp_t in _input_sums(x, W, b, cancel):
        if reset == "before":
            zr = torch.sigmoid(torch.addmm(xp_t[:, : 2 * H], h, U_zr))
            z, r = zr[:, :H], zr[:, H:]
            h_tilde = torch.tanh(torch.addmm(xp_t[:, 2 * H :], r * h, Uh))
        else:
            hU = h @ U  # [B, 3H]
            zr = torch.sigmoid(xp_t[:, : 2 * H] + hU[:, : 2 * H])
            z, r = zr[:, :H], zr[:, H:]
            h_tilde = torch.tanh(xp_t[:, 2 * H :] + r * (hU[:, 2 * H :] + bUh))
        h = h_tilde + z * (h - h_tilde)  # = z * h + (1 - z) * h_tilde
        hs.append(h)
    return torch.stack(hs), h


# ===================================================================== torch, fused by hand


def fused_shapes(T: int, B: int, H: int, reset_after: bool) -> dict[str, tuple[int, ...]]:
    """The [T, B, .] buffers fused_forward and fused_backward work in, by name."""
    shapes = {
        "xp": (T, B, 3 * H),  # x Wz + bz | x Wr + br | x Wh + bh  (reset after: bUh in the last block)
        "hs": (T + 1, B, H),  # hs[t] is h_prev of step t, hs[t+1] its output
        "h_tilde": (T, B, H),
        "dh": (T, B, H),  # dh of every step: the output's share, plus dh_next once the step after is done
        "tmp": (T, B, H),
        "d_rh": (B, H),
    }
    if reset_after:
        shapes.update(xp_h=(T, B, H), gates=(T, B, 3 * H), da=(T, B, 4, H))
    else:
        shapes.update(zr=(T, B, 2 * H), rh=(T, B, H), da=(T, B, 3, H))
    return shapes


def fused_forward(buf: Mapping[str, Tensor], W: Tensor, U: Tensor, b: Tensor, bUh: Tensor, x: Tensor,
                  h0: Tensor, reset_after: bool, cancel: threading.Event | None = None) -> Tensor:
    """The forward into `buf` (fused_shapes); returns hs[1:], h of every step [T, B, H].

    Every step writes into the buffers (`out=`, in-place activations, `lerp` for the
    interpolation), and the reset-after form folds bUh into the one addmm per step; the
    buffers keep what fused_backward needs."""
    T, B = x.shape
    H = U.shape[0]
    xp = buf["xp"]  # [T, B, 3H]: x Wz + bz | x Wr + br | x Wh + bh, one row gather for all t
    torch.index_select(W, 0, x.reshape(-1), out=xp.view(T * B, 3 * H)).add_(b)
    hs, h_tilde_all = buf["hs"], buf["h_tilde"]
    hs[0] = h0
    if reset_after:
        # One addmm per step gives all three hidden-side products, bUh included:
        #   gates[t] = [x Wz + bz + h Uz | x Wr + br + h Ur | h Uh + bUh = hn]
        # so the input side of h_tilde moves out, and bUh takes its place.
        xp_h = buf["xp_h"].copy_(xp[..., 2 * H :])  # x Wh + bh  [T, B, H]
        xp[..., 2 * H :] = bUh
        gates = buf["gates"]  # after the loop: z | r | hn
        for t in range(T):
            _check_cancel(cancel)
            h = hs[t]
            g = torch.addmm(xp[t], h, U, out=gates[t])
            zr = g[:, : 2 * H].sigmoid_()
            z, r, hn = zr[:, :H], zr[:, H:], g[:, 2 * H :]
            h_tilde = torch.addcmul(xp_h[t], r, hn, out=h_tilde_all[t]).tanh_()
            # h = z * h_prev + (1 - z) * h_tilde  ==  h_tilde + z * (h_prev - h_tilde)
            torch.lerp(h_tilde, h, z, out=hs[t + 1])
    else:
        U_zr, Uh = U[:, : 2 * H], U[:, 2 * H :]
        zr_all, rh_all = buf["zr"], buf["rh"]  # z | r ;  r * h_prev, the input of Uh
        for t in range(T):
            _check_cancel(cancel)
            h = hs[t]
            zr = torch.addmm(xp[t, :, : 2 * H], h, U_zr, out=zr_all[t]).sigmoid_()
            z, r = zr[:, :H], zr[:, H:]
            rh = torch.mul(r, h, out=rh_all[t])
            h_tilde = torch.addmm(xp[t, :, 2 * H :], rh, Uh, out=h_tilde_all[t]).tanh_()
            torch.lerp(h_tilde, h, z, out=hs[t + 1])
    return hs[1:]


def fused_backward(buf: Mapping[str, Tensor], W: Tensor, U: Tensor, x: Tensor, reset_after: bool,
                   cancel: threading.Event | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """(dW, dU, db, dbUh) after fused_forward; buf["dh"] holds the output's share of dL/dh
    at every step [T, B, H], and each step adds its dh_next into the row of the step before.

    Every delta is dh times a factor the forward pass fixed, e.g. da_h = dh * [(1 - z) *
    (1 - h_tilde^2)]. The factors, for all t at once, go side by side into buf["da"] in
    the column order the fused matmul with U^T needs; the loop multiplies them by dh in
    place. dbUh is None in the reset-before form."""
    T, B = x.shape
    H = U.shape[0]
    hs, h_tilde, dh_all = buf["hs"], buf["h_tilde"], buf["dh"]
    _check_cancel(cancel)
    h_prev_all = hs[:-1]
    da_all = buf["da"]  # [T, B, k, H]
    one_minus_z = buf["tmp"]
    if reset_after:
        gates = buf["gates"]
        z, r, hn = gates[..., :H], gates[..., H : 2 * H], gates[..., 2 * H :]
        da_z, da_r, da_hn, da_h = da_all.unbind(2)  # da = [da_z | da_r | da_hn | da_h]
    else:
        zr_all = buf["zr"]
        z, r = zr_all[..., :H], zr_all[..., H:]
        da_z, da_r, da_h = da_all.unbind(2)  # da = [da_z | da_r | da_h]
    torch.neg(z, out=one_minus_z).add_(1)
    _check_cancel(cancel)
    # da_h = dh * (1 - z) * (1 - h_tilde^2)
    torch.mul(h_tilde, h_tilde, out=da_h).neg_().add_(1).mul_(one_minus_z)
    # da_z = dh * (h_prev - h_tilde) * z * (1 - z)
    torch.sub(h_prev_all, h_tilde, out=da_z).mul_(z).mul_(one_minus_z)
    r_grad = torch.neg(r, out=buf["tmp"]).add_(1).mul_(r)  # r * (1 - r), sigmoid'
    if reset_after:
        # da_r = da_h * hn * r * (1 - r) ;  da_hn = da_h * r
        torch.mul(da_h, hn, out=da_r).mul_(r_grad)
        torch.mul(da_h, r, out=da_hn)
        U_T = U.T  # [3H, H]: rows Uz^T, Ur^T, Uh^T match da_z | da_r | da_hn
    else:
        # da_r = d_rh * h_prev * r * (1 - r): the factor now, d_rh = da_h Uh^T in the loop
        torch.mul(h_prev_all, r_grad, out=da_r)
        U_zr_T = U[:, : 2 * H].T  # [2H, H]
        Uh_T = U[:, 2 * H :].T
        d_rh = buf["d_rh"]

    dh = dh_all[T - 1]
    for t in range(T - 1, -1, -1):
        _check_cancel(cancel)
        da = da_all[t]  # [B, k, H]: factors in, deltas out
        da_flat = da.view(B, -1)  # [B, k*H]
        if reset_after:
            da.mul_(dh.unsqueeze(1))
            if t > 0:
                # dh_next = dh * z + [da_z | da_r | da_hn] U^T, added to step t-1's output share
                dh = dh_all[t - 1].addcmul_(dh, z[t]).addmm_(da_flat[:, : 3 * H], U_T)
        else:
            da[:, 0::2].mul_(dh.unsqueeze(1))  # da_z, da_h
            torch.mm(da[:, 2], Uh_T, out=d_rh)  # d_rh = da_h Uh^T
            da[:, 1].mul_(d_rh)  # da_r
            if t > 0:
                # dh_next = dh * z + d_rh * r + [da_z | da_r] [Uz | Ur]^T
                dh = dh_all[t - 1].addcmul_(dh, z[t]).addcmul_(d_rh, r[t])
                dh.addmm_(da_flat[:, : 2 * H], U_zr_T)

    # Sums over time: one matmul / scatter-add each, over all T*B rows.
    h_prev_rows = h_prev_all.reshape(T * B, H)
    x_rows = x.reshape(-1)
    dW = torch.zeros_like(W)
    if reset_after:
        da_rows = da_all.view(T * B, 4 * H)  # da_z | da_r | da_hn | da_h
        dU = h_prev_rows.T @ da_rows[:, : 3 * H]
        sums = da_rows.sum(0)
        db = torch.cat([sums[: 2 * H], sums[3 * H :]])
        dbUh = sums[2 * H : 3 * H]
        dW[:, : 2 * H].index_add_(0, x_rows, da_rows[:, : 2 * H])
        dW[:, 2 * H :].index_add_(0, x_rows, da_rows[:, 3 * H :])
    else:
        da_rows = da_all.view(T * B, 3 * H)  # da_z | da_r | da_h
        rh_rows = buf["rh"].view(T * B, H)
        dU = torch.cat([h_prev_rows.T @ da_rows[:, : 2 * H], rh_rows.T @ da_rows[:, 2 * H :]], dim=1)
        db = da_rows.sum(0)
        dbUh = None
        dW.index_add_(0, x_rows, da_rows)
    return dW, dU, db, dbUh


# ===================================================================== numpy, for small models


def numpy_shapes(T: int, B: int, H: int, reset_after: bool) -> dict[str, tuple[int, ...]]:
    """The arrays numpy_forward and numpy_backward work in, by name."""
    shapes = {
        "xp": (T, B, 3 * H),  # x Wz + bz | x Wr + br | x Wh + bh (reset after: bUh in the last block)
        "hs": (T + 1, B, H),  # hs[t] is h_prev of step t, hs[t+1] its output
        "h_tilde": (T, B, H),
        "dh": (T, B, H),
        "one_minus_z": (T, B, H),
        "tmp": (T, B, H),
        "dh_mm": (B, H),
    }
    if reset_after:
        shapes.update(xp_h=(T, B, H), gates=(T, B, 3 * H), da=(T, B, 4, H))  # gates: z | r | hn
    else:
        shapes.update(zr=(T, B, 2 * H), rh=(T, B, H), da=(T, B, 3, H), d_rh=(B, H))
    return shapes


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """sigmoid(a) = 1 / (1 + exp(-a)) in place, as torch computes it."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    return np.reciprocal(a, out=a)


def numpy_forward(s: Mapping[str, np.ndarray], W: np.ndarray, U: np.ndarray, b: np.ndarray,
                  bUh: np.ndarray, x: np.ndarray, h0: np.ndarray, reset_after: bool,
                  cancel: threading.Event | None = None) -> np.ndarray:
    """fused_forward's work in numpy, into `s` (numpy_shapes); returns hs[1:] [T, B, H]."""
    T, B = x.shape
    H = U.shape[0]
    xp, hs, h_tilde_all = s["xp"], s["hs"], s["h_tilde"]
    np.take(W, x.reshape(-1), axis=0, out=xp.reshape(T * B, 3 * H))  # x W: the rows of the characters
    xp += b
    hs[0] = h0
    if reset_after:
        # gates[t] = [x Wz + bz + h Uz | x Wr + br + h Ur | h Uh + bUh = hn]
        xp_h = s["xp_h"]
        xp_h[...] = xp[..., 2 * H :]
        xp[..., 2 * H :] = bUh
        gates = s["gates"]
        for t in range(T):
            _check_cancel(cancel)
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
        zr_all, rh_all = s["zr"], s["rh"]
        for t in range(T):
            _check_cancel(cancel)
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
    return hs[1:]


def numpy_backward(s: Mapping[str, np.ndarray], U: np.ndarray, x: np.ndarray, reset_after: bool,
                   grads: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None],
                   cancel: threading.Event | None = None) -> None:
    """fused_backward's work in numpy: s["dh"] holds the output's share of dL/dh; the
    gradients are written into grads = (dW, dU, db, dbUh) (dbUh None: reset before)."""
    T, B = x.shape
    H = U.shape[0]
    dW, dU, db, dbUh = grads
    hs, h_tilde, dh_all = s["hs"], s["h_tilde"], s["dh"]
    h_prev_all = hs[:-1]
    da_all = s["da"]
    one_minus_z = s["one_minus_z"]
    if reset_after:
        gates = s["gates"]
        z, r, hn = gates[..., :H], gates[..., H : 2 * H], gates[..., 2 * H :]
        da_z, da_r, da_hn, da_h = (da_all[:, :, k] for k in range(4))
    else:
        z, r = s["zr"][..., :H], s["zr"][..., H:]
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
    r_grad = np.subtract(1, r, out=s["tmp"])
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
        d_rh = s["d_rh"]
    dh_mm = s["dh_mm"]

    dh = dh_all[T - 1]
    for t in range(T - 1, -1, -1):
        _check_cancel(cancel)
        da = da_all[t]  # [B, k, H]: factors in, deltas out
        da_flat = da.reshape(B, -1)
        if reset_after:
            da *= dh[:, None, :]
            if t > 0:
                # dh_next = dh * z + [da_z | da_r | da_hn] U^T, added to step t-1's output share
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
        np.matmul(s["rh"].reshape(T * B, H).T, da_rows[:, 2 * H :], out=dU[:, 2 * H :])
        da_rows.sum(axis=0, out=db)
        np.add.at(dW, x_rows, da_rows)


class OneSequence:
    """forward_step for one sequence, a character at a time, in numpy (the sampler's kernel).

    The weights are copied once (never a view of weights training may write), then one
    character costs a dozen numpy calls into buffers allocated here, and one product with
    the weights: h [Wy | Uz | Ur] gives this character's logits (less by) and the next
    character's gate sums together.
    - x W + b is one row of (W + b), picked by the character's index;
    - sigmoid(a) = 0.5 * (1 + tanh(a / 2)): with the halves folded into the weights, one
      tanh and one add give [2z | 2r] for both gates, and the Uh product takes the other
      half (Uh / 2), so (2r * h) (Uh / 2) = (r * h) Uh;
    - reset="after" takes Uh into the same product, as nn.GRU does: h [Wy | Uz | Ur | Uh].
    """

    def __init__(self, W: Tensor, U: Tensor, b: Tensor, bUh: Tensor, Wy: Tensor, by: Tensor,
                 reset: str, h0: np.ndarray) -> None:
        def as_np(t: Tensor) -> np.ndarray:  # a copy, never a view of weights training may write
            return np.array(t.detach().to("cpu").numpy(), copy=True)

        H, V = U.shape[0], Wy.shape[1]
        self.reset_after = reset == "after"
        W_b = as_np(W) + as_np(b)  # [V, 3H]: row c is x W + b for character c
        U_half = 0.5 * as_np(U)  # [H, 3H]: [Uz|Ur|Uh] / 2
        self.by = as_np(by)  # [V]
        self.dtype = W_b.dtype
        self.x_zr_half = np.ascontiguousarray(0.5 * W_b[:, : 2 * H])  # [V, 2H]
        self.x_h = np.ascontiguousarray(W_b[:, 2 * H :])  # [V, H]
        self.Uh_half = np.ascontiguousarray(U_half[:, 2 * H :])  # [H, H]
        self.bUh_half = 0.5 * as_np(bUh)  # [H]
        n_h = 3 * H if self.reset_after else 2 * H  # the columns of U in the shared product
        self.Wy_U = np.ascontiguousarray(np.concatenate([as_np(Wy), U_half[:, :n_h]], axis=1))
        self._yU = np.empty(V + n_h, dtype=self.dtype)  # h [Wy | U...], then the gates in place
        self.logits = self._yU[:V]  # h Wy for the latest h (by not added)
        self.Wy = self.Wy_U[:, :V]  # [H, V]
        self._zr2 = self._yU[V : V + 2 * H]  # [2z | 2r] once read() has made them
        self._z2, self._r2 = self._zr2[:H], self._zr2[H:]
        self._hn = self._yU[V + 2 * H :] if self.reset_after else np.empty(H, dtype=self.dtype)
        self._rh = np.empty(H, dtype=self.dtype)
        self.h = np.array(h0, dtype=self.dtype)  # [H]
        np.matmul(self.h, self.Wy_U, out=self._yU)

    def read(self, idx: int, out: np.ndarray) -> np.ndarray:
        """Read character idx: out [H] becomes the new h (and self.h), self.logits its h Wy."""
        h_prev, zr2, z2, r2, hn = self.h, self._zr2, self._z2, self._r2, self._hn
        zr2 += self.x_zr_half[idx]
        np.tanh(zr2, out=zr2)
        zr2 += 1.0  # [2z | 2r] = 2 sigmoid(x [Wz|Wr] + h_prev [Uz|Ur] + [bz|br])
        if self.reset_after:
            hn += self.bUh_half
            hn *= r2  # r * (h_prev Uh + bUh)
        else:
            np.multiply(r2, h_prev, out=self._rh)
            np.matmul(self._rh, self.Uh_half, out=hn)  # (r * h_prev) Uh
        hn += self.x_h[idx]
        h_tilde = np.tanh(hn, out=hn)
        np.subtract(h_prev, h_tilde, out=out)
        out *= z2
        out *= 0.5
        out += h_tilde  # h = z * h_prev + (1 - z) * h_tilde
        np.matmul(out, self.Wy_U, out=self._yU)
        self.h = out
        return out


# ===================================================================== the registry
#
# Every kernel behind one signature, for tests/core/test_cell.py: the gate weights stacked
# (W, U, b, bUh), x [T, B], h0 [B, H]. forward gives h of every step [T, B, H]; backward,
# given g [T, B, H] = the output's share of dL/dh at every step, gives the gate weights'
# gradients {"W", "U", "b", "bUh"} (bUh's: reset "after" only).


def named_weights(W: Tensor, U: Tensor, b: Tensor, bUh: Tensor) -> dict[str, Tensor]:
    """The article's names for the stacked gate weights (views)."""
    H = U.shape[0]
    w = {"bUh": bUh}
    for i, gate in enumerate(("z", "r", "h")):
        cols = slice(i * H, (i + 1) * H)
        w["W" + gate], w["U" + gate], w["b" + gate] = W[:, cols], U[:, cols], b[cols]
    return w


def _stacked(grads: Mapping[str, Tensor], reset: str) -> dict[str, Tensor]:
    out = {"W": torch.cat([grads["Wz"], grads["Wr"], grads["Wh"]], dim=1),
           "U": torch.cat([grads["Uz"], grads["Ur"], grads["Uh"]], dim=1),
           "b": torch.cat([grads["bz"], grads["br"], grads["bh"]])}
    if reset == "after":
        out["bUh"] = grads["bUh"]
    return out


def _reference_forward(p: tuple[Tensor, ...], x: Tensor, h0: Tensor, reset: str) -> Tensor:
    w, h, hs = named_weights(*p), h0, []
    for x_t in x:
        h = forward_step(w, x_t, h, reset).h
        hs.append(h)
    return torch.stack(hs)


def _reference_backward(p: tuple[Tensor, ...], x: Tensor, h0: Tensor, g: Tensor, reset: str
                        ) -> dict[str, Tensor]:
    w, h, steps, h_prevs = named_weights(*p), h0, [], []
    for x_t in x:
        h_prevs.append(h)
        steps.append(forward_step(w, x_t, h, reset))
        h = steps[-1].h
    das: list[dict[str, Tensor]] = []
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(len(steps))):
        s = steps[t]
        da, dh_next = backward_step(w, g[t] + dh_next, h_prevs[t], s.z, s.r, s.h_tilde, reset)
        das.insert(0, da)
    rows = lambda ts: torch.cat(list(ts))  # noqa: E731 - [T, B, H] steps -> [T*B, H] rows
    da_rows = {k: rows(d[k] for d in das) for k in das[0]}
    grads = weight_gradients(x.reshape(-1), rows(h_prevs), rows(s.r for s in steps), da_rows, reset,
                             p[0].shape[0])
    return _stacked(grads, reset)


def _torch_forward(p: tuple[Tensor, ...], x: Tensor, h0: Tensor, reset: str) -> Tensor:
    return hidden_states(*p, x, h0, reset)[0]


def _torch_backward(p: tuple[Tensor, ...], x: Tensor, h0: Tensor, g: Tensor, reset: str
                    ) -> dict[str, Tensor]:
    leaves = [t.detach().requires_grad_(True) for t in p]
    hs = hidden_states(*leaves, x, h0, reset)[0]
    grads = torch.autograd.grad((hs * g).sum(), leaves, allow_unused=True)
    out = dict(zip(("W", "U", "b", "bUh"), grads))
    if reset == "before":
        del out["bUh"]
    return out


def _fused_buffers(x: Tensor, h0: Tensor, reset: str) -> dict[str, Tensor]:
    T, B = x.shape
    shapes = fused_shapes(T, B, h0.shape[1], reset == "after")
    return {name: h0.new_empty(shape) for name, shape in shapes.items()}


def _fused_forward(p: tuple[Tensor, ...], x: Tensor, h0: Tensor, reset: str) -> Tensor:
    return fused_forward(_fused_buffers(x, h0, reset), *p, x, h0, reset == "after").clone()


def _fused_backward(p: tuple[Tensor, ...], x: Tensor, h0: Tensor, g: Tensor, reset: str
                    ) -> dict[str, Tensor]:
    buf = _fused_buffers(x, h0, reset)
    fused_forward(buf, *p, x, h0, reset == "after")
    buf["dh"].copy_(g)
    dW, dU, db, dbUh = fused_backward(buf, p[0], p[1], x, reset == "after")
    return {"W": dW, "U": dU, "b": db, **({"bUh": dbUh} if reset == "after" else {})}


def _numpy_arrays(x: Tensor, h0: Tensor, reset: str) -> dict[str, np.ndarray]:
    T, B = x.shape
    shapes = numpy_shapes(T, B, h0.shape[1], reset == "after")
    return {name: np.empty(shape, dtype=h0.numpy().dtype) for name, shape in shapes.items()}


def _as_numpy(p: tuple[Tensor, ...], x: Tensor, h0: Tensor) -> tuple:
    return tuple(t.detach().numpy() for t in p), x.numpy(), h0.numpy()


def _numpy_forward(p: tuple[Tensor, ...], x: Tensor, h0: Tensor, reset: str) -> Tensor:
    arrays = _numpy_arrays(x, h0, reset)
    weights, x_np, h0_np = _as_numpy(p, x, h0)
    return torch.from_numpy(numpy_forward(arrays, *weights, x_np, h0_np, reset == "after").copy())


def _numpy_backward(p: tuple[Tensor, ...], x: Tensor, h0: Tensor, g: Tensor, reset: str
                    ) -> dict[str, Tensor]:
    arrays = _numpy_arrays(x, h0, reset)
    weights, x_np, h0_np = _as_numpy(p, x, h0)
    numpy_forward(arrays, *weights, x_np, h0_np, reset == "after")
    arrays["dh"][...] = g.numpy()
    grads = {name: torch.empty_like(t) for name, t in zip(("W", "U", "b", "bUh"), p)}
    if reset == "before":
        del grads["bUh"]
    numpy_backward(arrays, weights[1], x_np, reset == "after",
                   tuple(grads[k].numpy() if k in grads else None for k in ("W", "U", "b", "bUh")))
    return grads


def _sampler_forward(p: tuple[Tensor, ...], x: Tensor, h0: Tensor, reset: str) -> Tensor:
    W, U, b, bUh = p
    no_output = W.new_zeros(U.shape[0], 1), W.new_zeros(1)  # Wy, by: the sampler's logits, unused here
    hs = torch.empty(x.shape[0], x.shape[1], U.shape[0], dtype=h0.dtype)
    for seq in range(x.shape[1]):
        one = OneSequence(W, U, b, bUh, *no_output, reset, h0[seq].numpy())
        for t in range(x.shape[0]):
            one.read(int(x[t, seq]), out=hs[t, seq].numpy())
    return hs


@dataclass(frozen=True)
class Kernel:
    """One kernel behind the registry's signature (see the comment above named_weights)."""

    forward: Callable[[tuple[Tensor, ...], Tensor, Tensor, str], Tensor]
    backward: Callable[[tuple[Tensor, ...], Tensor, Tensor, Tensor, str], dict[str, Tensor]] | None


REFERENCE = Kernel(_reference_forward, _reference_backward)
KERNELS: dict[str, Kernel] = {
    "torch": Kernel(_torch_forward, _torch_backward),  # its backward is autograd's
    "fused": Kernel(_fused_forward, _fused_backward),
    "numpy": Kernel(_numpy_forward, _numpy_backward),
    "sampler": Kernel(_sampler_forward, None),  # forward only: sampling never trains
}
