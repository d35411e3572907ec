"""The readable BPTT (bptt_reference.py) equals the fused one training uses, and autograd."""

import pytest
import torch

from gru_core.bptt_reference import backward_deltas, gradients
from gru_core.forward import forward_trace
from gru_core.loss import cross_entropy
from gru_core.model import GRUModel
from tests.core.test_bptt import manual_loss


def reference_bptt(model: GRUModel, x, y, h0) -> dict[str, torch.Tensor]:
    """Gradients of the mean cross-entropy by the readable BPTT: the article-named ones
    (dWz ... dby, dbUh for reset="after") and `dh` [T, B, H], dL/dh_t at every step."""
    with torch.no_grad():
        trace = forward_trace(model, x, y, h0)
    d = backward_deltas(model.named_tensors(), trace, model.reset)
    grads = gradients(trace, d, model.reset, model.vocab_size)
    grads["dh"] = d.dh
    return grads

NAMES = ("Wz", "Wr", "Wh", "Uz", "Ur", "Uh", "bz", "br", "bh", "Wy", "by")


def _case(reset: str, V=7, H=5, T=6, B=3, seed=0):
    m = GRUModel(V, H, reset=reset, init="randn", seed=seed, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in (m.b, m.bUh, m.by):
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.5)
    x = torch.randint(0, V, (T, B), generator=g)
    y = torch.randint(0, V, (T, B), generator=g)
    h0 = torch.randn(B, H, generator=g, dtype=torch.float64) * 0.5
    return m, x, y, h0


@pytest.mark.parametrize("reset", ["before", "after"])
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_bptt_equals_the_fused_backward(reset, seed):
    m, x, y, h0 = _case(reset, seed=seed)
    ref = reference_bptt(m, x, y, h0)
    for p in m.parameters():
        p.grad = None
    manual_loss(m, x, y, h0)[0].backward()
    H = m.hidden_size
    fused = {}
    for k, gate in enumerate("zrh"):
        cols = slice(k * H, (k + 1) * H)
        fused[f"W{gate}"], fused[f"U{gate}"], fused[f"b{gate}"] = (
            m.W.grad[:, cols], m.U.grad[:, cols], m.b.grad[cols])
    fused["Wy"], fused["by"] = m.Wy.grad, m.by.grad
    if reset == "after":
        fused["bUh"] = m.bUh.grad
    assert set(ref) - {"dh"} == set(fused)
    for name, grad in fused.items():
        assert torch.allclose(ref[name], grad, atol=1e-12, rtol=0), name
    assert any(float(g.abs().max()) > 1e-3 for g in fused.values())  # not all zero


@pytest.mark.parametrize("reset", ["before", "after"])
def test_reference_dh_is_the_gradient_of_the_loss_wrt_each_hidden_state(reset):
    m, x, y, h0 = _case(reset, T=8, seed=3)
    hs, h = [], h0
    for x_t in x:
        h = m.gru_step(x_t, h).h
        h.retain_grad()
        hs.append(h)
    loss = cross_entropy(m.output(torch.stack(hs)), y)
    loss.backward()
    dh = reference_bptt(m, x, y, h0)["dh"]
    for t, h_t in enumerate(hs):
        assert torch.allclose(dh[t], h_t.grad, atol=1e-12, rtol=0), t
    # the last step's gradient flows back: every earlier step gets a nonzero share
    assert all(float(dh[t].norm()) > 0 for t in range(len(hs)))
