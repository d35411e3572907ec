r"""Backpropagation through time by hand: every delta written out as matrices.

Row-vector form, L = mean cross-entropy over the T*B positions of a batch. Going
backwards, t = T ... 1, with dh_next = 0 at the start (truncated BPTT: the hidden
state that came in from the previous batch is a constant):

    do      = (y_hat - onehot(y)) / (T*B)                        [B, V]
    dWy    += h^T do ;  dby += sum_rows do
    dh      = do Wy^T + dh_next                                  [B, H]
    da_h    = dh * (1 - z) * (1 - h_tilde^2)                     pre-activation of h_tilde
    da_z    = dh * (h_prev - h_tilde) * z * (1 - z)              pre-activation of z

  reset="before"  (h_tilde = tanh(x Wh + (r * h_prev) Uh + bh))
    d_rh    = da_h Uh^T ;  da_r = d_rh * h_prev * r * (1 - r) ;  dUh += (r * h_prev)^T da_h
    dh_next = dh * z + d_rh * r + da_z Uz^T + da_r Ur^T

  reset="after"   (h_tilde = tanh(x Wh + bh + r * hn), hn = h_prev Uh + bUh)
    da_hn   = da_h * r ;  da_r = da_h * hn * r * (1 - r) ;  dUh += h_prev^T da_hn ; dbUh += sum da_hn
    dh_next = dh * z + da_hn Uh^T + da_z Uz^T + da_r Ur^T

  both
    dWz += x^T da_z ; dUz += h_prev^T da_z ; dbz += sum da_z     (the same for r and h)

x is one-hot, so x^T da is a scatter-add of da's rows into the rows of the characters
read (`index_add_`), not a [V, T*B] matmul. Sums over time of h_prev^T da are one
matmul each after the loop, over all T*B rows at once.

`ManualBPTT` wraps this as a torch.autograd.Function, so `loss.backward()` runs the
hand-derived backward and `torch.autograd.gradcheck` can check it against numbers.
"""

from __future__ import annotations

import threading

import torch
from torch import Tensor

from .forward import Cancelled
from .model import GRUModel


