"""Reading a text through the model: per-character confidence and hidden units, ranked."""

from __future__ import annotations

import pytest
import torch

from gru_core import GRUError, TrainConfig, Trainer
from gru_core.forward import forward_trace
from gru_core.inspect_units import (
    rank_units,
    read_held_out,
    read_through,
    validation_stretch,
)
from gru_core.sampling import sample as draw
from gru_core.session import TrainingSession


@pytest.fixture(scope="module")
def math_trainer() -> Trainer:
    """The default preset, trained: it knows 'MathMath' well."""
    trainer = Trainer(TrainConfig.default())
    for _ in range(trainer.config.epochs):
        trainer.run_epoch()
    return trainer


def test_probs_and_hidden_match_the_forward_pass(math_trainer):
    text = "MathMathMa"
    probs, hidden = read_through(math_trainer, None, text)
    assert probs.shape == (10,) and hidden.shape == (10, 16)
    x = math_trainer.vocab.encode(text)
    trace = forward_trace(math_trainer.model, x[:-1].view(-1, 1), x[1:].view(-1, 1),
                          math_trainer.model.zero_state(1))
    assert torch.allclose(hidden[:-1], trace.h[:, 0])
    expected = trace.y_hat[:, 0].gather(1, x[1:].view(-1, 1))[:, 0]
    assert torch.allclose(probs[1:], expected.double(), atol=1e-6)
    by = math_trainer.model.by.detach()
    assert probs[0] == pytest.approx(float(torch.softmax(by.double(), 0)[x[0]]))  # the guess from h = 0


def test_a_trained_model_is_confident_on_the_text_it_learned(math_trainer):
    probs, _ = read_through(math_trainer, None, "MathMathMath")
    assert float(probs[2:].min()) > 0.9  # after 'Ma', every next character is certain
    assert bool((probs > 0).all() and (probs <= 1).all())


def test_read_through_agrees_with_the_sampler(math_trainer):
    # the sampler runs the same equations in numpy (for speed): equal to float32 rounding
    generator = torch.Generator().manual_seed(3)
    sample = draw(math_trainer.model, math_trainer.vocab, "Ma", 12, temperature=1.0, generator=generator)
    probs, hidden = read_through(math_trainer, None, sample.text)
    p = len(sample.prime)
    assert torch.allclose(probs[p:], sample.probs, atol=1e-6, rtol=0)
    assert torch.allclose(hidden[p - 1 : -1], sample.hidden, atol=1e-6, rtol=0)


def test_a_bare_model_with_a_vocabulary_string(math_trainer):
    probs, hidden = read_through(math_trainer.model, math_trainer.vocab.chars, "Math")
    probs_t, hidden_t = read_through(math_trainer, None, "Math")
    assert torch.equal(probs, probs_t) and torch.equal(hidden, hidden_t)


def test_reading_changes_nothing_in_the_trainer():
    trainer = Trainer(TrainConfig.default())
    twin = Trainer(TrainConfig.default())
    trainer.step(), twin.step()
    h = trainer.h.clone()
    read_through(trainer, None, "MathMath" * 4)
    assert torch.equal(trainer.h, h)
    assert trainer.step().loss == twin.step().loss


def test_unknown_characters_empty_and_too_long_text(math_trainer):
    with pytest.raises(GRUError, match="'z' is not in the vocabulary"):
        read_through(math_trainer, None, "Mazh")
    probs, hidden = read_through(math_trainer, None, "")
    assert probs.shape == (0,) and hidden.shape == (0, 16)
    with pytest.raises(GRUError, match="limit is 100,000"):
        read_through(math_trainer, None, "M" * 100_001)
    with pytest.raises(GRUError, match="needs its vocabulary"):
        read_through(math_trainer.model, None, "Ma")
    with pytest.raises(GRUError, match="3 characters but the model was built for 4"):
        read_through(math_trainer.model, "Mat", "Ma")


def test_rank_units_puts_the_units_that_swing_first():
    n = 50
    t = torch.linspace(0, 6.28, n)
    hidden = torch.stack([
        torch.full((n,), 0.99),  # saturated, never moves: says nothing about the text
        0.1 * torch.sin(t),  # small swing
        0.9 * torch.sin(3 * t),  # large swing
        torch.zeros(n),  # dead
    ], dim=1)
    assert rank_units(hidden) == [2, 1, 0, 3]  # std: ties (0 and 3, both still) by index
    assert rank_units(hidden, by="mean_abs")[0] == 0  # the alternative favours saturation
    with pytest.raises(GRUError, match="rank units by one of std, mean_abs"):
        rank_units(hidden, by="max")
    with pytest.raises(GRUError, match=r"must be \[n, H\]"):
        rank_units(torch.zeros(5))


def test_ranked_units_of_a_trained_model_respond_to_the_text(math_trainer):
    _, hidden = read_through(math_trainer, None, "MathMathMathMath")
    order = rank_units(hidden)
    assert sorted(order) == list(range(16))
    top, bottom = hidden[:, order[0]], hidden[:, order[-1]]
    assert float(top.std()) >= float(bottom.std())
    # The top unit follows the 4-character rhythm of 'Math': same value every 4 characters.
    assert torch.allclose(top[4:8], top[8:12], atol=0.05)


def test_validation_stretch_is_held_out_text_when_there_is_some():
    text = "abcdefghij" * 20
    with_val = Trainer(TrainConfig.default(text=text, val_fraction=0.2, sample_prime="a"))
    assert validation_stretch(with_val, 30) == text[160:190]
    without = Trainer(TrainConfig.default(text=text, sample_prime="a"))
    assert validation_stretch(without, 30) == text[:30]


def test_read_held_out_reads_the_validation_text_through_a_copy_between_steps():
    text = "abcdefghij" * 20
    with TrainingSession(TrainConfig.default(text=text, val_fraction=0.2, sample_prime="a"),
                         max_rate=1000) as session:
        session.step()
        session.wait_for(lambda s: s.step == 1, timeout=20)
        reading = read_held_out(session, 30)
        expected = session.with_trainer(lambda trainer, history: read_through(trainer, None, text[160:190]))
    assert reading.held_out and reading.text == text[160:190]
    assert torch.equal(reading.probs, expected[0]) and torch.equal(reading.hidden, expected[1])
