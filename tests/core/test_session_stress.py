"""Stress: random commands from several threads at once, then the invariants.

Thousands of calls (start, pause, toggle, step, run_epoch, reset with valid and invalid
configs, set_lr with good and bad values, sample, with_trainer, snapshot, wait_for, and
faults injected into the next step) from four threads, the session closed while they
still run. No deadlock (everything joins within a timeout), nothing escapes but GRUError
for invalid input, and every snapshot ever published, and every state change, keeps the
rules (TRANSITIONS).
"""

from __future__ import annotations

import random
import sys
import threading
import time
import traceback

import pytest
import torch

from gru_core import GRUError, TrainConfig
from gru_core.session import STATES, Snapshot, TrainingSession
from gru_core.session_state import RUN_STARTS, TRANSITIONS, SessionState
from gru_core.snapshot_board import SnapshotBoard

THREADS = 4
CALLS = 2500  # per thread
JOIN_TIMEOUT = 60.0

# All contain M and a, so sample("Ma") is valid whatever config is current.
CONFIGS = [
    TrainConfig.default(epochs=3),
    TrainConfig.default(hidden_size=8, batch_size=2, seq_len=3, epochs=2, optimizer="sgd", lr=0.5),
    TrainConfig.article(epochs=4),
    TrainConfig.default(text="Math is a hat that Mat ate. " * 2, hidden_size=12, epochs=1, sample_len=0),
]
GOOD_LRS = (0.001, 0.01, 0.05, 0.3)
BAD_LRS = (0.0, -1.0, float("nan"), float("inf"), 1e9, "fast", None)


def invalid_config() -> object:
    broken = TrainConfig.default()
    object.__setattr__(broken, "seq_len", 0)  # slipped past the frozen dataclass
    return random.choice(["not a config", 42, broken])


def break_next_step(trainer, history) -> None:
    """The trainer's next step raises (once): a fault in the worker, in the middle of it all."""

    def broken():
        del trainer.step  # back to the real method
        raise RuntimeError("injected fault")

    trainer.step = broken


def thread_stacks() -> str:
    frames = sys._current_frames()
    return "\n".join(
        f"--- {t.name}\n" + "".join(traceback.format_stack(frames[t.ident]))
        for t in threading.enumerate() if t.ident in frames
    )