class ManualBPTT(torch.autograd.Function):
    """loss, h_T = ManualBPTT.apply(W, U, b, bUh, Wy, by, x, y, h0, reset_after, cancel)."""

    @staticmethod
    def forward(ctx, W, U, b, bUh, Wy, by, x, y, h0, reset_after: bool, cancel=None):  # noqa: D102
        T, B = x.shape
        H = U.shape[0]
        xp = torch.nn.functional.embedding(x, W) + b  # [T, B, 3H]
        U_zr, Uh = U[:, : 2 * H], U[:, 2 * H :]
        hs = h0.new_empty(T + 1, B, H)  # hs[t] is h_prev of step t, hs[t+1] its output
        hs[0] = h0
        zr_all = h0.new_empty(T, B, 2 * H)  # z | r
        h_tilde_all = h0.new_empty(T, B, H)
        hn_all = h0.new_empty(T, B, H) if reset_after else None  # h_prev Uh + bUh
        for t in range(T):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            h = hs[t]
            zr = zr_all[t]
            if reset_after:
                hU = h @ U
                torch.sigmoid(torch.add(xp[t, :, : 2 * H], hU[:, : 2 * H]), out=zr)
                hn = torch.add(hU[:, 2 * H :], bUh, out=hn_all[t])
                pre_h = torch.addcmul(xp[t, :, 2 * H :], zr[:, H:], hn)
            else:
                torch.sigmoid(torch.addmm(xp[t, :, : 2 * H], h, U_zr), out=zr)
                pre_h = torch.addmm(xp[t, :, 2 * H :], zr[:, H:] * h, Uh)
            h_tilde = torch.tanh(pre_h, out=h_tilde_all[t])
            # h = z * h_prev + (1 - z) * h_tilde, written as h_tilde + z * (h_prev - h_tilde)
            torch.addcmul(h_tilde, zr[:, :H], h - h_tilde, out=hs[t + 1])
        logits = torch.addmm(by, hs[1:].reshape(T * B, H), Wy)  # [T*B, V]
        log_y_hat = torch.log_softmax(logits, dim=-1)
        loss = -log_y_hat.gather(1, y.reshape(-1, 1)).mean()
        h_T = hs[T].clone()
        ctx.mark_non_differentiable(h_T)
        ctx.reset_after = reset_after
        ctx.cancel = cancel
        ctx.save_for_backward(W, U, Wy, x, y, hs, zr_all, h_tilde_all,
                              hn_all if reset_after else hs.new_empty(0), log_y_hat)
        return loss, h_T

    @staticmethod
    def backward(ctx, dloss, _dh_T):  # noqa: D102
        W, U, Wy, x, y, hs, zr_all, h_tilde_all, hn_all, log_y_hat = ctx.saved_tensors
        reset_after, cancel = ctx.reset_after, ctx.cancel
        T, B = x.shape
        H = U.shape[0]
        # do = (y_hat - onehot(y)) / (T*B), for all positions at once
        do = torch.exp(log_y_hat)
        do.scatter_add_(1, y.reshape(-1, 1), do.new_full((T * B, 1), -1.0))
        do.mul_(dloss / (T * B))
        h_out = hs[1:].reshape(T * B, H)
        dWy = h_out.T @ do
        dby = do.sum(0)
        dh_out = (do @ Wy.T).reshape(T, B, H)

        U_zr_T = U[:, : 2 * H].T  # [2H, H]
        Uh_T = U[:, 2 * H :].T
        da_all = hs.new_empty(T, B, 3 * H)  # da_z | da_r | da_h: input-side deltas, for dW and db
        da_hn_all = hs.new_empty(T, B, H) if reset_after else None
        dh_next = torch.zeros(B, H, dtype=hs.dtype, device=hs.device)
        for t in range(T - 1, -1, -1):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            h_prev = hs[t]
            zr = zr_all[t]
            z, r = zr[:, :H], zr[:, H:]
            h_tilde = h_tilde_all[t]
            dh = dh_out[t] + dh_next
            da = da_all[t]
            da_z, da_r, da_h = da[:, :H], da[:, H : 2 * H], da[:, 2 * H :]
            one_minus_z = 1 - z
            torch.mul(dh * one_minus_z, 1 - h_tilde * h_tilde, out=da_h)
            torch.mul(dh * (h_prev - h_tilde), z * one_minus_z, out=da_z)
            r_grad = r * (1 - r)
            if reset_after:
                da_hn = torch.mul(da_h, r, out=da_hn_all[t])
                torch.mul(da_h * hn_all[t], r_grad, out=da_r)
                dh_next = torch.addmm(dh * z, da_hn, Uh_T)
                dh_next.addmm_(da[:, : 2 * H], U_zr_T)
            else:
                d_rh = da_h @ Uh_T
                torch.mul(d_rh * h_prev, r_grad, out=da_r)
                dh_next = torch.addcmul(dh * z, d_rh, r)
                dh_next.addmm_(da[:, : 2 * H], U_zr_T)
        da_rows = da_all.reshape(T * B, 3 * H)
        dW = torch.zeros_like(W).index_add_(0, x.reshape(-1), da_rows)
        db = da_rows.sum(0)
        h_prev_rows = hs[:-1].reshape(T * B, H)
        dU = torch.empty_like(U)
        dU[:, : 2 * H] = h_prev_rows.T @ da_rows[:, : 2 * H]
        if reset_after:
            da_hn_rows = da_hn_all.reshape(T * B, H)
            dU[:, 2 * H :] = h_prev_rows.T @ da_hn_rows
            dbUh = da_hn_rows.sum(0)
        else:
            rh_rows = (zr_all[..., H:] * hs[:-1]).reshape(T * B, H)
            dU[:, 2 * H :] = rh_rows.T @ da_rows[:, 2 * H :]
            dbUh = None
        return dW, dU, db, dbUh, dWy, dby, None, None, None, None, None


def manual_loss(
    model: GRUModel, x: Tensor, y: Tensor, h0: Tensor, cancel: threading.Event | None = None
) -> tuple[Tensor, Tensor]:
    """(loss, h_T) whose .backward() runs the hand-derived BPTT above."""
    return ManualBPTT.apply(
        model.W, model.U, model.b, model.bUh, model.Wy, model.by, x, y, h0,
        model.reset == "after", cancel,
    )
