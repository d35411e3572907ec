"""Fuzzing gru_core's inputs: any value gives a valid run or a GRUError, nothing else."""

import dataclasses
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gru_core import GRUError, TrainConfig, Trainer
from gru_core.cli import CONFIG_FLAGS, config_from_args, make_parser
from gru_core.config import FIELD_PARSERS, parse_field
from gru_core.trainer import TrainingDiverged

FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.lists(st.integers(), max_size=3), st.just(""), st.just("adam"), st.just("after"),
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _small(cfg: TrainConfig) -> bool:
    """Cheap enough to build a Trainer for in a fuzz loop."""
    return cfg.hidden_size <= 64 and len(cfg.text) <= 5000 and cfg.device == "cpu"


@FUZZ
@given(field=st.sampled_from(FIELDS), value=ANY_VALUE)
def test_any_value_for_any_field_is_valid_or_a_grurror(field, value):
    try:
        cfg = TrainConfig.default(**{field: value})
    except GRUError as exc:
        assert str(exc)  # a message, never an empty one
        return
    if _small(cfg):
        trainer = Trainer(cfg)
        trainer.step()


@FUZZ
@given(field=st.sampled_from(sorted(FIELD_PARSERS)), text=st.text(max_size=40))
def test_any_typed_text_in_the_form_is_a_value_or_a_grurror(field, text):
    try:
        value = parse_field(field, text)
    except GRUError as exc:
        assert field in str(exc) or "got" in str(exc)
        return
    try:  # a value that passed the field check can still make the whole config invalid
        TrainConfig.default().replace(**{field: value})
    except GRUError as exc:
        assert field in ("batch_size", "seq_len", "val_fraction") and "needs at least" in str(exc)


FLAGS = [
    "--hidden", "--seq-len", "--batch", "--lr", "--optimizer", "--momentum", "--epochs", "--seed", "--reset",
    "--backward", "--clip", "--device", "--dtype", "--val", "--sample-len", "--prime", "--text", "--preset",
    "--bogus",
]


# A value each flag takes, beside any text: with any text alone a flag almost never gets a
# valid value, and "every flag given wins" below would go untried.
GOOD_VALUES = {
    "--hidden": ["1", "3", "7"], "--seq-len": ["1", "2", "3"], "--batch": ["1", "2"],
    "--lr": ["0.5", "1e-3"],
    "--optimizer": ["adam", "SGD"], "--momentum": ["0", "0.5"], "--epochs": ["1", "7"], "--seed": ["0", "3"],
    "--reset": ["before", "after"], "--backward": ["manual", "autograd"], "--clip": ["0", "5"],
    "--device": ["cpu"], "--dtype": ["float32", "float64"], "--val": ["0", "0.1"],
    "--sample-len": ["0", "20"],
    "--prime": ["M", "Ma"], "--text": ["MathMathMath", "the cat sat on the mat"],
    "--preset": ["article", "default", "fitted"],
}
FLAG_AND_VALUE = st.sampled_from(FLAGS).flatmap(lambda flag: st.tuples(st.just(flag), st.one_of(
    st.sampled_from(GOOD_VALUES.get(flag, ["1"])), st.sampled_from(GOOD_VALUES.get(flag, ["1"])),
    st.text(max_size=12),
)))
ARGV = st.lists(st.one_of(FLAG_AND_VALUE, FLAG_AND_VALUE, FLAG_AND_VALUE, st.tuples(st.text(max_size=12))),
                max_size=5).map(lambda parts: [word for part in parts for word in part])


@FUZZ
@given(argv=ARGV)
def test_any_command_line_is_a_config_or_a_grurror(argv):
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
        cfg = config_from_args(args)
    except GRUError as exc:
        message = str(exc)
        assert message and "\n" not in message  # one line: what was wrong and what would work
        return
    except SystemExit as exc:  # --help is the one way out that is not an error
        assert exc.code == 0 and any(a in ("-h", "--help") for a in argv)
        return
    # every flag the user gave wins over the preset and anything chosen for them
    for name in CONFIG_FLAGS:
        given = getattr(args, name)
        if given is not None:
            assert getattr(cfg, name) == given, name


@pytest.fixture(scope="module")
def trained():
    trainer = Trainer(TrainConfig.default())
    trainer.run_epoch()
    return trainer


@FUZZ
@given(prime=st.text(max_size=200), n=st.integers(-5, 40), temperature=st.floats(-1, 5))
def test_any_prime_gives_a_sample_or_a_grurror(trained, prime, n, temperature):
    try:
        text = trained.sample(prime, n, temperature)
    except GRUError as exc:
        assert str(exc)
        return
    assert text.startswith(prime) and len(text) == len(prime) + n


def test_control_characters_and_very_long_primes(trained):
    with pytest.raises(GRUError, match=r"'\\x00'"):
        trained.sample("Ma\x00\x1b[2J", 5)
    long_prime = "Math" * 5000  # 20,000 characters
    assert trained.sample(long_prime, 3).startswith(long_prime)


# ------------------------------------------------------------ numerical faults
def _poison(trainer: Trainer, value: float) -> None:
    with torch.no_grad():
        trainer.model.Wy[0, 0] = value


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_loss_is_caught_before_the_update(dtype, bad):
    trainer = Trainer(TrainConfig.default(dtype=dtype, optimizer="sgd", lr=5.0, clip=0.0))
    trainer.step()
    _poison(trainer, bad)
    weights = [p.detach().clone() for p in trainer.model.parameters()]
    with pytest.raises(TrainingDiverged) as info:
        trainer.step()
    message = str(info.value)
    assert "at step 2" in message and "lower the learning rate (now 5)" in message
    assert trainer.step_count == 1
    for p, q in zip(trainer.model.parameters(), weights):
        assert torch.allclose(p.detach(), q, rtol=0, atol=0, equal_nan=True)


def test_an_update_that_makes_weights_infinite_is_rolled_back(monkeypatch):
    trainer = Trainer(TrainConfig.default(optimizer="sgd", lr=1.0))
    trainer.step()
    weights = [p.detach().clone() for p in trainer.model.parameters()]

    def explode():
        with torch.no_grad():
            trainer.model.W.mul_(float("inf"))

    monkeypatch.setattr(trainer._update, "step", explode)  # the update over the flat storage
    with pytest.raises(TrainingDiverged, match="weights became infinite at step 2"):
        trainer.step()
    assert all(torch.equal(p.detach(), q) for p, q in zip(trainer.model.parameters(), weights))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_edge_sizes_train(dtype):
    # hidden size 1; a text of two distinct characters; a batch of one time step
    for cfg in (
        TrainConfig.default(hidden_size=1, dtype=dtype),
        TrainConfig.default(text="abababababababab", dtype=dtype, seq_len=3, batch_size=2),
        TrainConfig.default(seq_len=1, batch_size=1, dtype=dtype),
    ):
        trainer = Trainer(cfg)
        losses = [r.loss for r in trainer.run_epoch()]
        assert all(math.isfinite(x) for x in losses)


def test_sequence_longer_than_the_text_says_so():
    with pytest.raises(GRUError, match="needs at least 101"):
        TrainConfig.default(seq_len=100)
