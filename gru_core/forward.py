"""The forward pass over a batch: a full trace for display, and a lean one for training."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
from torch import Tensor

from . import cell
from .loss import cross_entropy, cross_entropy_terms
from .model import GRUModel


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
    """The article's two loops, written as the equations: one cell.forward_step per time step."""
    w = model.named_tensors()
    h = h0
    steps = []
    h_prevs = []
    for x_t in x:  # x [T, B]
        h_prevs.append(h)
        out = cell.forward_step(w, x_t, h, model.reset)
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
    """(mean cross-entropy, final hidden state) with autograd's graph, built for speed
    (cell.hidden_states). `cancel`, when set, stops the loop (Cancelled)."""
    hs, h = hidden_states(model, x, h0, cancel)
    logits = model.output(hs)  # [T, B, V]
    return cross_entropy(logits, y), h


def hidden_states(
    model: GRUModel, x: Tensor, h0: Tensor, cancel: threading.Event | None = None
) -> tuple[Tensor, Tensor]:
    """(h for every time step [T, B, H], the last h [B, H]): forward_loss's fast loop."""
    return cell.hidden_states(model.W, model.U, model.b, model.bUh, x, h0, model.reset, cancel)


@torch.no_grad()
def forward_nll(
    model: GRUModel, x: Tensor, y: Tensor, h0: Tensor, cancel: threading.Event | None = None
) -> tuple[Tensor, Tensor]:
    """(-log y_hat[target] at every position [T, B], final h): each character's own loss."""
    hs, h = hidden_states(model, x, h0, cancel)
    log_y_hat = torch.log_softmax(model.output(hs), dim=-1)  # [T, B, V]
    return -log_y_hat.gather(-1, y.unsqueeze(-1)).squeeze(-1), h
