"""The explicit-matrix GRU against torch.nn.GRU, and the conversions between them."""

import pytest
import torch

from gru_core import GRUError
from gru_core.forward import forward_trace
from gru_core.model import GRUModel
from tests.torch_twin import from_torch


def _random_model(V: int, H: int, seed: int, dtype=torch.float32) -> GRUModel:
    m = GRUModel(V, H, reset="after", init="uniform", seed=seed, dtype=dtype)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # non-zero biases, so every bias path is exercised
        for p in (m.b, m.bUh, m.by):
            p.copy_(torch.randn(p.shape, generator=g, dtype=dtype) * 0.3)
    return m


@pytest.mark.parametrize(
    "V,H,T,B,seed", [(4, 2, 3, 2, 0), (11, 7, 9, 3, 1), (65, 32, 20, 5, 2), (30, 64, 5, 1, 3)]
)
def test_reset_after_equals_torch_nn_gru(V, H, T, B, seed):
    m = _random_model(V, H, seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, V, (T, B), generator=gen)
    y = torch.randint(0, V, (T, B), generator=gen)
    h0 = torch.randn(B, H, generator=gen)
    trace = forward_trace(m, x, y, h0)
    gru, lin = m.to_torch()
    with torch.no_grad():
        out, h_n = gru(torch.nn.functional.one_hot(x, V).float(), h0.unsqueeze(0))
        logits = lin(out)
    assert (out - trace.h).abs().max() <= 1e-5
    assert (h_n[0] - trace.h[-1]).abs().max() <= 1e-5
    assert (logits - trace.logits).abs().max() <= 1e-5


def test_reset_before_cannot_become_nn_gru_and_says_why():
    m = GRUModel(5, 3, reset="before")
    with pytest.raises(GRUError, match='reset="after"'):
        m.to_torch()


def test_from_torch_round_trip_keeps_the_function():
    torch.manual_seed(5)
    gru, lin = torch.nn.GRU(9, 6), torch.nn.Linear(6, 9)
    m = from_torch(gru, lin)
    x = torch.randint(0, 9, (7, 2))
    h0 = torch.randn(2, 6)
    trace = forward_trace(m, x, x, h0)
    with torch.no_grad():
        out, _ = gru(torch.nn.functional.one_hot(x, 9).float(), h0.unsqueeze(0))
    assert (out - trace.h).abs().max() <= 1e-5
    gru2, lin2 = m.to_torch()
    with torch.no_grad():
        out2, _ = gru2(torch.nn.functional.one_hot(x, 9).float(), h0.unsqueeze(0))
    assert (out2 - out).abs().max() <= 1e-5


def test_article_names_are_views_of_what_the_optimizer_updates():
    m = GRUModel(4, 2, reset="before", init="randn")
    assert m.Wz.shape == (4, 2) and m.Uh.shape == (2, 2) and m.bh.shape == (2,)
    assert m.Wy.shape == (2, 4) and m.by.shape == (4,)
    with torch.no_grad():
        m.W[0, 0] = 42.0  # column 0 of W is Wz's column 0
    assert float(m.Wz.detach()[0, 0]) == 42.0


def test_state_dict_uses_article_names_and_loads_back():
    m = GRUModel(6, 3, reset="after", seed=3)
    state = m.state_dict()
    assert set(state) == {"Wz", "Wr", "Wh", "Uz", "Ur", "Uh", "bz", "br", "bh", "Wy", "by", "bUh"}
    other = GRUModel(6, 3, reset="after", seed=4)
    other.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(other.parameters(), m.parameters()))
    with pytest.raises(GRUError, match="shape"):
        GRUModel(7, 3, reset="after").load_state_dict(state)
