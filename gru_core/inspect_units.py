"""Seeing what the hidden units learn: read a text through the model, unit by unit.

As in Karpathy, Johnson and Fei-Fei (2015), "Visualizing and Understanding Recurrent
Networks": colour each character of a stretch of text by the probability the model gave
it, or by the activation of one hidden unit after reading it, and some units turn out to
track quotes, line ends or word boundaries.

    probs, hidden = read_through(trainer, None, text)
    probs[i]      the probability the model gave text[i] before reading it, having read
                  text[:i] from a zero hidden state (probs[0] is its guess from h = 0:
                  softmax(by), as nothing has been read yet)
    hidden[i]     [H] the hidden state h after reading text[i]; every unit is in (-1, 1)

Relation to sampling.Sample (which starts from the same zero state): for
text = sample.prime + sample.generated and p = len(sample.prime),
probs[p + i] == sample.probs[i] and hidden[p + i - 1] == sample.hidden[i].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .data import Vocab
from .errors import GRUError
from .model import GRUModel

if TYPE_CHECKING:
    from .session import TrainingSession
    from .trainer import Trainer

MAX_READ_CHARS = 100_000
RANKINGS = ("std", "mean_abs")


@torch.no_grad()
def read_through(
    trainer_or_model: "Trainer | GRUModel", vocab: Vocab | str | None, text: str,
    h0: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """(probs [n] float64, hidden [n, H]) for the n characters of text; see the module docstring.

    vocab may be None when a Trainer is given (its vocabulary is used). The weights are
    only read; the caller makes sure nothing writes them meanwhile (a session: use
    read_held_out, which reads a copy).
    """
    model, vocab = _model_and_vocab(trainer_or_model, vocab)
    if not isinstance(text, str):
        raise GRUError(f"text to read must be a string; got {type(text).__name__}")
    if len(text) > MAX_READ_CHARS:
        raise GRUError(f"text to read has {len(text):,} characters; the limit is {MAX_READ_CHARS:,}")
    x = vocab.encode(text).to(model.device)  # GRUError naming any unknown character
    H = model.hidden_size
    h = model.zero_state(1) if h0 is None else h0.reshape(1, H).to(model.device, model.dtype)
    probs = torch.empty(len(text), dtype=torch.float64)
    hidden = torch.empty(len(text), H, dtype=model.dtype)
    for i, x_t in enumerate(x):
        p = torch.softmax(model.output(h)[0].double(), dim=-1)  # [V], the guess before reading
        probs[i] = p[x_t]
        h = model.gru_step(x_t.view(1), h).h
        hidden[i] = h[0].cpu()
    return probs, hidden


@dataclass(frozen=True)
class HeldOutReading:
    """A stretch of held-out text read through a session's model (see read_held_out)."""

    text: str
    probs: Tensor  # [n] float64
    hidden: Tensor  # [n, H]
    held_out: bool  # False: the run has no validation part, so this is training text


def read_held_out(session: "TrainingSession", n: int = 400) -> HeldOutReading:
    """read_through of validation_stretch(trainer, n), on a copy of the session's weights
    taken between two steps (training goes on meanwhile)."""
    model, vocab, text, held_out = session.with_trainer(lambda trainer, history: (
        trainer.model.detached_copy(), trainer.vocab, validation_stretch(trainer, n),
        trainer.val_X is not None))
    probs, hidden = read_through(model, vocab, text)
    return HeldOutReading(text, probs, hidden, held_out)


def rank_units(hidden: Tensor, by: str = "std") -> list[int]:
    """Unit indices, the most responsive first.

    by="std" (default): the standard deviation of each unit over the text. A unit that
    swings as the text changes ranks high; one that sits still, even at +-1 (saturated),
    says nothing about the text and ranks low. by="mean_abs": the mean |activation|,
    which favours saturated units. Ties keep the lower index first.
    """
    hidden = _check_hidden(hidden)
    if by == "std":
        score = hidden.double().std(dim=0, unbiased=False)
    elif by == "mean_abs":
        score = hidden.double().abs().mean(dim=0)
    else:
        raise GRUError(f"rank units by one of {', '.join(RANKINGS)}; got {by!r}")
    order = sorted(range(hidden.shape[1]), key=lambda k: (-float(score[k]), k))
    return order


def validation_stretch(trainer: "Trainer", n: int = 400) -> str:
    """The first n characters of the validation part (of the text, when there is none)."""
    config = trainer.config
    held_out = config.text[config.train_chars:] if trainer.val_X is not None else ""
    return (held_out or config.text)[:n]


def _model_and_vocab(source: "Trainer | GRUModel", vocab: Vocab | str | None) -> tuple[GRUModel, Vocab]:
    if isinstance(source, GRUModel):
        model = source
        if vocab is None:
            raise GRUError("reading a text through a bare model needs its vocabulary")
    else:
        model = getattr(source, "model", None)
        if not isinstance(model, GRUModel):
            raise GRUError(f"read_through takes a Trainer or a GRUModel; got {type(source).__name__}")
        vocab = source.vocab if vocab is None else vocab
    vocab = Vocab(vocab) if isinstance(vocab, str) else vocab
    if vocab.size != model.vocab_size:
        raise GRUError(f"the vocabulary has {vocab.size} characters but the model was built for "
                       f"{model.vocab_size}")
    return model, vocab


def _check_hidden(hidden: Tensor) -> Tensor:
    if not isinstance(hidden, Tensor) or hidden.dim() != 2 or hidden.shape[0] == 0:
        shape = tuple(hidden.shape) if isinstance(hidden, Tensor) else type(hidden).__name__
        raise GRUError(f"hidden states must be [n, H] with n >= 1; got {shape}")
    return hidden
