"""The numpy kernel for small models gives the numbers of the torch kernel and of autograd."""

import threading

import pytest
import torch

from gru_core.bptt import manual_step
from gru_core.bptt_numpy import USE_NUMPY_BELOW, use_numpy
from gru_core.config import TrainConfig
from gru_core.errors import Cancelled
from gru_core.forward import forward_loss
from gru_core.model import GRUModel
from gru_core.trainer import Trainer

from .test_bptt import _case, _grads

SIZES = [dict(V=4, H=2, T=3, B=2), dict(V=7, H=5, T=6, B=3), dict(V=65, H=32, T=16, B=8)]


def _run(m: GRUModel, x, y, h0, kernel: str):
    for p in (*m.parameters(), m.bUh):
        p.grad = None
    loss, h_T = manual_step(m, x, y, h0, kernel=kernel)
    return float(loss), h_T, [p.grad.clone() for p in m.parameters()]


def _max_difference(a, b) -> float:
    (la, ha, ga), (lb, hb, gb) = a, b
    grads = [float((p - q).abs().max()) for p, q in zip(ga, gb)]
    return max([abs(la - lb), float((ha - hb).abs().max()), *grads])


@pytest.mark.parametrize("reset", ["before", "after"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"H{s['H']}")
def test_numpy_kernel_equals_the_torch_kernel_in_float64(reset, size):
    m, x, y, h0 = _case(reset, seed=3, **size)
    assert _max_difference(_run(m, x, y, h0, "numpy"), _run(m, x, y, h0, "torch")) < 1e-9
    # and autograd through the plain forward is a third opinion
    loss_a, h_a = forward_loss(m, x, y, h0)
    g_auto = _grads(m, loss_a)
    assert _max_difference(_run(m, x, y, h0, "numpy"), (float(loss_a.detach()), h_a.detach(), g_auto)) < 1e-9


@pytest.mark.parametrize("reset", ["before", "after"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"H{s['H']}")
def test_numpy_kernel_equals_the_torch_kernel_in_float32(reset, size):
    # the weights of training, not randn's (which saturates every gate at H=32)
    m = GRUModel(size["V"], size["H"], reset=reset, init="uniform", seed=5)
    g = torch.Generator().manual_seed(5)
    x, y = (torch.randint(0, size["V"], (size["T"], size["B"]), generator=g) for _ in range(2))
    h0 = torch.rand(size["B"], size["H"], generator=g) - 0.5
    assert _max_difference(_run(m, x, y, h0, "numpy"), _run(m, x, y, h0, "torch")) < 1e-6


@pytest.mark.parametrize("reset", ["before", "after"])
def test_training_through_either_kernel_gives_the_same_run(reset, monkeypatch):
    cfg = TrainConfig.default(reset=reset, dtype="float64")
    a, b = Trainer(cfg), Trainer(cfg)
    assert use_numpy(a.model.W, cfg.batch_size, cfg.hidden_size)  # a runs through numpy
    for _ in range(20):
        ra = a.step()
        with monkeypatch.context() as patch:
            patch.setattr("gru_core.bptt.use_numpy", lambda *args: False)
            rb = b.step()  # b through torch
        assert abs(ra.loss - rb.loss) < 1e-9 and abs(ra.grad_norm - rb.grad_norm) < 1e-9
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert (p - q).abs().max() < 1e-9


def test_the_numpy_kernel_is_chosen_for_small_cpu_models_only():
    small = GRUModel(65, 32)
    assert use_numpy(small.W, 8, 32)  # the default preset's size and the benchmark's "tiny"
    assert not use_numpy(small.W, USE_NUMPY_BELOW // 32, 32)
    assert not use_numpy(GRUModel(65, 512).W, 64, 512)
    assert not use_numpy(GRUModel(65, 32, dtype=torch.float16).W, 8, 32)


@pytest.mark.parametrize("reset", ["before", "after"])
def test_a_set_cancel_event_stops_the_numpy_kernel(reset):
    m, x, y, h0 = _case(reset)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        manual_step(m, x, y, h0, cancel, kernel="numpy")
