"""Every mistake a user can make is a GRUError that names the value and what would work."""

import math

import pytest
import torch

from gru_core import GRUError, TrainConfig, Trainer
from gru_core.config import parse_field


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(text=""), ["text is empty"]),
        (dict(text="abc", seq_len=4), ["3 characters", "seq_len 4", "needs at least 5"]),
        (dict(text="abcdefghij", batch_size=5, seq_len=2), ["batch_size 5", "needs at least 11"]),
        (dict(batch_size=0), ["batch_size", "from 1", "got 0"]),
        (dict(hidden_size=0), ["hidden_size", "got 0"]),
        (dict(seq_len=-3), ["seq_len", "got -3"]),
        (dict(lr=0.0), ["lr", "greater than 0", "got 0.0"]),
        (dict(lr=-1.0), ["lr", "got -1.0"]),
        (dict(lr=math.nan), ["lr", "finite", "nan"]),
        (dict(lr="fast"), ["lr must be a number", "'fast'"]),
        (dict(optimizer="rmsprop"), ["optimizer must be one of sgd, adam", "'rmsprop'"]),
        (dict(reset="middle"), ["reset must be one of before, after", "'middle'"]),
        (dict(backward="magic"), ["backward must be one of autograd, manual"]),
        (dict(hidden_size=2.5), ["hidden_size must be a whole number", "2.5"]),
        (dict(vocab="ab"), ["lacks characters of the text", "'M'"]),
    ],
)
def test_bad_config_raises_grurror_naming_value_and_fix(changes, words):
    with pytest.raises(GRUError) as info:
        TrainConfig.default(**changes)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_prime_with_unknown_characters_names_them():
    trainer = Trainer(TrainConfig.default())
    with pytest.raises(GRUError) as info:
        trainer.sample("Mxyx", 5)
    message = str(info.value)
    assert "'x', 'y'" in message and "not in the vocabulary" in message
    assert "known characters: 'Maht'" in message


def test_empty_prime_says_what_to_type():
    with pytest.raises(GRUError, match="prime is empty"):
        Trainer(TrainConfig.default()).sample("", 5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(GRUError, match="no CUDA GPU is available; use --device cpu"):
        Trainer(TrainConfig.default(device="cuda"))


def test_parse_field_checks_type_and_range_as_typed():
    assert parse_field("hidden_size", " 128 ") == 128
    assert parse_field("lr", "2e-3") == 0.002
    assert parse_field("clip", "off") == 0.0
    assert parse_field("optimizer", "Adam") == "adam"
    with pytest.raises(GRUError, match="whole number"):
        parse_field("hidden_size", "12.5")
    with pytest.raises(GRUError, match="got 0"):
        parse_field("batch_size", "0")
    with pytest.raises(GRUError, match="a number such as"):
        parse_field("lr", "quick")


def test_replace_validates_and_rejects_unknown_fields():
    cfg = TrainConfig.default()
    assert cfg.replace(lr=0.1).lr == 0.1 and cfg.lr == 0.05
    with pytest.raises(GRUError, match="unknown config field"):
        cfg.replace(learning_rate=0.1)
    with pytest.raises(GRUError):
        cfg.replace(epochs=0)
