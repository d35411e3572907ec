"""Sampling feeds back what it produced (the article re-fed its prime)."""

import pytest
import torch

from gru_core import TrainConfig, Trainer
from gru_core.sampling import sample


def test_sample_returns_prime_plus_n_and_is_repeatable_with_a_seed():
    trainer = Trainer(TrainConfig.default())
    a = trainer.sample("Ma", 30, generator=torch.Generator().manual_seed(4))
    b = trainer.sample("Ma", 30, generator=torch.Generator().manual_seed(4))
    assert a == b and a.startswith("Ma") and len(a) == 32
    assert set(a) <= set("Math")


def test_generated_characters_are_fed_back():
    """With the prime re-fed (the article's bug), a trained model repeats one character."""
    trainer = Trainer(TrainConfig.default())
    for _ in range(60):
        trainer.run_epoch()
    assert trainer.sample("Ma", 10, temperature=0) == "MathMathMath"
    assert trainer.sample("t", 7, temperature=0) == "thMathMa"


def test_detailed_sample_gives_probabilities_and_hidden_states():
    trainer = Trainer(TrainConfig.default())
    s = sample(trainer.model, trainer.vocab, "Ma", 12, temperature=0)
    assert s.text == s.prime + s.generated and len(s.generated) == 12
    assert s.probs.shape == (12,) and s.hidden.shape == (12, trainer.config.hidden_size)
    assert bool(((s.probs > 0) & (s.probs <= 1)).all())


def test_top_k_one_is_argmax():
    trainer = Trainer(TrainConfig.default())
    assert trainer.sample("Ma", 15, temperature=1.0, top_k=1) == trainer.sample("Ma", 15, temperature=0)


def _first_char_distribution(trainer, prime, temperature):
    model = trainer.model
    h = model.zero_state(1)
    for x_t in trainer.vocab.encode(prime):
        h = model.gru_step(x_t.view(1), h).h
    with torch.no_grad():
        return torch.softmax(model.output(h)[0].double() / temperature, dim=-1)


def test_draws_follow_softmax_of_logits_over_temperature():
    trainer = Trainer(TrainConfig.default(hidden_size=8, seed=5))
    with torch.no_grad():  # spread the logits so that the four characters differ clearly
        trainer.model.by.copy_(torch.tensor([1.5, 0.0, -1.0, 0.5]))
    n = 3000
    for temperature in (0.7, 1.5):
        want = _first_char_distribution(trainer, "Ma", temperature)
        gen = torch.Generator().manual_seed(11)
        counts = torch.zeros(trainer.vocab.size, dtype=torch.float64)
        for _ in range(n):
            counts[trainer.vocab.encode(trainer.sample("Ma", 1, temperature, generator=gen)[-1])] += 1
        got = counts / n
        sigma = (want * (1 - want) / n).sqrt()
        assert bool(((got - want).abs() <= 4 * sigma + 1e-9).all()), (got, want)


def test_top_k_only_ever_picks_among_the_k_most_likely():
    trainer = Trainer(TrainConfig.default(hidden_size=8, seed=5))
    want = _first_char_distribution(trainer, "Ma", 1.0)
    allowed = {trainer.vocab.chars[i] for i in torch.topk(want, 2).indices.tolist()}
    gen = torch.Generator().manual_seed(2)
    picks = {trainer.sample("Ma", 1, 1.0, top_k=2, generator=gen)[-1] for _ in range(300)}
    assert picks == allowed


def test_a_long_prime_stops_when_the_caller_cancels():
    from gru_core.sampling import PRIME_CHECK, SamplingCancelled, sample

    trainer = Trainer(TrainConfig.default())
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(SamplingCancelled, match="while reading the prime"):
        sample(trainer.model, trainer.vocab, "Math" * 5000, 10, cancelled=cancelled)
    assert len(asked) == 3  # asked every PRIME_CHECK characters, not every one
    assert sample(trainer.model, trainer.vocab, "Ma" * PRIME_CHECK, 5, cancelled=lambda: False).text[-5:]


@pytest.mark.parametrize("reset", ["before", "after"])
def test_the_fast_sampler_follows_the_models_equations(reset):
    """The sampler's numpy loop gives the hidden states and probabilities gru_step gives."""
    trainer = Trainer(TrainConfig.default(hidden_size=24, reset=reset, seed=3))
    model = trainer.model
    with torch.no_grad():  # biases away from zero, so that each one's place in the equations counts
        for p in (model.b, model.bUh, model.by):
            p.copy_(torch.linspace(-1, 1, p.numel()))
    s = sample(model, trainer.vocab, "Ma", 50, 1.0, generator=torch.Generator().manual_seed(7))
    h, hidden, probs = model.zero_state(1), [], []
    with torch.no_grad():
        for x_t in trainer.vocab.encode(s.text)[:-1]:
            h = model.gru_step(x_t.view(1), h).h
            hidden.append(h[0])
            probs.append(torch.softmax(model.output(h)[0].double(), dim=-1))
    picked = trainer.vocab.encode(s.generated)
    want_hidden = torch.stack(hidden[1:])  # the states after the prime's last character onwards
    want_probs = torch.stack(probs[1:])[torch.arange(len(picked)), picked]
    assert torch.allclose(s.hidden, want_hidden, atol=1e-5)
    assert torch.allclose(s.probs, want_probs, atol=1e-5)


def test_streamed_characters_are_the_sample_and_false_stops_it():
    trainer = Trainer(TrainConfig.default())
    streamed = []
    s = sample(trainer.model, trainer.vocab, "Ma", 40, generator=torch.Generator().manual_seed(1),
               on_char=streamed.append)
    assert "".join(streamed) == s.generated and len(s.generated) == 40

    shown = []

    def five_then_stop(ch: str) -> bool:
        shown.append(ch)
        return len(shown) < 5

    s = sample(trainer.model, trainer.vocab, "Ma", 40, on_char=five_then_stop)
    assert s.generated == "".join(shown) and len(s.generated) == 5
    assert s.probs.shape == (5,) and s.hidden.shape == (5, trainer.config.hidden_size)


def test_a_seed_gives_the_same_long_sample_and_another_seed_another():
    """Repeatable past the first block of noise draws; seeds are not all alike."""
    trainer = Trainer(TrainConfig.default(hidden_size=8))
    runs = [trainer.sample("M", 700, 1.5, generator=torch.Generator().manual_seed(s)) for s in (5, 5, 6)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
