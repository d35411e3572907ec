"""Sampling text from the model: read the prime, then feed back each character produced.

The article's sampler fed the prime again at every step instead of the character it
had just produced; that, not too little training, is why it printed 'Matttttttttt'.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .data import Vocab
from .errors import GRUError
from .model import GRUModel

MAX_SAMPLE_CHARS = 100_000


@dataclass(frozen=True)
class Sample:
    """A prime and what the model wrote after it.

    text = prime + generated. probs[i] is the probability the model gave generated[i]
    when it picked it; hidden[i] [H] is the hidden state after reading generated[i]'s
    input (so hidden unit activations can colour the text).
    """

    prime: str
    generated: str
    probs: Tensor  # [n]
    hidden: Tensor  # [n, H]

    @property
    def text(self) -> str:
        return self.prime + self.generated


def check_sample_args(vocab: Vocab, prime: str, n: int, temperature: float, top_k: int | None) -> None:
    if not isinstance(prime, str) or not prime:
        raise GRUError("prime is empty; type at least one character to start from, e.g. 'Ma'")
    bad = vocab.unknown(prime)
    if bad:
        vocab.encode(prime)  # raises GRUError naming the unknown characters
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_SAMPLE_CHARS:
        raise GRUError(f"sample length must be a whole number from 0 to {MAX_SAMPLE_CHARS}; got {n!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
        0 <= temperature <= 100
    ):
        raise GRUError(f"temperature must be a number from 0 (argmax) to 100; got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise GRUError(f"top_k must be a whole number of at least 1, or None; got {top_k!r}")


@torch.no_grad()
def sample(
    model: GRUModel,
    vocab: Vocab,
    prime: str,
    n: int,
    temperature: float = 1.0,
    *,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    on_char=None,
) -> Sample:
    """Prime + n characters. temperature 0 takes the most likely character (argmax).

    `on_char(ch)`, if given, is called after each character (for streaming); if it
    returns False, sampling stops early.
    """
    check_sample_args(vocab, prime, n, temperature, top_k)
    x = vocab.encode(prime).to(model.device)
    h = model.zero_state(1)
    for x_t in x[:-1]:  # read the prime; its last character is the first input below
        h = model.gru_step(x_t.view(1), h).h
    x_t = x[-1:].clone()
    chars, probs, hidden = [], [], []
    for _ in range(n):
        h = model.gru_step(x_t, h).h
        logits = model.output(h)[0]  # [V]
        p = torch.softmax(logits.double(), dim=-1)
        if temperature == 0:
            idx = int(torch.argmax(p))
        else:
            scaled = logits.double() / temperature
            if top_k is not None and top_k < scaled.numel():
                kth = torch.topk(scaled, top_k).values[-1]
                scaled = scaled.masked_fill(scaled < kth, float("-inf"))
            q = torch.softmax(scaled, dim=-1).cpu()
            idx = int(torch.multinomial(q, 1, generator=generator))
        ch = vocab.chars[idx]
        chars.append(ch)
        probs.append(float(p[idx]))
        hidden.append(h[0].detach().to("cpu", copy=True))
        x_t = torch.tensor([idx], device=model.device)  # feed back what was produced
        if on_char is not None and on_char(ch) is False:
            break
    H = model.hidden_size
    return Sample(
        prime=prime,
        generated="".join(chars),
        probs=torch.tensor(probs, dtype=torch.float64),
        hidden=torch.stack(hidden) if hidden else torch.zeros(0, H),
    )
