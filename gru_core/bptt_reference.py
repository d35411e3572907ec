r"""Backpropagation through time, written to be read: the docstring of bptt.py, line by line.

This is the readable path kept beside the fast one (as nanoGPT keeps its manual attention
beside the flash kernel): one loop over time, one line per equation, article names, no
buffers, no fusing. `bptt.ManualBPTT` computes the same numbers (tests/core/test_bptt.py
checks the two agree to 1e-12 in float64); training uses that one because it is several
times faster.

Row vectors, L = mean cross-entropy over the T*B positions of a batch, t = T ... 1:

    do      = (y_hat - onehot(y)) / (T*B)
    dWy    += h^T do ;  dby += sum_rows do
    dh      = do Wy^T + dh_next
    da_h    = dh * (1 - z) * (1 - h_tilde^2)
    da_z    = dh * (h_prev - h_tilde) * z * (1 - z)
    reset before: d_rh = da_h Uh^T ; da_r = d_rh * h_prev * r * (1 - r) ; dUh += (r * h_prev)^T da_h
                  dh_next = dh * z + d_rh * r + da_z Uz^T + da_r Ur^T
    reset after:  hn = h_prev Uh + bUh ; da_hn = da_h * r ; da_r = da_h * hn * r * (1 - r)
                  dUh += h_prev^T da_hn ; dbUh += sum da_hn
                  dh_next = dh * z + da_hn Uh^T + da_z Uz^T + da_r Ur^T
    dWz += x^T da_z ; dUz += h_prev^T da_z ; dbz += sum da_z   (the same for r and h)

`backward_deltas` is the loop over time (every delta kept: the app's explanations list
them); `gradients` takes each `+=` line's sum over the time steps at once.
gru_core/explain.py's batch_detail is these two over a traced batch.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from .forward import Cancelled, Trace, forward_trace
from .model import GRUModel


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
        h_prev, z, r, h_tilde = trace.h_prev[t], trace.z[t], trace.r[t], trace.h_tilde[t]

        dh = do[t] @ w["Wy"].T + dh_next
        dh_all[t] = dh
        da_h = dh * (1 - z) * (1 - h_tilde**2)
        da_z = dh * (h_prev - h_tilde) * z * (1 - z)
        if reset == "before":
            d_rh = da_h @ w["Uh"].T
            da_r = d_rh * h_prev * r * (1 - r)
            dh_next = dh * z + d_rh * r + da_z @ w["Uz"].T + da_r @ w["Ur"].T
        else:
            hn = h_prev @ w["Uh"] + w["bUh"]
            da_hn = da_h * r
            da_r = da_h * hn * r * (1 - r)
            dh_next = dh * z + da_hn @ w["Uh"].T + da_z @ w["Uz"].T + da_r @ w["Ur"].T
            da["hn"][t] = da_hn
        da["z"][t], da["r"][t], da["h"][t] = da_z, da_r, da_h
    return Deltas(do=do, dh=dh_all, da=da)


@torch.no_grad()
def gradients(trace: Trace, d: Deltas, reset: str, vocab_size: int) -> dict[str, Tensor]:
    """dL/dθ: each one the sum over time steps of the docstring's `+=` line, taken at once
    over the T*B rows (x^T da is the same as index_add_ of da's rows into W's)."""
    T, B = trace.x.shape
    flat = lambda a: a.reshape(T * B, -1)  # noqa: E731
    x, h_prev, H = trace.x.reshape(-1), flat(trace.h_prev), trace.h.shape[-1]
    grads: dict[str, Tensor] = {}
    for gate in ("z", "r", "h"):
        da = flat(d.da[gate])
        grads["W" + gate] = torch.zeros(vocab_size, H, dtype=da.dtype, device=da.device).index_add_(0, x, da)
        grads["b" + gate] = da.sum(0)
        if gate != "h":
            grads["U" + gate] = h_prev.T @ da
    if reset == "before":
        grads["Uh"] = flat(trace.r * trace.h_prev).T @ flat(d.da["h"])
    else:
        grads["Uh"] = h_prev.T @ flat(d.da["hn"])
        grads["bUh"] = flat(d.da["hn"]).sum(0)
    grads["Wy"] = flat(trace.h).T @ flat(d.do)
    grads["by"] = flat(d.do).sum(0)
    return grads


@torch.no_grad()
def reference_bptt(model: GRUModel, x: Tensor, y: Tensor, h0: Tensor) -> dict[str, Tensor]:
    """Gradients of the mean cross-entropy, by the equations above.

    x, y [T, B] character indices, h0 [B, H]. Returns the article-named gradients
    (dWz ... dby, and dbUh for reset="after") and `dh` [T, B, H], dL/dh_t at every step:
    what survives of the loss's gradient as it flows back through time.
    """
    trace = forward_trace(model, x, y, h0)
    d = backward_deltas(model.named_tensors(), trace, model.reset)
    grads = gradients(trace, d, model.reset, model.vocab_size)
    grads["dh"] = d.dh
    return grads
