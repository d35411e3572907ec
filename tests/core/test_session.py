"""TrainingSession without Textual: commands in every state, faults, snapshots, threads.

Every wait is on a condition with a timeout (session.wait_for, Event.wait), never a sleep.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import torch

import gru_core.bptt as bptt_module
import gru_core.snapshot_builder as snapshot_builder
import gru_core.trainer as trainer_module
from gru_core import GRUError, TrainConfig, Trainer
from gru_core.history import History
from gru_core.session import STATES, Snapshot, TrainingSession, ui_torch_threads
from gru_core.snapshot_board import SnapshotBoard

from .conftest import session_threads

WAIT = 20.0  # generous: two busy cores
N_BATCHES = Trainer(TrainConfig.default()).num_batches  # 4: the article's text, B=1, T=4


def weights(session: TrainingSession) -> dict[str, torch.Tensor]:
    return session.with_trainer(lambda trainer, history: trainer.model.state_dict())


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def break_next_step(session: TrainingSession, message: str = "disk on fire") -> None:
    """The next Trainer.step raises RuntimeError (once); the ones after work."""

    def install(trainer: Trainer, history: History) -> None:
        def broken() -> None:
            del trainer.step  # back to the real method
            raise RuntimeError(message)

        trainer.step = broken

    session.with_trainer(install)


def in_state(make, state: str) -> TrainingSession:
    if state == "finished":
        session = make(TrainConfig.default(epochs=2))
        session.start()
        session.wait_for(lambda s: s.state == "finished", WAIT)
        return session
    session = make()
    if state == "running":
        session.start()
        session.wait_for(lambda s: s.state == "running" and s.step > 0, WAIT)
    elif state == "paused":
        session.step()
        session.wait_for(lambda s: s.state == "paused" and s.step == 1, WAIT)
    elif state == "error":
        break_next_step(session)
        session.step()
        session.wait_for(lambda s: s.state == "error", WAIT)
    assert session.snapshot().state == state
    return session


# ====================================================================== every command, every state
def wait_trained_on(session: TrainingSession, state: str, before: Snapshot) -> Snapshot:
    """After start from `state`: running on, or (from finished) config.epochs more, then finished."""
    if state == "finished":
        snap = session.wait_for(lambda s: s.state == "finished" and s.epoch > before.epoch, WAIT)
        # the target moves on by the run's epochs, and the config says the same target
        assert snap.epoch == snap.target_epochs == snap.config.epochs == before.epoch + before.config.epochs
        return snap
    return session.wait_for(lambda s: s.state == "running" and s.step > before.step + 2, WAIT)


def check_start(session: TrainingSession, state: str, before: Snapshot) -> None:
    session.start()
    snap = wait_trained_on(session, state, before)
    assert snap.run_id == before.run_id and snap.error is None


def check_pause(session: TrainingSession, state: str, before: Snapshot) -> None:
    session.pause()
    if state == "running":
        snap = session.wait_for(lambda s: s.state == "paused", WAIT)
        # Nothing trains any more: the worker's own count is the published one.
        assert session.with_trainer(lambda t, h: t.step_count) == snap.step == session.snapshot().step
    else:
        assert session.state == state
        assert session.with_trainer(lambda t, h: t.step_count) == before.step


def check_toggle(session: TrainingSession, state: str, before: Snapshot) -> None:
    session.toggle()
    if state == "running":
        session.wait_for(lambda s: s.state == "paused", WAIT)
    else:
        wait_trained_on(session, state, before)


def check_step(session: TrainingSession, state: str, before: Snapshot) -> None:
    if state == "running":
        assert session.step() is False
        assert session.state == "running"
        return
    assert session.step() is True
    snap = session.wait_for(lambda s: s.step == before.step + 1, WAIT)
    assert snap.state == "paused" and snap.error is None
    assert len(snap.losses) == before.step + 1


def check_run_epoch(session: TrainingSession, state: str, before: Snapshot) -> None:
    if state == "running":
        assert session.run_epoch() is False
        assert session.state == "running"
        return
    assert session.run_epoch() is True
    snap = session.wait_for(lambda s: s.state in ("paused", "finished") and s.step > before.step, WAIT)
    assert snap.batch == 0 and snap.step == (before.epoch + 1) * N_BATCHES
    # one epoch, then paused; a finished run's target first moves on by its epochs (never 6/5)
    assert snap.state == "paused" and snap.epoch < snap.target_epochs == snap.config.epochs
    if state == "finished":
        assert snap.target_epochs == before.epoch + before.config.epochs


def check_reset(session: TrainingSession, state: str, before: Snapshot) -> None:
    session.reset()
    assert session.state == "idle"
    snap = session.wait_for(lambda s: s.run_id == before.run_id + 1, WAIT)
    assert (snap.state, snap.step, snap.epoch, len(snap.losses), snap.error) == ("idle", 0, 0, 0, None)
    assert same_weights(weights(session), Trainer(before.config).model.state_dict())


def check_reset_config(session: TrainingSession, state: str, before: Snapshot) -> None:
    new = TrainConfig.default(hidden_size=8, text="abcabcabcabd" * 3, seed=7)
    session.reset(new)
    assert session.config == new  # at once, before the worker has taken it
    snap = session.wait_for(lambda s: s.run_id == before.run_id + 1, WAIT)
    assert snap.config == new and snap.vocab == "abcd" and snap.state == "idle"
    assert snap.trace.h.shape[-1] == 8
    session.step()
    session.wait_for(lambda s: s.step == 1 and s.run_id == before.run_id + 1, WAIT)


def check_reset_invalid(session: TrainingSession, state: str, before: Snapshot) -> None:
    trainer = session.with_trainer(lambda t, h: t)
    broken = TrainConfig.default()
    object.__setattr__(broken, "hidden_size", 0)  # what a buggy form could hand over
    for bad in ("not a config", broken):
        with pytest.raises(GRUError):
            session.reset(bad)
    assert session.state == state and session.alive
    assert session.with_trainer(lambda t, h: t) is trainer
    assert session.snapshot().run_id == before.run_id
    if state == "running":
        step = session.snapshot().step
        session.wait_for(lambda s: s.step > step, WAIT)


def check_set_lr(session: TrainingSession, state: str, before: Snapshot) -> None:
    session.set_lr(0.0123)
    snap = session.wait_for(lambda s: s.lr == 0.0123, WAIT)
    assert snap.config.lr == 0.0123 and snap.state == state
    assert session.with_trainer(lambda t, h: t.optimizer.param_groups[0]["lr"]) == 0.0123
    with pytest.raises(GRUError):
        session.set_lr(-1.0)
    assert session.state == state


def check_sample(session: TrainingSession, state: str, before: Snapshot) -> None:
    out = session.sample("Ma", 30, 1.0, generator=torch.Generator().manual_seed(3))
    assert out.text.startswith("Ma") and len(out.generated) == 30 and set(out.generated) <= set("Math")
    assert session.state == state


def check_close(session: TrainingSession, state: str, before: Snapshot) -> None:
    t0 = time.perf_counter()
    session.close()
    assert time.perf_counter() - t0 < 1.0
    assert not session.alive and session_threads() == []
    # A closed session ignores commands, still answers questions, and refuses jobs.
    assert session.step() is False and session.run_epoch() is False
    session.start()
    session.reset()
    assert session.snapshot().state == state
    with pytest.raises(GRUError):
        session.with_trainer(lambda t, h: None)


def check_snapshot(session: TrainingSession, state: str, before: Snapshot) -> None:
    snap = session.snapshot()
    assert snap.state == state and snap.seq >= before.seq
    assert isinstance(snap, Snapshot) and snap.num_batches == N_BATCHES


def check_wait_for(session: TrainingSession, state: str, before: Snapshot) -> None:
    assert session.wait_for(lambda s: s.state == state, 1.0).state == state
    if state != "running":
        with pytest.raises(TimeoutError):
            session.wait_for(lambda s: s.step > before.step, 0.2)


def check_with_trainer(session: TrainingSession, state: str, before: Snapshot) -> None:
    step, n = session.with_trainer(lambda t, h: (t.step_count, len(h.losses)))
    assert step == n >= before.step
    with pytest.raises(ZeroDivisionError):
        session.with_trainer(lambda t, h: 1 / 0)
    assert session.alive and session.state == state


def check_adopt(session: TrainingSession, state: str, before: Snapshot) -> None:
    trainer, history = Trainer(TrainConfig.default(seed=5)), History()
    for _ in range(3):
        history.add_step(trainer.step().loss)
    session.adopt(trainer, history)
    snap = session.wait_for(lambda s: s.run_id == before.run_id + 1, WAIT)
    assert (snap.state, snap.step, snap.batch, list(snap.losses)) == ("paused", 3, 3, history.losses)
    with pytest.raises(GRUError):
        session.adopt("not a trainer")  # type: ignore[arg-type]
    session.step()
    session.wait_for(lambda s: s.step == 4 and s.run_id == before.run_id + 1, WAIT)


COMMANDS = {
    "start": check_start, "pause": check_pause, "toggle": check_toggle, "step": check_step,
    "run_epoch": check_run_epoch, "reset": check_reset, "reset_config": check_reset_config,
    "reset_invalid": check_reset_invalid, "set_lr": check_set_lr, "sample": check_sample,
    "close": check_close, "snapshot": check_snapshot,
    "wait_for": check_wait_for, "with_trainer": check_with_trainer, "adopt": check_adopt,
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("state", STATES)
def test_every_command_in_every_state(make, state, command):
    session = in_state(make, state)
    COMMANDS[command](session, state, session.snapshot())
    # no command in any state kills the worker thread, and close always ends it
    assert session.alive == (command != "close")


# ====================================================================== the numbers
def test_article_trace_at_idle_is_the_articles():
    with TrainingSession(TrainConfig.article()) as session:
        first = session.snapshot()  # made by the constructor: the worker traces it at once
        snap = session.wait_for(lambda s: s.trace is not None, WAIT)
        assert first.state == snap.state == "idle" and (snap.step, snap.loss, snap.trace_step) == (0, None, 0)
        assert torch.allclose(snap.trace.term3, torch.tensor([1.6710, 1.3337, 0.7760]), atol=1e-4)
        assert abs(float(snap.trace.loss) - 1.2602) < 1e-4
        assert "".join(snap.vocab[i] for i in snap.trace.x[:, 0]) == "Mat"


def test_step_takes_exactly_one_batch(make):
    config = TrainConfig.default(text="the cat sat on the mat " * 3, batch_size=2)
    session, reference = make(config), Trainer(config)
    initial = weights(session)
    for k in (1, 2):
        record = reference.step()
        assert session.step()
        snap = session.wait_for(lambda s, k=k: s.step == k, WAIT)
        assert (snap.batch, snap.epoch, snap.loss, len(snap.losses)) == (k, 0, record.loss, k)
        assert same_weights(weights(session), reference.model.state_dict())  # one update, not two
    assert not same_weights(initial, weights(session))


def test_reset_restores_the_seeded_numbers(make):
    config = TrainConfig.article()
    session = make(config)
    session.start()
    session.wait_for(lambda s: s.step >= 10, WAIT)
    session.reset()
    snap = session.wait_for(lambda s: s.run_id == 1, WAIT)
    fresh = Trainer(config)
    assert same_weights(weights(session), fresh.model.state_dict())
    assert torch.allclose(snap.trace.term3, torch.tensor([1.6710, 1.3337, 0.7760]), atol=1e-4)
    session.step()
    snap = session.wait_for(lambda s: s.step == 1 and s.run_id == 1, WAIT)
    assert snap.loss == fresh.step().loss
    assert same_weights(weights(session), fresh.model.state_dict())


def test_reset_config_then_start_trains_the_new_run(make):
    """Commands apply in order: a start right after reset is not swallowed by it."""
    session = make()
    session.start()
    session.reset(TrainConfig.default(epochs=1))
    session.start()
    snap = session.wait_for(lambda s: s.state == "finished", WAIT)
    assert (snap.run_id, snap.step, snap.epoch) == (1, N_BATCHES, 1)


def test_reset_with_a_config_the_machine_cannot_run_changes_nothing(make):
    if torch.cuda.is_available():
        pytest.skip("cuda is available here: the config would be valid")
    session = make()
    session.start()
    trainer = session.with_trainer(lambda t, h: t)
    with pytest.raises(GRUError, match="cuda"):
        session.reset(TrainConfig.default(device="cuda"))
    assert session.with_trainer(lambda t, h: t) is trainer and session.state == "running"


def test_set_lr_applies_to_the_next_update(make):
    """Plain SGD without clipping: the next update is exactly W - lr * dW with the new lr."""
    config = TrainConfig.default(optimizer="sgd", lr=0.1, clip=0.0, dtype="float64")
    session = make(config)
    session.step()
    session.wait_for(lambda s: s.step == 1, WAIT)
    with pytest.raises(GRUError, match="lr"):
        session.set_lr(float("nan"))
    for bad in (0, -0.5, 1000.0, "fast", True):
        with pytest.raises(GRUError):
            session.set_lr(bad)
    session.set_lr(0.7)
    session.wait_for(lambda s: s.lr == 0.7, WAIT)
    assert session.config.lr == 0.7
    assert session.with_trainer(lambda t, h: t.optimizer.param_groups[0]["lr"]) == 0.7
    w_before = weights(session)
    session.step()
    snap = session.wait_for(lambda s: s.step == 2, WAIT)
    w_after = weights(session)
    for name, grad in snap.grads.items():
        assert torch.allclose(w_after[name], w_before[name] - 0.7 * grad, atol=1e-12), name


def test_set_lr_survives_reset_but_not_reset_with_a_config(make):
    session = make()
    session.set_lr(0.02)
    session.reset()
    assert session.wait_for(lambda s: s.run_id == 1 and s.lr == 0.02, WAIT).config.lr == 0.02
    session.set_lr(0.03)
    session.reset(TrainConfig.default(lr=0.04))
    assert session.wait_for(lambda s: s.run_id == 2, WAIT).lr == 0.04


@pytest.mark.parametrize("phase", ["forward", "backward"])
@pytest.mark.parametrize("backward", ["manual", "autograd"])
def test_close_within_a_second_in_the_middle_of_a_long_step(make, monkeypatch, backward, phase):
    """H=512, T=300, B=64: one step takes seconds here; close cuts it between time steps."""
    rng = random.Random(0)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz .") for _ in range(64 * 300 + 1))
    config = TrainConfig.default(text=text, hidden_size=512, seq_len=300, batch_size=64, backward=backward)
    reached = threading.Event()
    # manual: the hand-derived forward, then its backward, called in turn by manual_step;
    # autograd: forward_loss, then loss.backward() by the trainer
    owner, name = (bptt_module.ManualBPTT, "forward") if backward == "manual" else (trainer_module,
                                                                                      "forward_loss")
    real_loss = getattr(owner, name)

    def loss_then_signal(*args):
        if phase == "forward":
            reached.set()
        out = real_loss(*args)
        if phase == "backward":
            reached.set()  # the forward is done: backward comes next
        return out

    wrapped = staticmethod(loss_then_signal) if owner is bptt_module.ManualBPTT else loss_then_signal
    monkeypatch.setattr(owner, name, wrapped)
    session = make(config, torch_threads=1)
    session.start()
    assert reached.wait(WAIT)
    t0 = time.perf_counter()
    session.close()
    took = time.perf_counter() - t0
    assert took < 1.0, f"close took {took:.2f} s"
    assert not session.alive and session_threads() == []
    assert session.snapshot().step == 0  # cut short, not finished


@pytest.mark.parametrize("start", ["start", "step"])
def test_nan_loss_pauses_in_error_with_the_last_good_weights(make, monkeypatch, start):
    real, calls, bad_step = trainer_module.manual_step, [0], 6

    def poisoned(*args):
        loss, h = real(*args)
        calls[0] += 1
        return (loss * float("nan") if calls[0] == bad_step else loss), h

    monkeypatch.setattr(trainer_module, "manual_step", poisoned)
    config = TrainConfig.default(lr=0.25, guard=False)  # the guard would recover (test_loop.py)
    session = make(config)
    if start == "start":
        session.start()
    else:
        for _ in range(bad_step):
            session.step()
    snap = session.wait_for(lambda s: s.state == "error", WAIT)
    assert f"loss became NaN at step {bad_step}" in snap.error and "now 0.25" in snap.error
    assert snap.step == bad_step - 1 and len(snap.losses) == bad_step - 1
    reference = Trainer(config)
    for _ in range(bad_step - 1):
        reference.step()
    assert same_weights(weights(session), reference.model.state_dict())
    assert session.state == "error" and session.alive
    session.step()  # the poison was one batch only: training goes on from the good weights
    assert session.wait_for(lambda s: s.step == bad_step, WAIT).state == "paused"


@pytest.mark.parametrize("resume", ["start", "step", "run_epoch"])
def test_an_exception_in_the_worker_is_published_and_the_session_goes_on(make, monkeypatch, resume):
    real, raised = Trainer.step, []

    def flaky(self):
        if not raised:
            raised.append(True)
            raise RuntimeError("disk on fire")
        return real(self)

    monkeypatch.setattr(Trainer, "step", flaky)
    session = make()
    session.start()
    snap = session.wait_for(lambda s: s.state == "error", WAIT)
    assert snap.error == "RuntimeError: disk on fire"
    assert "Traceback" in snap.error_detail and "flaky" in snap.error_detail
    assert snap.step == 0 and session.alive
    getattr(session, resume)()
    snap = session.wait_for(lambda s: s.step >= 1 and s.state != "error", WAIT)
    assert snap.error is None and snap.error_detail is None


def test_a_failing_trace_is_published_too(make, monkeypatch):
    session = make()
    session.wait_for(lambda s: s.trace is not None, WAIT)

    def broken_trace(trainer, cancel):
        raise ValueError("trace exploded")

    monkeypatch.setattr(snapshot_builder, "trace_batch", broken_trace)
    session.step()
    snap = session.wait_for(lambda s: s.state == "error", WAIT)
    assert "trace exploded" in snap.error and snap.step == 1 and session.alive


# ====================================================================== snapshots
def test_snapshots_never_change_after_publication(make):
    config = TrainConfig.default(epochs=1_000_000, sample_len=5)
    session = make(config)
    kept: list[tuple[Snapshot, dict]] = []

    def freeze(snap: Snapshot) -> dict:
        return {
            "fields": (snap.seq, snap.state, snap.step, snap.epoch, snap.batch, snap.lr, snap.loss),
            "losses": list(snap.losses), "epoch_losses": list(snap.epoch_losses),
            "samples": list(snap.samples),
            "trace": {k: v.clone() for k, v in snap.trace.__dict__.items()},
            "grads": {k: v.clone() for k, v in snap.grads.items()},
        }

    session.start()
    for target in (5, 40, 120):
        snap = session.wait_for(lambda s, t=target: s.step >= t, WAIT)
        kept.append((snap, freeze(snap)))
    session.set_lr(0.01)
    snap = session.wait_for(lambda s: s.lr == 0.01, WAIT)
    kept.append((snap, freeze(snap)))
    session.reset()
    session.start()
    session.wait_for(lambda s: s.run_id == 1 and s.step > 80, WAIT)
    for snap, frozen in kept:
        assert freeze(snap)["fields"] == frozen["fields"]
        now = freeze(snap)
        for key in ("losses", "epoch_losses", "samples"):
            assert now[key] == frozen[key], key
        for key in ("trace", "grads"):
            assert now[key].keys() == frozen[key].keys()
            assert all(torch.equal(now[key][k], frozen[key][k]) for k in now[key]), key
        with pytest.raises(AttributeError):
            snap.step = 0  # frozen dataclass
    assert len({id(s.grads["Wz"]) for s, _ in kept}) == len({s.seq for s, _ in kept})  # each its own copy


def test_snapshots_are_published_at_most_max_rate_a_second_while_running(make, monkeypatch):
    """What the app's timer reads: a running session coalesces its steps into at most
    max_rate snapshots a second (an epoch of 599 batches: no epoch end forces one)."""
    rate = 20.0
    posted: list[tuple[float, Snapshot]] = []
    real_post = SnapshotBoard.post

    def recording_post(board: SnapshotBoard, snap: Snapshot) -> None:
        posted.append((time.monotonic(), snap))
        real_post(board, snap)

    monkeypatch.setattr(SnapshotBoard, "post", recording_post)
    config = TrainConfig.default(text="the cat sat on the mat. " * 100, epochs=1_000_000, val_every=10**6)
    session = make(config, max_rate=rate)
    session.start()
    session.wait_for(lambda s: s.state == "running" and s.step > 0, WAIT)
    start = len(posted)
    session.wait_for(lambda s: len(posted) >= start + 12, WAIT)
    session.pause()
    session.wait_for(lambda s: s.state == "paused", WAIT)
    running = [(t, snap) for t, snap in posted[start:] if snap.state == "running"]
    n = len(running)
    assert n >= 10
    times = [t for t, _ in running]
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    # The worker publishes when 1/rate has passed since the last; its clock reading here
    # also carries the GIL's jitter, so: the typical gap is the interval, and over the whole
    # window no more came than the rate allows (one late start is the slack).
    assert gaps[len(gaps) // 2] >= 1 / rate - 0.005, gaps
    # an epoch end (batch 0) publishes at once, whatever the rate: it is not counted
    forced = sum(snap.batch == 0 for _, snap in running)
    assert times[-1] - times[0] >= (n - 2 - forced) / rate, (n, forced, times[-1] - times[0])
    steps = [snap.step for _, snap in running]
    assert steps == sorted(steps) and steps[-1] - steps[0] > n  # coalesced: many steps, fewer snapshots


def test_finished_after_config_epochs_and_start_goes_on(make):
    session = make(TrainConfig.default(epochs=3, sample_len=5))
    session.start()
    snap = session.wait_for(lambda s: s.state == "finished", WAIT)
    assert (snap.epoch, snap.step, snap.batch, snap.target_epochs) == (3, 3 * N_BATCHES, 0, 3)
    assert len(snap.epoch_losses) == 3 and len(snap.samples) >= 1
    assert snap.samples[-1].text.startswith("Ma") and len(snap.samples[-1].text) == 2 + 5
    session.start()
    snap = session.wait_for(lambda s: s.state == "finished" and s.epoch == 6, WAIT)
    assert (snap.step, snap.target_epochs, len(snap.epoch_losses)) == (6 * N_BATCHES, 6, 6)


def test_run_epoch_stops_at_the_epoch_boundary(make):
    session = make()
    session.step()
    session.step()
    session.wait_for(lambda s: s.step == 2, WAIT)
    for k in (1, 2):
        assert session.run_epoch()
        snap = session.wait_for(lambda s, k=k: s.state == "paused" and s.epoch == k, WAIT)
        assert (snap.step, snap.batch) == (k * N_BATCHES, 0)
        assert session.with_trainer(lambda t, h: t.step_count) == k * N_BATCHES  # and no further


def test_sample_while_training_and_repeatable_with_a_seeded_generator(make):
    session = make()
    session.start()
    session.wait_for(lambda s: s.step > 10, WAIT)
    out = session.sample("Ma", 200, 1.0)
    assert out.text.startswith("Ma") and len(out.generated) == 200
    assert session.state == "running"
    step = session.snapshot().step
    session.wait_for(lambda s: s.step > step + 10, WAIT)  # training went on
    session.pause()
    session.wait_for(lambda s: s.state == "paused", WAIT)
    a = session.sample("Ma", 50, 1.0, generator=torch.Generator().manual_seed(9))
    b = session.sample("Ma", 50, 1.0, generator=torch.Generator().manual_seed(9))
    direct = session.with_trainer(
        lambda t, h: t.sample("Ma", 50, 1.0, generator=torch.Generator().manual_seed(9)))
    assert a.text == b.text == direct
    assert torch.equal(a.probs, b.probs)
    with pytest.raises(GRUError):
        session.sample("Mz", 10)
    with pytest.raises(GRUError):
        session.sample("Ma", -1)


def test_throughput_is_published_while_running(make):
    config = TrainConfig.default(epochs=1_000_000, batch_size=2, seq_len=3)
    session = make(config)
    session.start()
    snap = session.wait_for(lambda s: s.steps_per_sec > 0 and s.step > 20, WAIT)
    assert snap.chars_per_sec == pytest.approx(snap.steps_per_sec * 2 * 3)
    session.pause()
    assert session.wait_for(lambda s: s.state == "paused", WAIT).steps_per_sec == 0.0


def test_validation_losses_are_published_at_epoch_ends(make):
    text = "MathMathMath " * 20
    session = make(TrainConfig.default(text=text, val_fraction=0.25, batch_size=2, seq_len=8, epochs=2))
    session.start()
    snap = session.wait_for(lambda s: s.state == "finished", WAIT)
    assert len(snap.val_losses) >= 1 and snap.val_loss is not None and snap.val_loss > 0


def test_torch_threads_apply_to_the_training_thread(make):
    main_threads = torch.get_num_threads()
    session = make(torch_threads=1)
    assert session.with_trainer(lambda t, h: torch.get_num_threads()) == 1
    assert torch.get_num_threads() == main_threads  # the UI thread's own setting is left alone
    assert [ui_torch_threads(c) for c in (1, 2, 4, 16)] == [1, 1, 3, 15]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(GRUError):
            TrainingSession(torch_threads=bad)
    for bad in (0, -2.0, float("inf"), "fast"):
        with pytest.raises(GRUError):
            TrainingSession(max_rate=bad)
