r"""The record of a traced batch's backward pass: what explains its numbers.

`batch_detail(weights, trace, reset, others=...)`: the weights a trace was computed with,
and a readable backward pass over the whole batch (gru_core/bptt_reference.py, the
hand-derived BPTT one time step at a time, whose cell equations are gru_core/cell.py's
reference), the deltas of the k shown sequences kept:

    do      = (y_hat - onehot(y)) / (T*B)                       [T, k, V]
    dh_t    = do_t Wy^T + dh_next                               dL/dh_t, [T, k, H]
    da, dh_next = cell.backward_step(dh_t, ...)                 da_z, da_r, da_h (da_hn)

so a gradient entry is a sum over time steps whose terms can be listed (gru_core/explain.py
lists them), and ‖dL/dh_t‖ per t is the gradient at step t: its own output's term plus
what flows back from the later steps. UI-free, like the rest of gru_core.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from torch import Tensor

from .bptt_reference import backward_deltas, gradients
from .forward import Trace


@dataclass(frozen=True)
class BatchDetail:
    """What a trace was computed with, and its backward pass (CPU copies; never written again).

    The trace may hold only the first sequences of the batch (the ones shown); the
    gradients are those of the whole batch all the same, the ones the step applies.

    weights: article names (Wz … by, bUh for reset="after").
    grads: dL/dθ of the whole batch's loss (the mean over its T*B positions), before clipping.
    applied: what the step applies: grads, scaled by clip_scale when their norm is over the clip.
    batch_size: the whole batch's B (the trace shows its first trace.x.shape[1]).
    grad_norm: ‖dL/dθ‖ over all the weights; clip: the config's (0: off);
    clip_scale: clip / (grad_norm + 1e-6) when grad_norm > clip, else 1 (as Trainer clips).
    do [T, k, V]; da: "z", "r", "h" (and "hn" for reset="after") [T, k, H], the deltas
    of the pre-activations, of the k shown sequences (with the whole batch's 1/(T*B));
    dh [T, k, H] = dL/dh_t of those; dh_norm [T] = ‖dL/dh_t‖ over the whole batch;
    mean_z [T]: the mean update gate at each step over the whole batch (how much of the
    past it keeps).
    """

    reset: str
    weights: dict[str, Tensor]
    grads: dict[str, Tensor]
    do: Tensor
    da: dict[str, Tensor]
    dh: Tensor
    dh_norm: Tensor
    mean_z: Tensor
    batch_size: int = 0
    applied: dict[str, Tensor] | None = None
    grad_norm: float = 0.0
    clip: float = 0.0
    clip_scale: float = 1.0

    @property
    def shown(self) -> int:
        """How many of the batch's sequences the trace holds."""
        return int(self.do.shape[1])


def model_weights(model) -> dict[str, Tensor]:
    """Independent CPU copies of a GRUModel's article-named weights."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.named_tensors().items()}


def batch_detail(weights: dict[str, Tensor], trace: Trace, reset: str,
                 cancel: threading.Event | None = None, *, others: Iterable[Trace] = (),
                 batch_size: int | None = None, clip: float = 0.0) -> BatchDetail:
    """The readable BPTT (gru_core/bptt_reference.py) over `trace`, at `weights`.

    `trace` holds the sequences shown; `others` the traces of the rest of the batch
    (taken a part at a time, so a big batch never needs all its deltas at once), and
    batch_size the whole batch's B (None: the trace's own). The gradients are the whole
    batch's; the deltas kept are the shown sequences'. `cancel`, when set, stops it
    between time steps (Cancelled): a reset or quit need not wait for a long batch."""
    T, k = trace.x.shape
    B = batch_size or k
    V = trace.y_hat.shape[-1]
    d = backward_deltas(weights, trace, reset, cancel, batch_size=B)
    grads = gradients(trace, d, reset, V)
    dh_square = d.dh.reshape(T, -1).square().sum(dim=1)  # [T]
    z_sum = trace.z.reshape(T, -1).sum(dim=1)
    for part in others:
        dp = backward_deltas(weights, part, reset, cancel, batch_size=B)
        for name, g in gradients(part, dp, reset, V).items():
            grads[name] += g
        dh_square += dp.dh.reshape(T, -1).square().sum(dim=1)
        z_sum += part.z.reshape(T, -1).sum(dim=1)
    norm = math.sqrt(sum(float(g.double().square().sum()) for g in grads.values()))
    scale = clip / (norm + 1e-6) if clip > 0 and norm > clip else 1.0
    applied = grads if scale == 1.0 else {name: g * scale for name, g in grads.items()}
    H = trace.h.shape[-1]
    return BatchDetail(
        reset=reset, weights=weights, grads=grads, do=d.do, da=d.da, dh=d.dh,
        dh_norm=dh_square.sqrt(), mean_z=z_sum / (B * H), batch_size=B, applied=applied,
        grad_norm=norm, clip=clip, clip_scale=scale,
    )
