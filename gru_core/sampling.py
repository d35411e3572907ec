"""Sampling text from the model: read the prime, then feed back each character produced.

The article's sampler fed the prime again at every step instead of the character it
had just produced; that, not too little training, is why it printed 'Matttttttttt'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .data import Vocab
from .errors import GRUError
from .model import GRUModel

MAX_SAMPLE_CHARS = 100_000
PRIME_CHECK = 256  # prime characters read between two looks at `cancelled`


class SamplingCancelled(GRUError):
    """The caller no longer wants the sample (a newer one was asked for, or the app quits)."""


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
    cancelled: Callable[[], bool] | None = None,
) -> Sample:
    """Prime + n characters. temperature 0 takes the most likely character (argmax).

    `on_char(ch)`, if given, is called after each character (for streaming); if it
    returns False, sampling stops early. `cancelled()`, if given, is asked every
    PRIME_CHECK characters of a long prime (100,000 pasted characters take seconds to
    read): True stops with SamplingCancelled.

    The prime is read with GRUModel.gru_step. The characters after it follow the same
    equations, written for speed (one character is a chain of a dozen small operations,
    so their per-call cost is what counts; a 2,000-character sample takes well under a
    second):
    - on the CPU with numpy, whose calls cost about a microsecond where torch's cost
      several (the weights are copied there once per sample, from a GPU too);
    - the input side of the gates, x W + b, is one row of (W + b);
    - sigmoid(a) is written 0.5 * (1 + tanh(a / 2)), the same function without overflow;
    - the draw is the Gumbel-max trick: argmax(logits / temperature + g), with g drawn
      from Gumbel(0, 1) for all n characters at once from `generator`, is a draw from
      softmax(logits / temperature), with no softmax or search per character;
    - the probabilities the model gave its picks are one softmax over all rows at the end.
    """
    check_sample_args(vocab, prime, n, temperature, top_k)
    x = vocab.encode(prime).to(model.device)
    h0 = model.zero_state(1)
    for k, x_t in enumerate(x[:-1]):  # read the prime; its last character is the first input below
        if cancelled is not None and k % PRIME_CHECK == 0 and cancelled():
            raise SamplingCancelled(f"sampling stopped while reading the prime (at {k:,} of {len(prime):,})")
        h0 = model.gru_step(x_t.view(1), h0).h
    H, V = model.hidden_size, model.vocab_size
    as_np = lambda t: t.detach().to("cpu").numpy()  # noqa: E731
    xp_rows = as_np(model.W + model.b)  # [V, 3H]: row c is x W + b for character c
    xp_zr, xp_h = np.ascontiguousarray(xp_rows[:, : 2 * H]), np.ascontiguousarray(xp_rows[:, 2 * H :])
    U = as_np(model.U)
    U_zr, Uh = np.ascontiguousarray(U[:, : 2 * H]), np.ascontiguousarray(U[:, 2 * H :])
    Wy, by, bUh = as_np(model.Wy), as_np(model.by), as_np(model.bUh)
    reset_after = model.reset == "after"
    hidden = np.empty((n, H), dtype=xp_rows.dtype)
    logits = np.empty((n, V), dtype=xp_rows.dtype)
    chosen: list[int] = []
    if temperature > 0:
        # argmax(logits / temperature + g) == argmax(h Wy + (by + temperature * g)): by and
        # the noise go into one row per character, drawn before the loop.
        u = torch.rand(n, V, generator=generator, dtype=torch.float64).clamp_(min=1e-300)
        gumbel = (-(-u.log()).log()).numpy()  # -log(-log u)
        noise = (by + temperature * gumbel).astype(logits.dtype)
        top = top_k is not None and top_k < V
    h = as_np(h0)[0]
    idx = int(x[-1])
    for i in range(n):
        a = h @ U_zr
        a += xp_zr[idx]
        a *= 0.5
        zr = np.tanh(a, out=a)
        zr += 1.0
        zr *= 0.5  # [z | r] = sigmoid(x [Wz|Wr] + h [Uz|Ur] + [bz|br])
        z, r = zr[:H], zr[H:]
        if reset_after:
            hn = h @ Uh
            hn += bUh
            hn *= r
        else:
            hn = (r * h) @ Uh
        hn += xp_h[idx]
        h_tilde = np.tanh(hn, out=hn)
        h = h_tilde + z * (h - h_tilde)  # z h + (1 - z) h_tilde
        hidden[i] = h
        row = h @ Wy  # the logits less by (added to all rows at the end)
        logits[i] = row
        if temperature == 0:
            idx = int((row + by).argmax())
        else:
            scores = row + noise[i]
            if top:
                shown = row + by
                scores[shown < np.partition(shown, V - top_k)[V - top_k]] = -np.inf
            idx = int(scores.argmax())
        chosen.append(idx)
        if on_char is not None and on_char(vocab.chars[idx]) is False:
            break
    done = len(chosen)
    picked = torch.tensor(chosen, dtype=torch.long)
    rows = torch.from_numpy(logits[:done] + by).to(torch.float64)
    probs = torch.softmax(rows, dim=-1).gather(1, picked.view(-1, 1)).view(-1)
    return Sample(
        prime=prime,
        generated="".join(vocab.chars[i] for i in chosen),
        probs=probs,
        hidden=torch.from_numpy(hidden[:done].copy()),
    )
