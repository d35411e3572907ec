"""--device cuda end to end; skipped where no GPU is present (CI has none)."""

import pytest
import torch

from gru_core import TrainConfig, Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("backward", ["manual", "autograd"])
@pytest.mark.parametrize("reset", ["before", "after"])
def test_cuda_matches_cpu(backward, reset):
    text = "the cat sat on the mat " * 8
    cfg = TrainConfig.default(backward=backward, reset=reset, dtype="float64", text=text)
    cpu, gpu = Trainer(cfg), Trainer(cfg.replace(device="cuda"))
    assert gpu.model.W.is_cuda and gpu.X.is_cuda
    for _ in range(3):
        rc, rg = cpu.run_epoch(), gpu.run_epoch()
        for a, b in zip(rc, rg):
            assert abs(a.loss - b.loss) < 1e-9
    trace = gpu.forward_batch(0)
    assert abs(float(trace.loss) - float(cpu.forward_batch(0).loss)) < 1e-9


def test_cuda_default_preset_learns_and_samples():
    trainer = Trainer(TrainConfig.default(device="cuda"))
    for _ in range(trainer.config.epochs):
        trainer.run_epoch()
    assert trainer.sample("Ma", 10, temperature=0) == "MathMathMath"


def test_cuda_session_publishes_cpu_tensors():
    from gru_core import TrainingSession

    with TrainingSession(TrainConfig.default(device="cuda")) as session:
        session.start()
        snap = session.wait_for(lambda s: s.state == "finished", timeout=60)
        assert snap.trace.h.device.type == "cpu"
        assert all(g.device.type == "cpu" for g in snap.grads.values())
        assert session.sample("Ma", 10, 0).text == "MathMathMath"
