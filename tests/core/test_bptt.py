"""Hand-derived backpropagation through time against autograd and finite differences."""

import pytest
import torch

from gru_core.bptt import ManualBPTT
from gru_core.forward import forward_loss, forward_trace
from gru_core.model import GRUModel


def manual_loss(model: GRUModel, x, y, h0, cancel=None):
    """(loss, h_T) whose .backward() runs the hand-derived BPTT (ManualBPTT)."""
    return ManualBPTT.apply(
        model.W, model.U, model.b, model.bUh, model.Wy, model.by, x, y, h0,
        model.reset == "after", cancel,
    )


def _case(reset: str, V=7, H=5, T=6, B=3, seed=0, dtype=torch.float64):
    m = GRUModel(V, H, reset=reset, init="randn", seed=seed, dtype=dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in (m.b, m.bUh, m.by):
            p.copy_(torch.randn(p.shape, generator=g, dtype=dtype) * 0.5)
    x = torch.randint(0, V, (T, B), generator=g)
    y = torch.randint(0, V, (T, B), generator=g)
    h0 = torch.randn(B, H, generator=g, dtype=dtype) * 0.5
    return m, x, y, h0


def _grads(m: GRUModel, loss: torch.Tensor) -> list[torch.Tensor]:
    for p in m.parameters():
        p.grad = None
    loss.backward()
    return [p.grad.clone() for p in m.parameters()]


@pytest.mark.parametrize("reset", ["before", "after"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_manual_gradients_equal_autograd_in_float64(reset, seed):
    m, x, y, h0 = _case(reset, seed=seed)
    loss_m, h_m = manual_loss(m, x, y, h0)
    g_manual = _grads(m, loss_m)
    loss_a, h_a = forward_loss(m, x, y, h0)
    g_auto = _grads(m, loss_a)
    # the readable trace, through autograd, is a third opinion
    g_trace = _grads(m, forward_trace(m, x, y, h0).loss)
    assert abs(float(loss_m.detach()) - float(loss_a.detach())) < 1e-12
    assert torch.allclose(h_m, h_a, atol=1e-12)
    for gm, ga, gt in zip(g_manual, g_auto, g_trace):
        assert (gm - ga).abs().max() < 1e-12
        assert (gm - gt).abs().max() < 1e-12
    assert len(g_manual) == (6 if reset == "after" else 5)  # bUh only in the reset-after form


@pytest.mark.parametrize("reset", ["before", "after"])
def test_gradcheck_hand_derived_backward(reset):
    m, x, y, h0 = _case(reset, V=5, H=3, T=4, B=2, seed=7)
    inputs = tuple(p.detach().clone().requires_grad_(True) for p in (m.W, m.U, m.b, m.bUh, m.Wy, m.by))
    if reset == "before":
        inputs[3].requires_grad_(False)  # bUh is not part of the reset-before GRU

    def loss_of(W, U, b, bUh, Wy, by):
        return ManualBPTT.apply(W, U, b, bUh, Wy, by, x, y, h0, reset == "after", None)[0]

    assert torch.autograd.gradcheck(loss_of, inputs, eps=1e-6, atol=1e-7)


def test_gradcheck_autograd_loss_of_the_article_named_matrices():
    m, x, y, h0 = _case("before", V=4, H=2, T=3, B=2, seed=1)
    inputs = tuple(p.detach().clone().requires_grad_(True) for p in (m.W, m.U, m.b, m.Wy, m.by))

    def loss_of(W, U, b, Wy, by):
        m.W, m.U, m.b, m.Wy, m.by = W, U, b, Wy, by
        return forward_trace(m, x, y, h0).loss

    assert torch.autograd.gradcheck(loss_of, inputs, eps=1e-6, atol=1e-7)


def test_truncated_bptt_gives_no_gradient_to_the_incoming_state():
    m, x, y, h0 = _case("before")
    h0 = h0.clone().requires_grad_(True)
    loss, h_T = manual_loss(m, x, y, h0)
    loss.backward()
    assert h0.grad is None  # the state carried in from the previous batch is a constant
    assert not h_T.requires_grad
