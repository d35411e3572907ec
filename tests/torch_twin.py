"""A GRUModel with a torch.nn.GRU's weights: the reverse of GRUModel.to_torch, for tests.

The app never reads nn.GRU weights; the tests use this to hold to_torch's layout right
(tests/core/test_model.py) and the quality benchmark to score a torch baseline with the
app's own evaluator (tests/benchmarks/quality.py).
"""

from __future__ import annotations

import torch

from gru_core.model import GRUModel


def from_torch(gru: torch.nn.GRU, linear: torch.nn.Linear) -> GRUModel:
    """A reset-after GRUModel with nn.GRU's weights.

    nn.GRU stacks its blocks in the order r, z, n and multiplies column vectors, and it
    has a hidden-side bias for the r and z blocks too; those only ever add to the
    input-side ones, so they fold into br and bz.
    """
    if gru.num_layers != 1 or gru.bidirectional or not gru.bias or gru.batch_first:
        raise ValueError("from_torch takes a one-layer, one-direction nn.GRU with biases, batch_first=False")
    H, V = gru.hidden_size, gru.input_size
    if linear.in_features != H or linear.out_features != V:
        raise ValueError(f"the Linear layer maps {linear.in_features}->{linear.out_features}; "
                         f"it must map hidden {H} -> vocabulary {V}")
    w = gru.weight_ih_l0.detach()
    m = GRUModel(V, H, reset="after", dtype=w.dtype, device=w.device)
    Wr, Wz, Wh = w.chunk(3, dim=0)
    Ur, Uz, Uh = gru.weight_hh_l0.detach().chunk(3, dim=0)
    b_ir, b_iz, b_in = gru.bias_ih_l0.detach().chunk(3)
    b_hr, b_hz, b_hn = gru.bias_hh_l0.detach().chunk(3)
    with torch.no_grad():
        m.W.copy_(torch.cat([Wz.T, Wr.T, Wh.T], dim=1))
        m.U.copy_(torch.cat([Uz.T, Ur.T, Uh.T], dim=1))
        m.b.copy_(torch.cat([b_iz + b_hz, b_ir + b_hr, b_in]))
        m.bUh.copy_(b_hn)
        m.Wy.copy_(linear.weight.detach().T)
        m.by.copy_(linear.bias.detach())
    return m
