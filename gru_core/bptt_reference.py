r"""Backpropagation through time, written to be read: the loop over time of the whole BPTT.

This is the readable path kept beside the fast one (as nanoGPT keeps its manual attention
beside the flash kernel): one loop over time, article names, no buffers, no fusing. The
cell's own equations (the deltas of one step, the gate weights' gradients) are
gru_core/cell.py's reference, `backward_step` and `weight_gradients`; the output layer's
are here. `bptt.ManualBPTT` computes the same numbers (tests/core/test_bptt_reference.py
checks the two agree to 1e-12 in float64); training uses that one because it is several
times faster.

Row vectors, L = mean cross-entropy over the T*B positions of a batch, t = T ... 1:

    do      = (y_hat - onehot(y)) / (T*B)
    dWy    += h^T do ;  dby += sum_rows do
    dh      = do Wy^T + dh_next
    da, dh_next = cell.backward_step(dh, ...)

`backward_deltas` is the loop over time (every delta kept: the app's explanations list
them); `gradients` takes each `+=` line's sum over the time steps at once.
gru_core/batch_detail.py's batch_detail is these two over a traced batch.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from . import cell
from .errors import Cancelled
from .forward import Trace


@dataclass(frozen=True)
class Deltas:
    """The backward pass's deltas at every time step, [T, B, ...]:
    do (of the logits), dh = dL/dh_t, and da["z"|"r"|"h"] (and "hn" for reset="after")
    of the pre-activations."""

    do: Tensor
    dh: Tensor
    da: dict[str, Tensor]


@torch.no_grad()
def backward_deltas(w: Mapping[str, Tensor], trace: Trace, reset: str,
                    cancel: threading.Event | None = None, batch_size: int | None = None) -> Deltas:
    """The loop over time of the module docstring, every delta kept.

    w: the article-named weights the trace was computed with. `cancel`, when set, stops
    it between time steps (Cancelled). batch_size: the B of the loss's T*B when the trace
    holds only some of the batch's sequences (each sequence's deltas are its own: those
    of a part of the batch are its rows of the whole batch's); None: the trace's own B."""
    x, y = trace.x, trace.y
    T, B = x.shape
    do = trace.y_hat.clone()  # (y_hat - onehot(y)) / (T*B), at every t at once
    do.scatter_add_(2, y.unsqueeze(-1), torch.full_like(do[..., :1], -1.0))
    do /= T * (batch_size or B)
    dh_all = torch.empty_like(trace.h)
    gates = ("z", "r", "h", "hn") if reset == "after" else ("z", "r", "h")
    da = {name: torch.empty_like(trace.h) for name in gates}
    dh_next = torch.zeros_like(trace.h[0])
    for t in reversed(range(T)):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        dh = do[t] @ w["Wy"].T + dh_next
        dh_all[t] = dh
        da_t, dh_next = cell.backward_step(w, dh, trace.h_prev[t], trace.z[t], trace.r[t],
                                           trace.h_tilde[t], reset)
        for name, value in da_t.items():
            da[name][t] = value
    return Deltas(do=do, dh=dh_all, da=da)


@torch.no_grad()
def gradients(trace: Trace, d: Deltas, reset: str, vocab_size: int) -> dict[str, Tensor]:
    """dL/dθ: each one the sum over time steps of the docstring's `+=` line, taken at once
    over the T*B rows (x^T da is the same as index_add_ of da's rows into W's)."""
    T, B = trace.x.shape
    flat = lambda a: a.reshape(T * B, -1)  # noqa: E731
    grads = cell.weight_gradients(trace.x.reshape(-1), flat(trace.h_prev), flat(trace.r),
                                  {name: flat(delta) for name, delta in d.da.items()}, reset, vocab_size)
    grads["Wy"] = flat(trace.h).T @ flat(d.do)
    grads["by"] = flat(d.do).sum(0)
    return grads
