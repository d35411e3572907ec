"""Validation: a held-out end of the text, scored without touching the weights, and said when off."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from gru_core import TrainConfig, Trainer
from gru_core.corpora import load_corpus


def unigram_loss(trainer: Trainer) -> float:
    """Cross-entropy on the validation targets of guessing each character by its frequency
    in the training part (add-one smoothing, so a character unseen in training costs a
    finite amount). A model has learned something about order only once it beats this."""
    config = trainer.config
    counts = Counter(config.text[: config.train_chars])
    total = sum(counts.values()) + trainer.vocab.size
    log_p = torch.tensor([math.log((counts[c] + 1) / total) for c in trainer.vocab.chars],
                         dtype=torch.float64)
    targets = trainer.vocab.encode(config.text[config.train_chars + 1:])
    return float(-log_p[targets].mean())


def test_training_on_the_stdlib_corpus_beats_the_unigram_baseline_on_held_out_text():
    text = load_corpus("stdlib")
    config = TrainConfig.default(text=text, hidden_size=64, batch_size=16, seq_len=32, lr=1e-2,
                                 optimizer="adam", val_fraction=0.1, sample_prime=text[0])
    trainer = Trainer(config)
    baseline = unigram_loss(trainer)
    start = trainer.evaluate()
    assert start == pytest.approx(trainer.uniform_loss, abs=0.05)  # untrained: a uniform guess
    assert baseline < start - 1.0  # the baseline itself is well below ln V on code
    val = start
    for _ in range(6):  # at most 150 steps, under half of one epoch
        for _ in range(25):
            trainer.step()
        val = trainer.evaluate()
        if val < baseline - 0.1:
            break
    assert val < baseline - 0.1, f"validation loss {val:.3f} vs unigram {baseline:.3f}"
    assert trainer.epoch == 0  # it generalised before seeing all of the training text once


def test_the_validation_part_is_the_end_of_the_text_and_is_never_trained_on():
    rng = torch.Generator().manual_seed(0)
    text = "".join(chr(97 + int(i)) for i in torch.randint(0, 26, (400,), generator=rng))
    config = TrainConfig.default(text=text, seq_len=5, batch_size=2, val_fraction=0.2, sample_prime="a")
    trainer = Trainer(config)
    assert config.train_chars == 320
    train_text, val_text = text[:320], text[320:]
    # every held-out character after the first is a target exactly once, in order
    stream_order = lambda t: t.T[trainer.val_mask.T]  # noqa: E731  [S, L] rows, padding dropped
    assert trainer.vocab.decode(stream_order(trainer.val_X)) == val_text[:-1]
    assert trainer.vocab.decode(stream_order(trainer.val_Y)) == val_text[1:]
    assert trainer.val_chars == len(val_text) - 1
    for b in range(config.batch_size):  # each training stream, inputs and targets, lies in text[:320]
        assert trainer.vocab.decode(trainer.X[:, :, b].flatten()) in train_text
        assert trainer.vocab.decode(trainer.Y[:, :, b].flatten()) in train_text
    assert trainer.vocab.decode(stream_order(trainer.val_Y)) not in train_text


def test_evaluate_changes_nothing_the_next_step_sees():
    text = load_corpus("zen")
    config = TrainConfig.default(text=text, hidden_size=16, seq_len=8, batch_size=4, val_fraction=0.1,
                                 sample_prime="T")
    a, b = Trainer(config), Trainer(config)
    for _ in range(3):
        a.step(), b.step()
    h_before = a.h.clone()
    weights_before = [p.detach().clone() for p in a.model.parameters()]
    assert a.evaluate() == a.evaluate()  # the same number twice: no state moved
    assert torch.equal(a.h, h_before)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), weights_before))
    assert a.step().loss == b.step().loss


def test_a_text_too_short_to_validate_says_so():
    text = "MathMath" * 5  # 40 characters: 3% is 1, which predicts nothing
    trainer = Trainer(TrainConfig.default(text=text, val_fraction=0.03))
    assert trainer.val_X is None and trainer.evaluate() is None
    assert trainer.val_note is not None
    assert "validation off" in trainer.val_note and "1 characters" in trainer.val_note


def test_a_short_held_out_part_is_still_scored_in_full():
    text = "MathMath" * 5  # 40 characters: 10% is 4, fewer than seq_len 4 + 1, still 3 predictions
    trainer = Trainer(TrainConfig.default(text=text, val_fraction=0.1))
    assert trainer.val_note is None and trainer.val_chars == 3
    assert trainer.evaluate() == pytest.approx(trainer.uniform_loss, abs=0.1)


def test_a_fraction_that_rounds_to_nothing_says_so_too():
    trainer = Trainer(TrainConfig.default(text="MathMath" * 5, val_fraction=0.01))
    assert trainer.evaluate() is None
    assert "0 characters" in trainer.val_note


def test_no_note_when_validation_runs_or_was_not_asked_for():
    long_text = "MathMath" * 40
    on = Trainer(TrainConfig.default(text=long_text, val_fraction=0.1))
    assert on.val_note is None and on.evaluate() is not None
    off = Trainer(TrainConfig.default(text=long_text, val_fraction=0.0))
    assert off.val_note is None and off.evaluate() is None
