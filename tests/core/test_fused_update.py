"""The update over the flat storage is torch.optim's SGD and Adam, number for number."""

import pytest
import torch

from gru_core.config import TrainConfig
from gru_core.trainer import Trainer

SETTINGS = [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)]


def _torch_optim_trainer(cfg: TrainConfig) -> Trainer:
    """A Trainer whose update is torch.optim's own step, over the separate tensors."""
    trainer = Trainer(cfg)
    trainer._update.step = trainer.optimizer.step
    return trainer


@pytest.mark.parametrize("optimizer, momentum", SETTINGS)
@pytest.mark.parametrize("reset", ["before", "after"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_update_equals_torch_optim_bit_for_bit(optimizer, momentum, reset, dtype):
    cfg = TrainConfig.default(optimizer=optimizer, momentum=momentum, reset=reset, dtype=dtype, clip=0.5)
    fused, plain = Trainer(cfg), _torch_optim_trainer(cfg)
    for _ in range(25):  # clipping bites at the start, then not
        assert fused.step().loss == plain.step().loss
    assert all(torch.equal(p, q) for p, q in zip(fused.model.parameters(), plain.model.parameters()))
    # and the optimizer's state, as a checkpoint saves it, is torch.optim's
    a, b = fused.optimizer.state_dict()["state"], plain.optimizer.state_dict()["state"]
    assert a.keys() == b.keys()
    for i in a:
        assert a[i].keys() == b[i].keys() and all(torch.equal(a[i][k], b[i][k]) for k in a[i])


@pytest.mark.parametrize("optimizer, momentum", SETTINGS)
def test_optimizer_state_loaded_mid_run_carries_on_as_torch_optim_would(optimizer, momentum):
    cfg = TrainConfig.default(optimizer=optimizer, momentum=momentum, dtype="float64")
    a, b = Trainer(cfg), _torch_optim_trainer(cfg)
    for _ in range(5):
        a.step()
        b.step()
    # what a checkpoint does: state from a file replaces the optimizer's tensors
    a.optimizer.load_state_dict(b.optimizer.state_dict())
    for _ in range(5):
        assert a.step().loss == b.step().loss
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))


def test_set_lr_reaches_the_fused_update():
    trainer = Trainer(TrainConfig.default(optimizer="sgd"))
    trainer.step()
    trainer.set_lr(1e-30)  # the smallest step: the weights stay where they are (float32)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.step()
    assert all(torch.equal(p, q) for p, q in zip(trainer.model.parameters(), before))
