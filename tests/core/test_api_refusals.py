"""The library given values that once crashed, hung or killed a thread: GRUError instead."""

from __future__ import annotations

import math
import threading

import pytest
import torch

from gru_core import GRUError, TrainConfig, Trainer
from gru_core import trainer as trainer_module
from gru_core.session import TrainingSession


def test_a_vanishing_temperature_samples_like_argmax():
    trainer = Trainer(TrainConfig.default())
    for _ in range(40):
        trainer.run_epoch()
    assert trainer.sample("Ma", 10, temperature=5e-324) == trainer.sample("Ma", 10, temperature=0)


@pytest.mark.parametrize("rate", [1e-300, 1e-3, 1e9])
def test_a_session_refuses_a_rate_its_delivery_thread_cannot_keep(rate):
    with pytest.raises(GRUError, match="max_rate must be from 0.01 to 1000"):
        TrainingSession(TrainConfig.article(), max_rate=rate)


@pytest.mark.parametrize("threads", [100_000, 10**9])
def test_a_session_refuses_more_threads_than_cores(threads):
    with pytest.raises(GRUError, match="torch_threads must be from 1 to"):
        TrainingSession(TrainConfig.article(), torch_threads=threads)


@pytest.mark.parametrize("timeout", [math.nan, -1.0, "soon"])
def test_wait_for_refuses_a_timeout_that_would_never_end(timeout):
    session = TrainingSession(TrainConfig.article())
    try:
        with pytest.raises(GRUError, match="timeout must be a number of seconds"):
            session.wait_for(lambda s: False, timeout=timeout)
    finally:
        session.close()


def test_a_second_thread_stepping_the_same_trainer_gets_a_grurror(monkeypatch):
    trainer = Trainer(TrainConfig.article(backward="manual"))
    inside, release = threading.Event(), threading.Event()
    real_step = trainer_module.manual_step

    def held(*args):  # the first step waits here, mid-step, until the second has tried
        inside.set()
        release.wait(10)
        return real_step(*args)

    monkeypatch.setattr(trainer_module, "manual_step", held)
    first: list = []
    worker = threading.Thread(target=lambda: first.append(trainer.step()))
    worker.start()
    assert inside.wait(10)
    try:
        with pytest.raises(GRUError, match="already taking a step on another thread"):
            trainer.step()
    finally:
        release.set()
        worker.join(10)
    assert len(first) == 1 and math.isfinite(first[0].loss)
    monkeypatch.undo()
    assert math.isfinite(trainer.step().loss)  # the guard is released: one thread goes on


def test_a_model_too_big_for_memory_is_one_line(monkeypatch):
    trainer = Trainer(TrainConfig.article(backward="manual"))

    def allocator_fails(*args):  # what torch's CPU allocator raises for a huge activation
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 274877906944 bytes.")

    monkeypatch.setattr(trainer_module, "manual_step", allocator_fails)
    with pytest.raises(GRUError, match="not enough memory for this model on cpu: hidden 2"):
        trainer.step()


def test_an_allocation_that_cannot_succeed_while_building_is_one_line(monkeypatch):
    def huge(*args, **kwargs):
        return torch.empty(2**62, dtype=torch.uint8)  # fails at once, without touching memory

    monkeypatch.setattr(trainer_module, "make_batches", huge)
    with pytest.raises(GRUError, match="not enough memory"):
        Trainer(TrainConfig.article())
