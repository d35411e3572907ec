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

How it is made fast (the numbers are the same; only the order of the work changes):
every delta above is dh times a factor that the forward pass already fixed, e.g.
da_h = dh * [(1 - z) * (1 - h_tilde^2)]. Those factors are computed for all time steps
at once before the backward loop (a few big elementwise operations instead of a dozen
small ones per step), laid side by side so that one broadcast multiply per step gives
several deltas, in the column order the fused matmul with U^T needs. The forward pass
writes straight into preallocated [T, B, .] buffers (`out=`, in-place activations,
`lerp` for the interpolation), and the reset-after form folds bUh into the one addmm
per step.

The same equations as a plain loop, one line each, are in bptt_reference.py: read that one
first; the tests hold the two equal. `ManualBPTT` wraps this as a torch.autograd.Function,
so `loss.backward()` runs the hand-derived backward and `torch.autograd.gradcheck` can check
it against numbers. For small models on a CPU, `manual_step` (the Trainer's path) runs the
same code line for line in numpy instead (bptt_numpy.py): there a step is hundreds of tiny
operations, and numpy dispatches one in a fraction of torch's time.
"""

from __future__ import annotations

import threading

import torch
from torch import Tensor

from .bptt_numpy import numpy_step, use_numpy
from .forward import Cancelled
from .model import GRUModel


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


class _Buffers:
    """The [T, B, .] buffers of one forward + backward, reused from step to step.

    A training step needs about 20 * T*B*H numbers of scratch space; allocating it afresh
    every step costs a page fault per 4 KiB (the OS zeroes each new page), about a tenth
    of a step. The buffers go back to `_POOL` when the autograd graph that holds this
    object is freed (`__del__`), so a backward that could still run never sees them
    overwritten (retain_graph and gradcheck included).
    """

    def __init__(self, key: tuple, tensors: dict[str, Tensor]) -> None:
        self.key = key
        self.tensors = tensors

    def __getitem__(self, name: str) -> Tensor:
        return self.tensors[name]

    def __del__(self) -> None:
        try:
            _POOL.put(self.key, self.tensors)
        except Exception:  # interpreter shutdown: nothing left to reuse them
            pass


class _BufferPool:
    """Idle buffer sets by shape; at most `max_idle` kept (the oldest go first)."""

    def __init__(self, max_idle: int = 2) -> None:
        self.max_idle = max_idle
        self.lock = threading.Lock()
        self.idle: list[tuple[tuple, dict[str, Tensor]]] = []

    def take(self, key: tuple, shapes: dict[str, tuple[int, ...]], like: Tensor) -> _Buffers:
        with self.lock:
            for i, (k, tensors) in enumerate(self.idle):
                if k == key:
                    del self.idle[i]
                    return _Buffers(key, tensors)
        return _Buffers(key, {name: like.new_empty(shape) for name, shape in shapes.items()})

    def put(self, key: tuple, tensors: dict[str, Tensor]) -> None:
        with self.lock:
            self.idle.append((key, tensors))
            del self.idle[: -self.max_idle]


_POOL = _BufferPool()


def _buffers(T: int, B: int, H: int, reset_after: bool, like: Tensor) -> _Buffers:
    shapes = {
        "xp": (T, B, 3 * H),  # x Wz + bz | x Wr + br | x Wh + bh  (reset after: bUh in the last block)
        "hs": (T + 1, B, H),  # hs[t] is h_prev of step t, hs[t+1] its output
        "h_tilde": (T, B, H),
        "dh": (T, B, H),  # dh of every step: do Wy^T, plus dh_next once the step after is done
        "tmp": (T, B, H),
        "d_rh": (B, H),
    }
    if reset_after:
        shapes.update(xp_h=(T, B, H), gates=(T, B, 3 * H), da=(T, B, 4, H))
    else:
        shapes.update(zr=(T, B, 2 * H), rh=(T, B, H), da=(T, B, 3, H))
    key = (T, B, H, reset_after, like.dtype, like.device)
    return _POOL.take(key, shapes, like)


class ManualBPTT(torch.autograd.Function):
    """loss, h_T = ManualBPTT.apply(W, U, b, bUh, Wy, by, x, y, h0, reset_after, cancel)."""

    @staticmethod
    def forward(ctx, W, U, b, bUh, Wy, by, x, y, h0, reset_after: bool, cancel=None):  # noqa: D102
        T, B = x.shape
        H = U.shape[0]
        buf = _buffers(T, B, H, reset_after, h0)
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
        logits = torch.addmm(by, hs[1:].reshape(T * B, H), Wy)  # [T*B, V]
        log_y_hat = torch.log_softmax(logits, dim=-1)
        loss = -log_y_hat.gather(1, y.reshape(-1, 1)).mean()
        h_T = hs[T].clone()
        ctx.mark_non_differentiable(h_T)
        ctx.reset_after = reset_after
        ctx.cancel = cancel
        ctx.buf = buf  # intermediates, not inputs or outputs: kept on ctx, pooled when it dies
        ctx.save_for_backward(W, U, Wy, x, y, log_y_hat)
        return loss, h_T

    @staticmethod
    def backward(ctx, dloss, _dh_T):  # noqa: D102
        W, U, Wy, x, y, log_y_hat = ctx.saved_tensors
        reset_after, cancel, buf = ctx.reset_after, ctx.cancel, ctx.buf
        T, B = x.shape
        H = U.shape[0]
        hs, h_tilde_all = buf["hs"], buf["h_tilde"]
        # do = (y_hat - onehot(y)) / (T*B), for all positions at once
        do = torch.exp(log_y_hat)
        do.scatter_add_(1, y.reshape(-1, 1), do.new_full((T * B, 1), -1.0))
        do.mul_(dloss / (T * B))
        h_out = hs[1:].reshape(T * B, H)
        _check_cancel(cancel)  # each of these whole-batch operations takes long at a large size
        dWy = h_out.T @ do
        dby = do.sum(0)
        # dh = do Wy^T + dh_next: dh_all starts as do Wy^T, and each step adds its dh_next
        # into the row of the step before it.
        dh_all = buf["dh"]
        torch.mm(do, Wy.T, out=dh_all.view(T * B, H))

        # Every delta is dh times a factor the forward pass fixed. The factors, for all t
        # at once, go into da_all; the loop below multiplies them by dh in place.
        _check_cancel(cancel)
        h_tilde = h_tilde_all
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
                    # dh_next = dh * z + [da_z | da_r | da_hn] U^T, added to step t-1's do Wy^T
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
        return dW, dU, db, dbUh, dWy, dby, None, None, None, None, None


class _Context:
    """What ManualBPTT.forward keeps for its backward, when no autograd graph is built."""

    def save_for_backward(self, *tensors: Tensor) -> None:
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        pass


@torch.no_grad()
def manual_step(
    model: GRUModel, x: Tensor, y: Tensor, h0: Tensor, cancel: threading.Event | None = None,
    *, kernel: str = "auto",
) -> tuple[Tensor, Tensor]:
    """(loss, h_T), with the hand-derived gradients written into each parameter's .grad.

    The same forward and backward as manual_loss(...).backward(), called directly: no
    autograd graph, no engine between them (at the article's size that machinery costs
    more than the arithmetic). A parameter's .grad that is already there, of its shape, is
    overwritten in place (the Trainer keeps them as views of one flat buffer); a missing
    one is made. kernel "auto" runs small CPU models through bptt_numpy (the same
    equations, a fraction of torch's per-operation cost), "torch" and "numpy" force one.
    """
    params = (model.W, model.U, model.b, model.bUh, model.Wy, model.by)
    reset_after = model.reset == "after"
    B, H = x.shape[1], model.hidden_size
    if kernel == "numpy" or (kernel == "auto" and use_numpy(model.W, B, H)):
        grads = []
        for p in params:
            g = p.grad
            if g is None or g.shape != p.shape:
                g = p.grad = torch.empty_like(p)
            grads.append(g)
        if not reset_after:
            model.bUh.grad = None  # the reset-before form does not use bUh
            grads[3] = None
        loss, h_T = numpy_step(
            *(p.detach().numpy() for p in params), x.numpy(), y.numpy(), h0.numpy(), reset_after,
            tuple(None if g is None else g.numpy() for g in grads), cancel,
        )
        return torch.tensor(loss, dtype=model.dtype), torch.from_numpy(h_T)
    ctx = _Context()
    loss, h_T = ManualBPTT.forward(ctx, *params, x, y, h0, reset_after, cancel)
    grads = ManualBPTT.backward(ctx, torch.ones((), dtype=loss.dtype, device=loss.device), None)
    for p, g in zip(params, grads):
        if g is not None and p.grad is not None and p.grad.shape == g.shape:
            p.grad.copy_(g)
        else:
            p.grad = g  # bUh's is None in the reset-before form, which does not use it
    return loss, h_T


def manual_loss(
    model: GRUModel, x: Tensor, y: Tensor, h0: Tensor, cancel: threading.Event | None = None
) -> tuple[Tensor, Tensor]:
    """(loss, h_T) whose .backward() runs the hand-derived BPTT above."""
    return ManualBPTT.apply(
        model.W, model.U, model.b, model.bUh, model.Wy, model.by, x, y, h0,
        model.reset == "after", cancel,
    )
