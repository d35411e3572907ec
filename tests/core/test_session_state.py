"""The session's state machine: every change TRANSITIONS lists is one the public API makes,
and set_state refuses every other (a bug in the session, not a user's mistake).

The test_session.py tests check each command in each state; these check the table itself,
so a transition the code stops making, or starts making without listing it, shows here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from gru_core import TrainConfig, Trainer
from gru_core.history import History
from gru_core.loop import StepOutcome
from gru_core.session import TrainingSession
from gru_core.session_state import RUN_STARTS, STATES, TRANSITIONS, SessionState

from .test_session import WAIT, break_next_step, in_state

ONE_BATCH = TrainConfig.default(text="Mat ate.", epochs=1)  # one batch an epoch: a step ends the run
ONE_EPOCH = TrainConfig.default(epochs=1)  # 4 batches


@pytest.fixture
def changes(monkeypatch) -> list[tuple[str, str, bool]]:
    """Every (from, to, new_run) set_state is asked for, as it happens."""
    seen: list[tuple[str, str, bool]] = []
    real = SessionState.set_state

    def recording(self, state, *, new_run=False):
        seen.append((self.state, state, new_run))
        real(self, state, new_run=new_run)

    monkeypatch.setattr(SessionState, "set_state", recording)
    return seen


def steps(session: TrainingSession, n: int) -> TrainingSession:
    for _ in range(n):
        assert session.step()
    session.wait_for(lambda s: s.step == n, WAIT)
    return session


def fault(session: TrainingSession) -> None:
    break_next_step(session)
    session.step()


def fault_in_a_job(session: TrainingSession) -> None:
    """A fault outside a step (here in restore_best's job): the worker publishes it too."""

    def install(trainer: Trainer, history: History) -> None:
        def broken() -> int:
            raise RuntimeError("disk on fire")

        trainer.restore_best = broken

    session.with_trainer(install)
    session.restore_best()


def error_at_the_last_batch(make) -> TrainingSession:
    session = steps(make(ONE_EPOCH), 3)
    fault(session)
    session.wait_for(lambda s: s.state == "error", WAIT)
    return session


# (from, to) -> how a user of TrainingSession makes it: make -> the session, then the command
REACH: dict[tuple[str, str], Callable] = {
    ("idle", "running"): lambda make: in_state(make, "idle").start(),
    ("idle", "paused"): lambda make: in_state(make, "idle").step(),
    ("idle", "finished"): lambda make: make(ONE_BATCH).step(),
    ("idle", "error"): lambda make: fault(in_state(make, "idle")),
    ("running", "paused"): lambda make: in_state(make, "running").pause(),
    ("running", "finished"): lambda make: make(ONE_EPOCH).start(),
    ("running", "error"): lambda make: break_next_step(in_state(make, "running")),
    ("paused", "running"): lambda make: in_state(make, "paused").start(),
    ("paused", "finished"): lambda make: steps(make(ONE_EPOCH), 4),
    ("paused", "error"): lambda make: fault(in_state(make, "paused")),
    ("finished", "running"): lambda make: in_state(make, "finished").start(),
    ("finished", "paused"): lambda make: in_state(make, "finished").step(),
    ("finished", "error"): lambda make: fault_in_a_job(in_state(make, "finished")),
    ("error", "running"): lambda make: in_state(make, "error").start(),
    ("error", "paused"): lambda make: in_state(make, "error").step(),
    ("error", "finished"): lambda make: error_at_the_last_batch(make).step(),
    ("error", "error"): lambda make: fault(in_state(make, "error")),
}


def test_the_table_lists_the_states_and_each_change_has_a_way_to_make_it():
    assert {state for pair in TRANSITIONS for state in pair} == set(STATES)
    assert set(REACH) == set(TRANSITIONS)
    assert all(TRANSITIONS[pair] for pair in TRANSITIONS)  # each says what makes it


@pytest.mark.parametrize("pair", list(TRANSITIONS), ids=lambda pair: "-".join(pair))
def test_each_legal_change_is_made_by_the_public_api(make, changes, pair):
    old, new = pair
    REACH[pair](make)
    session = make.last
    session.wait_for(lambda s: (old, new, False) in changes, WAIT)
    assert session.wait_for(lambda s: s.state == new, WAIT).state == new
    assert all((a, b) in TRANSITIONS for a, b, new_run in changes if not new_run)
    assert session.alive


@pytest.mark.parametrize("state", STATES)
def test_reset_and_adopt_begin_a_new_run_from_any_state(make, changes, state):
    session = in_state(make, state)
    session.reset()
    assert session.wait_for(lambda s: s.run_id == 1, WAIT).state == "idle"
    trained = Trainer(TrainConfig.default())
    trained.step()
    session.adopt(trained)
    assert session.wait_for(lambda s: s.run_id == 2, WAIT).state == "paused"
    assert (state, "idle", True) in changes and ("idle", "paused", True) in changes


@pytest.mark.parametrize(("old", "new"), list(itertools.product(STATES, STATES)))
def test_set_state_refuses_what_the_table_does_not_list(old, new):
    shared = SessionState(Trainer(TrainConfig.default()), History(), 1.0)
    shared.state = old
    if (old, new) in TRANSITIONS:
        shared.set_state(new)
        assert shared.state == new
    else:
        with pytest.raises(RuntimeError, match=f"cannot go from {old} to {new}"):
            shared.set_state(new)
        assert shared.state == old  # nothing changed


@pytest.mark.parametrize("new", STATES)
def test_a_new_run_starts_idle_or_paused_only(new):
    shared = SessionState(Trainer(TrainConfig.default()), History(), 1.0)
    shared.state = "running"
    if new in RUN_STARTS:
        shared.set_state(new, new_run=True)
        assert shared.state == new
    else:
        with pytest.raises(RuntimeError, match=f"cannot go from running to {new} \\(a new run\\)"):
            shared.set_state(new, new_run=True)


def test_a_start_during_the_last_step_of_a_run_trains_on_instead_of_finishing():
    """The loop reads config.epochs before a step; a pause and start while the run's last
    step ran move the reached target on, so that step must not end the run (the stress test
    saw 'finished' at epoch 2 of 4)."""
    trainer = Trainer(ONE_EPOCH)
    for _ in range(trainer.num_batches):
        trainer.step()  # the last step's trainer work done: epoch 1 of 1
    shared = SessionState(trainer, History(), 1.0)
    shared.set_state("running")
    shared.command_pause()
    assert shared.command_run(stop_at_epoch_end=False)  # target 1 reached: moves on to 2
    assert shared.target_epochs == trainer.config.epochs == 2
    shared.step_done(StepOutcome(None, epoch_end=True, finished="epochs"), single=False)  # read epochs=1
    assert shared.state == "running"
    for _ in range(trainer.num_batches):
        trainer.step()
    shared.step_done(StepOutcome(None, epoch_end=True, finished="epochs"), single=False)
    assert shared.state == "finished"
