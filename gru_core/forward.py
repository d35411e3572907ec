"""The forward pass over a batch: a full trace for display, and a lean one for training."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
from torch import Tensor

from .loss import cross_entropy, cross_entropy_terms
from .model import GRUModel


class Cancelled(Exception):
    """A step was stopped part-way by its cancel event; the weights were not touched."""


@dataclass(frozen=True)
class Trace:
    """Everything the article prints for one batch, every time step kept.

    x, y [T, B] input and target indices; h_prev, z, r, h_tilde, h [T, B, H];
    logits, y_hat [T, B, V]; loss (scalar) and the cross-entropy terms
    term1 [T, B, V], term2 [T, B], term3 [T].
    """

    x: Tensor
    y: Tensor
    h_prev: Tensor
    z: Tensor
    r: Tensor
    h_tilde: Tensor
    h: Tensor
    logits: Tensor
    y_hat: Tensor
    loss: Tensor
    term1: Tensor
    term2: Tensor
    term3: Tensor

    def detached_cpu(self) -> "Trace":
        """An independent CPU copy that nothing else writes: safe to hand to a UI."""
        fields = {k: v.detach().to("cpu", copy=True) for k, v in self.__dict__.items()}
        return Trace(**fields)


def forward_trace(model: GRUModel, x: Tensor, y: Tensor, h0: Tensor) -> Trace:
    """The article's two loops, written as the equations: one gru_step per time step."""
    h = h0
    steps = []
    h_prevs = []
    for x_t in x:  # x [T, B]
        h_prevs.append(h)
        out = model.gru_step(x_t, h)
        steps.append(out)
        h = out.h
    stack = lambda name: torch.stack([getattr(s, name) for s in steps])  # noqa: E731
    h_all = stack("h")  # [T, B, H]
    logits = model.output(h_all)  # [T, B, V]
    terms = cross_entropy_terms(logits, y)
    return Trace(
        x=x, y=y, h_prev=torch.stack(h_prevs), z=stack("z"), r=stack("r"),
        h_tilde=stack("h_tilde"), h=h_all, logits=logits, y_hat=torch.softmax(logits, -1),
        loss=terms.loss, term1=terms.term1, term2=terms.term2, term3=terms.term3,
    )


def forward_loss(
    model: GRUModel, x: Tensor, y: Tensor, h0: Tensor, cancel: threading.Event | None = None
) -> tuple[Tensor, Tensor]:
    """(mean cross-entropy, final hidden state) with autograd's graph, built for speed.

    The same equations as GRUModel.gru_step, with the input side of all three gates
    for all time steps gathered at once (x_t W + b for every t: one gather, [T, B, 3H]),
    and z and r sharing one matmul. `unbind(0)` hands out per-step views whose
    backward stacks, where indexing xp[t] in the loop would make every step's backward
    write a full-size zero gradient. `cancel`, when set, stops the loop (Cancelled).
    """
    hs, h = hidden_states(model, x, h0, cancel)
    logits = model.output(hs)  # [T, B, V]
    return cross_entropy(logits, y), h


INPUT_CHUNK = 32  # time steps whose input sums are gathered at once


def _input_sums(x: Tensor, W: Tensor, b: Tensor, cancel: threading.Event | None):
    """x_t W + b [B, 3H] (x Wz + bz | x Wr + br | x Wh + bh) for each t, gathered INPUT_CHUNK
    time steps at a time, with `cancel` checked before each time step: all T at once was one
    [T, B, 3H] gather (118 MB at H=512, B=64, T=300) that a close had to wait for."""
    for t0 in range(0, x.shape[0], INPUT_CHUNK):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        xp = torch.nn.functional.embedding(x[t0 : t0 + INPUT_CHUNK], W) + b
        for xp_t in xp.unbind(0):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            yield xp_t


def hidden_states(
    model: GRUModel, x: Tensor, h0: Tensor, cancel: threading.Event | None = None
) -> tuple[Tensor, Tensor]:
    """(h for every time step [T, B, H], the last h [B, H]): forward_loss's fast loop."""
    H = model.hidden_size
    W, U, b = model.W, model.U, model.b
    U_zr, Uh = U[:, : 2 * H], U[:, 2 * H :]
    h = h0
    hs = []
    for xp_t in _input_sums(x, W, b, cancel):
        if model.reset == "before":
            zr = torch.sigmoid(torch.addmm(xp_t[:, : 2 * H], h, U_zr))
            z, r = zr[:, :H], zr[:, H:]
            h_tilde = torch.tanh(torch.addmm(xp_t[:, 2 * H :], r * h, Uh))
        else:
            hU = h @ U  # [B, 3H]
            zr = torch.sigmoid(xp_t[:, : 2 * H] + hU[:, : 2 * H])
            z, r = zr[:, :H], zr[:, H:]
            h_tilde = torch.tanh(xp_t[:, 2 * H :] + r * (hU[:, 2 * H :] + model.bUh))
        h = h_tilde + z * (h - h_tilde)  # = z * h + (1 - z) * h_tilde
        hs.append(h)
    return torch.stack(hs), h


@torch.no_grad()
def forward_nll(
    model: GRUModel, x: Tensor, y: Tensor, h0: Tensor, cancel: threading.Event | None = None
) -> tuple[Tensor, Tensor]:
    """(-log y_hat[target] at every position [T, B], final h): each character's own loss."""
    hs, h = hidden_states(model, x, h0, cancel)
    log_y_hat = torch.log_softmax(model.output(hs), dim=-1)  # [T, B, V]
    return -log_y_hat.gather(-1, y.unsqueeze(-1)).squeeze(-1), h
