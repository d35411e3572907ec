"""Every kernel of the GRU cell (gru_core/cell.py) computes the reference's numbers.

One test walks the registry: each kernel's forward (h at every step) and backward (the
gate weights' gradients, given dL/dh from an output at every step) against the readable
reference, both reset forms. A kernel that drifts from the equations fails here first.
"""

import pytest
import torch

from gru_core.cell import KERNELS, REFERENCE

SIZES = [dict(V=4, H=2, T=3, B=2), dict(V=11, H=7, T=9, B=3), dict(V=30, H=24, T=6, B=5)]


def _case(reset: str, V: int, H: int, T: int, B: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape, scale=0.5: torch.randn(*shape, generator=g, dtype=torch.float64) * scale  # noqa: E731
    weights = (rand(V, 3 * H), rand(H, 3 * H), rand(3 * H), rand(H))  # W, U, b, bUh
    x = torch.randint(0, V, (T, B), generator=g)
    h0 = rand(B, H)
    dh_out = rand(T, B, H, scale=1.0)  # the output layer's share of dL/dh at every step
    return weights, x, h0, dh_out


@pytest.mark.parametrize("size", range(len(SIZES)))
@pytest.mark.parametrize("reset", ["before", "after"])
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_every_kernel_equals_the_reference_forward_and_backward(name, reset, size):
    kernel = KERNELS[name]
    weights, x, h0, dh_out = _case(reset, **SIZES[size], seed=size)
    with torch.no_grad():
        hs_ref = REFERENCE.forward(weights, x, h0, reset)
        hs = kernel.forward(weights, x, h0, reset)
    assert hs.shape == hs_ref.shape
    assert torch.allclose(hs, hs_ref, atol=1e-12, rtol=0), (hs - hs_ref).abs().max()
    if kernel.backward is None:
        return
    with torch.no_grad():
        ref = REFERENCE.backward(weights, x, h0, dh_out, reset)
    grads = kernel.backward(weights, x, h0, dh_out, reset)
    assert set(grads) == set(ref) == ({"W", "U", "b", "bUh"} if reset == "after" else {"W", "U", "b"})
    for k in ref:
        assert torch.allclose(grads[k], ref[k], atol=1e-12, rtol=0), (k, (grads[k] - ref[k]).abs().max())
    assert float(ref["U"].abs().max()) > 1e-3  # the check compares real gradients, not zeros


@pytest.mark.parametrize("reset", ["before", "after"])
def test_the_reference_backward_is_the_gradient_of_its_forward(reset):
    """The reference's hand-derived backward against autograd through its own forward."""
    weights, x, h0, dh_out = _case(reset, V=9, H=5, T=7, B=3, seed=4)
    leaves = [w.clone().requires_grad_(True) for w in weights]
    hs = REFERENCE.forward(leaves, x, h0, reset)
    auto = torch.autograd.grad((hs * dh_out).sum(), leaves, allow_unused=True)
    with torch.no_grad():
        ref = REFERENCE.backward(weights, x, h0, dh_out, reset)
    for k, g in zip(("W", "U", "b", "bUh"), auto):
        if k in ref:
            assert torch.allclose(ref[k], g, atol=1e-12, rtol=0), k
    if reset == "before":
        assert auto[3] is None  # the reset-before form never uses bUh
