"""Sampling feeds back what it produced (the article re-fed its prime)."""

import torch

from gru_core import TrainConfig, Trainer


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
    s = trainer.sample_detailed("Ma", 12, temperature=0)
    assert s.text == s.prime + s.generated and len(s.generated) == 12
    assert s.probs.shape == (12,) and s.hidden.shape == (12, trainer.config.hidden_size)
    assert bool(((s.probs > 0) & (s.probs <= 1)).all())


def test_top_k_one_is_argmax():
    trainer = Trainer(TrainConfig.default())
    assert trainer.sample("Ma", 15, temperature=1.0, top_k=1) == trainer.sample("Ma", 15, temperature=0)
