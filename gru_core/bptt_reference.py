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
"""

from __future__ import annotations

import torch
from torch import Tensor

from .forward import forward_trace
from .model import GRUModel


@torch.no_grad()
def reference_bptt(model: GRUModel, x: Tensor, y: Tensor, h0: Tensor) -> dict[str, Tensor]:
    """Gradients of the mean cross-entropy, by the equations above.

    x, y [T, B] character indices, h0 [B, H]. Returns the article-named gradients
    (dWz ... dby, and dbUh for reset="after") and `dh` [T, B, H], dL/dh_t at every step:
    what survives of the loss's gradient as it flows back through time.
    """
    trace = forward_trace(model, x, y, h0)
    T, B = x.shape
    V, H = model.vocab_size, model.hidden_size  # x^T da below is the same as index_add_ into W
    Uz, Ur, Uh, Wy = model.Uz, model.Ur, model.Uh, model.Wy
    grads = {name: torch.zeros_like(getattr(model, name)) for name in
             ("Wz", "Wr", "Wh", "Uz", "Ur", "Uh", "bz", "br", "bh", "Wy", "by")}
    grads["bUh"] = torch.zeros_like(model.bUh)
    dh_all = torch.zeros(T, B, H, dtype=model.dtype, device=model.device)
    dh_next = torch.zeros(B, H, dtype=model.dtype, device=model.device)
    for t in reversed(range(T)):
        x_t = torch.nn.functional.one_hot(x[t], V).to(model.dtype)  # [B, V]
        y_t = torch.nn.functional.one_hot(y[t], V).to(model.dtype)
        h_prev, z, r = trace.h_prev[t], trace.z[t], trace.r[t]
        h_tilde, h, y_hat = trace.h_tilde[t], trace.h[t], trace.y_hat[t]

        do = (y_hat - y_t) / (T * B)
        grads["Wy"] += h.T @ do
        grads["by"] += do.sum(0)
        dh = do @ Wy.T + dh_next
        dh_all[t] = dh
        da_h = dh * (1 - z) * (1 - h_tilde**2)
        da_z = dh * (h_prev - h_tilde) * z * (1 - z)
        if model.reset == "before":
            d_rh = da_h @ Uh.T
            da_r = d_rh * h_prev * r * (1 - r)
            grads["Uh"] += (r * h_prev).T @ da_h
            dh_next = dh * z + d_rh * r + da_z @ Uz.T + da_r @ Ur.T
        else:
            hn = h_prev @ Uh + model.bUh
            da_hn = da_h * r
            da_r = da_h * hn * r * (1 - r)
            grads["Uh"] += h_prev.T @ da_hn
            grads["bUh"] += da_hn.sum(0)
            dh_next = dh * z + da_hn @ Uh.T + da_z @ Uz.T + da_r @ Ur.T
        grads["Wz"] += x_t.T @ da_z
        grads["Uz"] += h_prev.T @ da_z
        grads["bz"] += da_z.sum(0)
        grads["Wr"] += x_t.T @ da_r
        grads["Ur"] += h_prev.T @ da_r
        grads["br"] += da_r.sum(0)
        grads["Wh"] += x_t.T @ da_h
        grads["bh"] += da_h.sum(0)
    if model.reset == "before":
        del grads["bUh"]
    grads["dh"] = dh_all
    return grads