@pytest.mark.slow
def test_random_commands_from_many_threads_keep_the_invariants(monkeypatch):
    transitions: list[tuple[str, str, str | None, bool]] = []
    real_set_state = SessionState.set_state

    def recording_set_state(self, state, *, new_run=False):  # new_run: reset and adopt
        transitions.append((self.state, state, self.error, new_run))  # under the session's lock
        real_set_state(self, state, new_run=new_run)

    monkeypatch.setattr(SessionState, "set_state", recording_set_state)
    posted: list[Snapshot] = []
    real_post = SnapshotBoard.post

    def recording_post(self, snap):
        posted.append(snap)  # only the worker posts: this is publication order
        real_post(self, snap)

    monkeypatch.setattr(SnapshotBoard, "post", recording_post)

    session = TrainingSession(CONFIGS[0], max_rate=50, torch_threads=1)
    closed = threading.Event()
    progress = [0] * THREADS
    escaped: list[str] = []
    counts: dict[str, int] = {}

    def commands(rng: random.Random, me: int) -> None:
        def wait_newer(seq: int) -> None:  # paces the thread like a person watching the screen
            try:
                session.wait_for(lambda s: s.seq > seq, 0.05)
            except TimeoutError:
                pass

        def expect_error(fn, *args) -> None:
            try:
                fn(*args)
            except GRUError:
                return
            raise AssertionError(f"{fn.__name__}{args!r} should have raised GRUError")

        table = {
            "start": lambda: session.start(),
            "pause": lambda: session.pause(),
            "toggle": lambda: session.toggle(),
            "step": lambda: session.step(),
            "run_epoch": lambda: session.run_epoch(),
            "reset": lambda: session.reset(),
            "reset_config": lambda: session.reset(rng.choice(CONFIGS)),
            "reset_invalid": lambda: expect_error(session.reset, invalid_config()),
            "set_lr": lambda: session.set_lr(rng.choice(GOOD_LRS)),
            "set_lr_bad": lambda: expect_error(session.set_lr, rng.choice(BAD_LRS)),
            "sample": lambda: session.sample("Ma", rng.randint(0, 20), rng.choice([0.0, 0.7, 1.0]),
                                             generator=torch.Generator().manual_seed(rng.randint(0, 9))),
            "sample_bad": lambda: expect_error(session.sample, "M\u20ac", 5),
            "with_trainer": lambda: session.with_trainer(lambda t, h: t.step_count == len(h.losses)),
            "snapshot": lambda: session.snapshot(),
            # The predicate asks the session too: its lock taken inside the board's.
            "wait_for": lambda: session.wait_for(lambda s: session.state in STATES and s.state in STATES, 5),
            "wait_newer": lambda: wait_newer(session.snapshot().seq),
            "inject_fault": lambda: session.with_trainer(break_next_step),
        }
        weights = {"reset": 0.5, "reset_config": 0.5, "reset_invalid": 2, "set_lr_bad": 2, "sample_bad": 1,
                   "pause": 2, "toggle": 2, "with_trainer": 2,
                   "wait_newer": 12, "inject_fault": 1}
        names = list(table)
        cum = [weights.get(n, 4) for n in names]
        for i in range(CALLS):
            name = rng.choices(names, cum)[0]
            try:
                table[name]()
            except GRUError as exc:
                # After close, a job cannot run any more: the one refusal a valid call may meet.
                if not (name in ("with_trainer", "inject_fault") and closed.is_set()):
                    escaped.append(f"{name}: GRUError {exc}")
            except BaseException as exc:  # noqa: BLE001 - the test reports whatever escaped
                escaped.append(f"{name}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            counts[name] = counts.get(name, 0) + 1
            progress[me] = i + 1

    workers = [
        threading.Thread(target=commands, args=(random.Random(seed), seed), name=f"stress-{seed}")
        for seed in range(THREADS)
    ]
    t0 = time.monotonic()
    for w in workers:
        w.start()
    # Close while the command threads are still going (at ~85% of their calls).
    deadline = time.monotonic() + JOIN_TIMEOUT
    while min(progress) < int(CALLS * 0.85) and time.monotonic() < deadline and any(
        w.is_alive() for w in workers
    ):
        workers[0].join(0.05)
    closed.set()
    t_close = time.perf_counter()
    session.close()
    close_took = time.perf_counter() - t_close
    for w in workers:
        w.join(max(0.1, deadline - time.monotonic()))
    stuck = [w.name for w in workers if w.is_alive()]
    assert not stuck, f"deadlock: {stuck} still running after {JOIN_TIMEOUT} s\n{thread_stacks()}"
    elapsed = time.monotonic() - t0
    assert not escaped, "\n".join(escaped[:5])
    assert close_took < 1.0
    assert not session.alive
    assert [t for t in threading.enumerate() if t.name == "gru-train"] == []
    assert sum(counts.values()) == THREADS * CALLS
    assert all(counts.get(name, 0) > 0 for name in ("reset_invalid", "set_lr_bad", "step", "start"))

    # ------------------------------------------------ the state machine, as it happened
    assert transitions
    for old, new, error, new_run in transitions:
        assert old in STATES and new in STATES
        assert new in RUN_STARTS if new_run else (old, new) in TRANSITIONS, (old, new, new_run)
        if new == "error":
            assert error is not None  # a fault always says what went wrong
    assert {new for _, new, _, _ in transitions} >= {"running", "paused", "error"}
    assert not any("cannot go from" in (s.error or "") for s in posted)  # the session's own check

    # ------------------------------------------------ every published snapshot
    assert len(posted) > 50
    seqs = [s.seq for s in posted]
    assert seqs == sorted(set(seqs))
    last_step: dict[int, int] = {}
    previous_run = 0
    for snap in posted:
        assert snap.state in STATES
        assert snap.run_id >= previous_run  # runs never come back
        previous_run = snap.run_id
        assert snap.step >= last_step.get(snap.run_id, 0), "step count went back within a run"
        last_step[snap.run_id] = snap.step
        assert snap.step == snap.epoch * snap.num_batches + snap.batch  # one batch per step
        assert len(snap.losses) == snap.step and len(snap.epoch_losses) == snap.epoch
        assert (snap.state == "error") == (snap.error is not None)
        if snap.state == "error":
            assert snap.error == "RuntimeError: injected fault" and "broken" in snap.error_detail
        if snap.state == "idle":
            assert snap.step == 0
        if snap.state == "finished":
            assert snap.batch == 0 and snap.epoch >= snap.target_epochs
        assert snap.lr == snap.config.lr and (snap.lr in GOOD_LRS or snap.lr in {c.lr for c in CONFIGS})
        assert snap.trace is None or snap.trace_step <= snap.step
    assert len(last_step) > 1 and max(last_step.values()) > 0  # resets happened, and training
    print(f"stress: {sum(counts.values())} calls, {len(posted)} snapshots, {len(transitions)} state changes, "
          f"{len(last_step)} runs, {sum(last_step.values())} steps in {elapsed:.1f} s; states seen: "
          f"{ {state: sum(s.state == state for s in posted) for state in STATES} }")
