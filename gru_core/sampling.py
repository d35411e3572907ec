"""Sampling text from the model: read the prime, then feed back each character produced.

The article's sampler fed the prime again at every step instead of the character it
had just produced; that, not too little training, is why it printed 'Matttttttttt'.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import cell
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


NOISE_BLOCK = 256  # Gumbel noise rows drawn at a time (a sample stopped early draws little)
_BLAS_THREADS_SET = False


def one_thread_numpy_blas() -> bool:
    """Ask the OpenBLAS bundled with numpy to use one thread; True if it could be asked.

    A character's products ([H] x [H, 3H]) are too small to share between cores: with
    two threads OpenBLAS hands each product over and waits for it, which at H=512 costs
    3x the product itself, and on a busy machine a scheduler slice (the 2,000-character
    sample took 0.27 s instead of 0.08 s beside other work). gru_core does no other
    numpy matrix work (training is torch, whose own thread pool this leaves alone), so
    this is set once for the process. A numpy built on another BLAS is left as it is.
    """
    global _BLAS_THREADS_SET
    if _BLAS_THREADS_SET:
        return True
    here = Path(np.__file__).parent
    for path in (*here.parent.glob("numpy.libs/*openblas*"), *here.glob(".dylibs/*openblas*")):
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            set_threads = getattr(lib, name, None)
            if set_threads is not None:
                set_threads(1)
                _BLAS_THREADS_SET = True
                return True
    return False


class GumbelNoise:
    """Rows by + temperature * g, g ~ Gumbel(0, 1) [V], drawn NOISE_BLOCK rows at a time.

    The numpy generator is seeded from `generator` (torch's global one if None): one
    draw from it per sample, so a seeded generator gives the same sample again.
    """

    def __init__(self, generator: torch.Generator | None, temperature: float, by: np.ndarray) -> None:
        seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator))
        self._rng = np.random.default_rng(seed)
        self._temperature, self._by = temperature, by
        self._block = np.empty((0, by.shape[0]), dtype=by.dtype)
        self._start = 0

    def row(self, i: int) -> np.ndarray:
        k = i - self._start
        if k >= len(self._block):
            g = self._rng.gumbel(size=(NOISE_BLOCK, self._by.shape[0]))
            self._block = (self._by + self._temperature * g).astype(self._by.dtype)
            self._start, k = i, 0
        return self._block[k]


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
    read): True stops with SamplingCancelled. The same `generator` state gives the same
    sample (it is drawn from once per sample, for the seed of the noise below).

    The prime is read with cell.forward_step. The characters after it follow the same
    equations, written for speed (one character is a chain of a dozen small operations,
    so their per-call cost is what counts; a 2,000-character sample takes about a tenth
    of a second on a 2-core machine):
    - the cell's sampler kernel, cell.OneSequence: numpy on the CPU, whose calls cost
      about a microsecond where torch's cost several (the weights are copied there once
      per sample, from a GPU too), into buffers allocated once, each gate one tanh and
      one add;
    - the draw is the Gumbel-max trick: argmax(logits / temperature + g), with g drawn
      from Gumbel(0, 1), is a draw from softmax(logits / temperature), with no softmax
      or search per character; g comes in blocks of NOISE_BLOCK rows;
    - the probabilities the model gave its picks are one softmax over all rows at the end.
    """
    check_sample_args(vocab, prime, n, temperature, top_k)
    x = vocab.encode(prime).to(model.device)
    h0 = model.zero_state(1)
    w = model.named_tensors()
    for k, x_t in enumerate(x[:-1]):  # read the prime; its last character is the first input below
        if cancelled is not None and k % PRIME_CHECK == 0 and cancelled():
            raise SamplingCancelled(f"sampling stopped while reading the prime (at {k:,} of {len(prime):,})")
        h0 = cell.forward_step(w, x_t.view(1), h0, model.reset).h
    one_thread_numpy_blas()
    gru = cell.OneSequence(model.W, model.U, model.b, model.bUh, model.Wy, model.by, model.reset,
                           h0.detach().to("cpu").numpy()[0])
    V = model.vocab_size
    hidden = np.empty((n, model.hidden_size), dtype=gru.dtype)  # row i: h after reading input i
    noise = GumbelNoise(generator, temperature, gru.by) if temperature > 0 else None
    top = noise is not None and top_k is not None and top_k < V
    chars = vocab.chars
    chosen: list[int] = []
    idx = int(x[-1])
    for i in range(n):
        gru.read(idx, out=hidden[i])
        scores = gru.logits
        if noise is None:
            scores += gru.by
        else:
            if top:
                shown = scores + gru.by
                cut = shown < np.partition(shown, V - top_k)[V - top_k]
            scores += noise.row(i)  # by + temperature * g
            if top:
                scores[cut] = -np.inf
        idx = int(scores.argmax())
        chosen.append(idx)
        if on_char is not None and on_char(chars[idx]) is False:
            break
    done = len(chosen)
    states = hidden[:done]
    logits = torch.from_numpy(states @ gru.Wy + gru.by).to(torch.float64)
    picked = torch.tensor(chosen, dtype=torch.long)
    probs = torch.softmax(logits, dim=-1).gather(1, picked.view(-1, 1)).view(-1)
    return Sample(
        prime=prime,
        generated="".join(chars[i] for i in chosen),
        probs=probs,
        hidden=torch.from_numpy(states.copy()),
    )
