r"""Backpropagation through time by hand: the Trainer's training step without autograd.

Row-vector form, L = mean cross-entropy over the T*B positions of a batch (truncated
BPTT: the hidden state that came in from the previous batch is a constant). The output
layer's part is here:

    do      = (y_hat - onehot(y)) / (T*B)                        [T*B, V]
    dWy     = h^T do ;  dby = sum_rows do
    dh      = do Wy^T  (+ dh_next, which the cell adds step by step)

and the GRU cell's forward and backward (z, r, h_tilde, h; da_z, da_r, da_h, dh_next and
the gate weights' gradients) are gru_core/cell.py's fused torch kernel, `fused_forward` and
`fused_backward`, working in [T, B, .] buffers that this module pools from step to step.
cell.py holds the readable reference of the same equations beside it, one line each;
tests/core/test_cell.py holds the two equal.

`ManualBPTT` is the pair as a torch.autograd.Function (so `torch.autograd.gradcheck` can
check it against numbers); `manual_step`, the Trainer's path, calls its forward and
backward directly. For small models on a CPU it runs the same kernels in numpy instead
(bptt_numpy.py): there a step is hundreds of tiny operations, and numpy dispatches one in
a fraction of torch's time.
"""

from __future__ import annotations

import threading

import torch
from torch import Tensor

from . import cell
from .bptt_numpy import numpy_step, use_numpy
from .errors import Cancelled
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
    key = (T, B, H, reset_after, like.dtype, like.device)
    return _POOL.take(key, cell.fused_shapes(T, B, H, reset_after), like)


class ManualBPTT(torch.autograd.Function):
    """loss, h_T = ManualBPTT.apply(W, U, b, bUh, Wy, by, x, y, h0, reset_after, cancel)."""

    @staticmethod
    def forward(ctx, W, U, b, bUh, Wy, by, x, y, h0, reset_after: bool, cancel=None):  # noqa: D102
        T, B = x.shape
        H = U.shape[0]
        buf = _buffers(T, B, H, reset_after, h0)
        h_out = cell.fused_forward(buf, W, U, b, bUh, x, h0, reset_after, cancel)  # [T, B, H]
        logits = torch.addmm(by, h_out.reshape(T * B, H), Wy)  # [T*B, V]
        log_y_hat = torch.log_softmax(logits, dim=-1)
        loss = -log_y_hat.gather(1, y.reshape(-1, 1)).mean()
        h_T = h_out[T - 1].clone()
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
        # do = (y_hat - onehot(y)) / (T*B), for all positions at once
        do = torch.exp(log_y_hat)
        do.scatter_add_(1, y.reshape(-1, 1), do.new_full((T * B, 1), -1.0))
        do.mul_(dloss / (T * B))
        h_out = buf["hs"][1:].reshape(T * B, H)
        _check_cancel(cancel)  # each of these whole-batch operations takes long at a large size
        dWy = h_out.T @ do
        dby = do.sum(0)
        # dh = do Wy^T + dh_next: the output's share here; the cell adds each step's dh_next
        torch.mm(do, Wy.T, out=buf["dh"].view(T * B, H))
        dW, dU, db, dbUh = cell.fused_backward(buf, W, U, x, reset_after, cancel)
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

    The same forward and backward as ManualBPTT.apply(...)'s loss.backward(), called directly: no
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

