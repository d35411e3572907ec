"""The one training loop (gru_core/loop.py): the schedule, checks in steps, the guard, the end,
and the same run from the library, the CLI and the app's session."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import pytest
import torch

from gru_core import TrainConfig, Trainer
from gru_core.cli import train_main
from gru_core.config import MIN_CHECK_STEPS
from gru_core.history import History
from gru_core.loop import CHECKS_PER_EPOCH, Listener, TrainingLoop
from gru_core.schedule import FINAL_FRACTION, lr_factor
from gru_core.session import TrainingSession

LICENCES = Path("/usr/share/common-licenses")
SMALL_TEXT = (LICENCES / "Apache-2.0").read_text() if (LICENCES / "Apache-2.0").is_file() else (
    "The quick brown fox jumps over the lazy dog, and then it runs home again. " * 160)


def small_config(**overrides) -> TrainConfig:
    """A fitted run on a small real text, shrunk to be quick (H 16)."""
    base = dict(hidden_size=16, epochs=6)
    base.update(overrides)
    return TrainConfig.for_text(SMALL_TEXT, **base)


# ------------------------------------------------------------------ the schedule
def test_cosine_warms_up_then_falls_to_a_tenth_and_stays_there():
    planned = 1000
    factors = [lr_factor("cosine", s, planned) for s in range(planned + 50)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)  # 10 warm-up steps
    assert all(a >= b for a, b in zip(factors[9:], factors[10:]))  # then never up again
    assert factors[planned - 1] == pytest.approx(FINAL_FRACTION, abs=1e-4)
    assert factors[-1] == FINAL_FRACTION  # a continued run goes on at the small rate
    assert all(lr_factor("constant", s, planned) == 1.0 for s in range(0, 2000, 97))


def test_the_trainer_follows_the_schedule_and_a_resumed_run_continues_it(tmp_path):
    from gru_core.checkpoint import load_checkpoint, save_checkpoint

    config = small_config(epochs=3)
    trainer = Trainer(config)
    assert trainer.schedule_steps == 3 * trainer.num_batches and config.lr_schedule == "cosine"
    lrs = []
    for _ in range(trainer.num_batches + 5):
        lrs.append(trainer.lr)
        trainer.step()
    assert lrs == pytest.approx([trainer.lr_at(s) for s in range(len(lrs))])
    next_factor = lr_factor("cosine", trainer.step_count, trainer.schedule_steps)
    assert trainer.lr == pytest.approx(config.lr * next_factor)
    path = str(tmp_path / "run.ckpt")
    save_checkpoint(trainer, History(), path)
    resumed, _ = load_checkpoint(path)
    assert resumed.lr == pytest.approx(trainer.lr) and resumed.schedule_steps == trainer.schedule_steps


# ------------------------------------------------------------------ checks and the end
def test_checks_come_about_four_times_an_epoch_counted_in_steps():
    text = (SMALL_TEXT * 8)[:80_000]
    trainer = Trainer(TrainConfig.for_text(text, hidden_size=16, epochs=2))
    loop = TrainingLoop(trainer)
    checked = [loop.step().checked for _ in range(trainer.num_batches)]
    every = math.ceil(trainer.num_batches / CHECKS_PER_EPOCH)
    assert every >= MIN_CHECK_STEPS and loop.check_every == every
    expected = [(k + 1) % every == 0 or k + 1 == trainer.num_batches for k in range(trainer.num_batches)]
    assert checked == expected
    assert [s for s, _ in loop.history.val_losses] == [k + 1 for k, c in enumerate(expected) if c]
    article = TrainingLoop(Trainer(TrainConfig.article()))
    assert [article.step().checked for _ in range(6)] == [False, False, True] * 2  # epoch ends only


def test_a_small_text_run_with_no_flags_ends_by_itself_on_its_best_weights():
    """The fitted rule used to plan 200 epochs on an 11 KB licence and end on its worst weights."""
    config = TrainConfig.for_text(SMALL_TEXT, hidden_size=32, lr=3e-2)  # overfits within seconds
    assert config.patience > 0 and config.epochs <= 20
    trainer = Trainer(config)
    loop = TrainingLoop(trainer)
    reason = loop.run()
    history = loop.history
    assert reason in ("patience", "epochs")
    final = trainer.evaluate()
    best = min(v for _, v in history.val_losses)
    assert final == pytest.approx(best, abs=1e-6) and trainer.best_val == pytest.approx(best)
    if any(kind == "best_restored" for _, kind, _ in history.events):  # the best was put back:
        assert history.val_losses[-2][1] > best  # the last check had scored worse
    else:
        assert history.val_losses[-1][1] == pytest.approx(best)  # the last check was the best
    # continued (space on a finished run), it trains on with its patience anew
    trainer.config = trainer.config.replace(epochs=trainer.epoch + 2)
    assert loop.step().finished is None


class Recorder(Listener):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_step(self, loop, record, epoch_end):
        self.calls.append("step")

    def on_check(self, loop, val, sample):
        self.calls.append("check")

    def on_epoch_end(self, loop, epoch, mean_loss):
        self.calls.append(f"epoch {epoch}")

    def on_event(self, loop, event):
        self.calls.append(event.kind)


def test_a_listener_hears_steps_checks_and_epoch_ends_in_order():
    config = TrainConfig.default(epochs=2, val_fraction=0.3, text="MathMathMath" * 10)
    recorder = Recorder()
    TrainingLoop(Trainer(config), listener=recorder, end_at_best=False).run()
    assert recorder.calls.count("epoch 1") == recorder.calls.count("epoch 2") == 1
    assert recorder.calls[-2:] == ["check", "epoch 2"]
    assert recorder.calls.count("step") == 2 * Trainer(config).num_batches


# ------------------------------------------------------------------ the guard
def inject(loop: TrainingLoop, at_step: int, factor: float = 100.0):
    """lr x factor once step `at_step` is done, as a user typing a wild lr would."""
    real = loop.step

    def step():
        outcome = real()
        if loop.trainer.step_count == at_step and outcome.record is not None:
            loop.trainer.set_lr(loop.trainer.config.lr * factor)
        return outcome

    loop.step = step


def test_the_guard_undoes_a_divergence_puts_back_good_weights_and_halves_lr():
    config = small_config(epochs=6, lr=1e-2, hidden_size=64)
    trainer = Trainer(config)
    loop = TrainingLoop(trainer)
    at = 3 * trainer.num_batches + 3  # in the fourth epoch
    assert at > loop.guard_window // 2
    inject(loop, at)
    outcomes = [loop.step() for _ in range(6 * trainer.num_batches)]
    events = [e for o in outcomes for e in o.events if e.kind == "diverged"]
    assert events, "lr x100 went unnoticed"
    first = events[0]
    assert first.figures["back_to"] < first.figures["at_step"] == first.step and at < first.step
    assert trainer.config.lr == pytest.approx(1e-2)  # the lr of the good weights, then halved:
    assert trainer.lr_scale == pytest.approx(0.5 ** len(events))
    assert re.fullmatch(r"diverged at step \d+ \(loss \d\.\d\d(, best| > ln V) \d\.\d\d\): back to step \d+, "
                        r"lr \S+", first.message)
    assert len(first.message) <= 78
    assert ("diverged" in [k for _, k, _ in loop.history.events])
    # and the run learns on: its last epoch's loss is below its first's, far below ln V
    means = loop.history.epoch_losses
    assert means[-1] < means[0] and max(loop.history.losses[-trainer.num_batches:]) < trainer.uniform_loss


def test_the_guard_stays_quiet_on_a_healthy_run_of_tiny_noisy_batches():
    """B 1, T 4: a step's loss jumps by nats; the guard's mean spans 25,000 characters."""
    config = TrainConfig.default(text=SMALL_TEXT, epochs=1)
    loop = TrainingLoop(Trainer(config))
    for _ in range(3000):
        assert not loop.step().events


def test_a_nan_step_is_undone_by_the_guard_and_stops_the_run_with_it_off(monkeypatch):
    import gru_core.trainer as trainer_module

    real, calls = trainer_module.manual_step, [0]

    def poisoned(*args):
        loss, h = real(*args)
        calls[0] += 1
        return (loss * float("nan") if calls[0] == 8 else loss), h

    monkeypatch.setattr(trainer_module, "manual_step", poisoned)
    loop = TrainingLoop(Trainer(TrainConfig.default(lr=0.05)))
    outcomes = [loop.step() for _ in range(12)]
    assert outcomes[7].record is None and outcomes[7].events[0].kind == "diverged"
    assert "loss became NaN" in outcomes[7].events[0].message
    assert all(o.record is not None for o in outcomes[8:])
    calls[0] = 0
    off = TrainingLoop(Trainer(TrainConfig.default(lr=0.05, guard=False)))
    with pytest.raises(trainer_module.TrainingDiverged):
        for _ in range(12):
            off.step()


def test_the_cli_prints_the_recovery_and_ends_learning(monkeypatch):
    real_init = TrainingLoop.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        inject(self, 3 * self.trainer.num_batches + 3)

    monkeypatch.setattr(TrainingLoop, "__init__", init)
    out = io.StringIO()
    code = train_main(["--text", SMALL_TEXT, "--preset", "fitted", "--hidden", "64", "--epochs", "6",
                       "--every", "1"], out)
    text = out.getvalue()
    assert code == 0, text
    warning = next(line for line in text.splitlines() if line.startswith("warning: diverged at step"))
    assert re.search(r"back to step \d+, lr [0-9.e-]+$", warning)
    losses = [float(line.split()[1]) for line in text.splitlines() if line.startswith("Loss:")]
    assert losses[-1] < math.log(len(set(SMALL_TEXT)))


# ------------------------------------------------------------------ one run everywhere
def test_the_same_settings_give_the_same_losses_from_python_the_cli_and_the_session(tmp_path):
    config = small_config(epochs=2)
    loop = TrainingLoop(Trainer(config), end_at_best=False)
    loop.run()
    library = list(loop.history.epoch_losses)

    csv = tmp_path / "losses.csv"
    flags = ["--text", SMALL_TEXT, "--preset", "fitted", "--hidden", "16", "--epochs", "2",
             "--export-csv", str(csv), "--save-last"]
    assert train_main(flags, io.StringIO()) == 0
    rows = [line.split(",") for line in csv.read_text().splitlines()]
    col = rows[0].index("epoch_mean")
    cli = [float(r[col]) for r in rows[1:] if r[col]]

    with TrainingSession(config) as session:
        session.start()
        snap = session.wait_for(lambda s: s.state == "finished", timeout=120)
        app = list(snap.epoch_losses)
        samples = [s.text for s in snap.samples]
    assert library == cli == app  # to the bit: one loop, one thread policy, checks in steps
    assert samples == [t for t in _samples_of(config)]


def _samples_of(config: TrainConfig) -> list[str]:
    seen: list[str] = []

    class Keep(Listener):
        def on_check(self, loop, val, sample):
            seen.append(sample)

    TrainingLoop(Trainer(config), listener=Keep()).run()
    return seen


def test_trainer_uses_one_thread_on_a_small_machine(monkeypatch):
    from gru_core import threads

    assert threads.training_threads(1) == threads.training_threads(2) == 1
    assert threads.training_threads(8) == 8 and threads.training_threads(8, ui=True) == 7
    trainer = Trainer(TrainConfig.default())
    assert trainer.threads == threads.training_threads()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        trainer.step()
        assert torch.get_num_threads() == trainer.threads
        untouched = Trainer(TrainConfig.default(), threads=None)
        torch.set_num_threads(2)
        untouched.step()
        assert torch.get_num_threads() == 2  # None leaves the caller's setting alone
    finally:
        torch.set_num_threads(before)
