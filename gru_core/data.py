"""Characters to indices, and indices to batches of inputs X and targets Y.

Shapes: X and Y are [num_batches, T, B] of character indices (the one-hot form the
article prints is `one_hot(X)`, [num_batches, T, B, V]). Y is X shifted by one
character: the network reads X[i, t, b] and must predict Y[i, t, b].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .errors import GRUError


@dataclass(frozen=True)
class Vocab:
    """The characters the model knows, in index order (`chars[i]` is index i)."""

    chars: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_stoi", {c: i for i, c in enumerate(self.chars)})

    @property
    def size(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` outside the vocabulary, each once, in order of appearance."""
        seen: dict[str, None] = {}
        for c in text:
            if c not in self._stoi:  # type: ignore[attr-defined]
                seen.setdefault(c, None)
        return list(seen)

    @property
    def index_dtype(self) -> torch.dtype:
        """The smallest integer type that holds every index: 1 byte a character up to V 256."""
        return torch.uint8 if self.size <= 256 else torch.int16 if self.size <= 32768 else torch.int32

    def encode_compact(self, text: str, chunk: int = 1 << 20) -> torch.Tensor:
        """[len(text)] indices in `index_dtype`, encoded a chunk at a time.

        A long text costs its final 1-2 bytes a character plus one chunk's working
        memory, not the ~25 bytes a character of encoding it whole at int64. Index
        tensors of this dtype must be turned `.long()` before they index anything
        (a uint8 index would be read as a mask).
        """
        out = torch.empty(len(text), dtype=self.index_dtype)
        for start in range(0, len(text), chunk):
            out[start:start + chunk] = self.encode(text[start:start + chunk])
        return out

    def encode(self, text: str) -> torch.Tensor:
        """[len(text)] int64 indices; unknown characters raise GRUError naming them.

        Vectorised: the text's code points ([n] uint32, 4 bytes a character) are looked
        up in the sorted code points of the vocabulary, so a 16 Mi-character text needs
        no Python object per character.
        """
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        vocab_codes = np.frombuffer(self.chars.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        order = np.argsort(vocab_codes, kind="stable")
        sorted_codes = vocab_codes[order]
        pos = np.searchsorted(sorted_codes, codes)
        pos_clipped = np.minimum(pos, len(sorted_codes) - 1)
        known = sorted_codes[pos_clipped] == codes
        if not known.all():
            bad = self.unknown(text)
            raise GRUError(
                f"{_describe(bad)} not in the vocabulary; "
                f"known characters: {_preview(self.chars)}"
            )
        return torch.from_numpy(order[pos_clipped].astype(np.int64))

    def decode(self, indices) -> str:
        return "".join(self.chars[int(i)] for i in indices)

    def one_hot(self, indices: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """[..., V] one-hot rows, as the article feeds them to the GRU."""
        return torch.nn.functional.one_hot(indices.long(), self.size).to(dtype)


def _describe(bad: list[str]) -> str:
    shown = ", ".join(repr(c) for c in bad[:8])
    more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
    return f"character{'s' if len(bad) > 1 else ''} {shown}{more} {'are' if len(bad) > 1 else 'is'}"


def _preview(chars: str, limit: int = 40) -> str:
    return repr(chars) if len(chars) <= limit else repr(chars[:limit]) + f" (+{len(chars) - limit})"


def make_batches(
    encoded: torch.Tensor, batch_size: int, seq_len: int, layout: str = "streams"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut an encoded text into inputs X and targets Y, each [num_batches, T, B].

    layout "streams" (char-rnn style): the text is split into B contiguous streams, so
    column b of batch i+1 continues exactly where column b of batch i stopped, and a
    hidden state carried between batches keeps reading the same text.

    layout "article": the article's cut. The first num_samples * T characters are cut
    into samples of T; samples 2i and 2i+1 (for B=2) form batch i.
    """
    n = encoded.numel() - 1  # the last character only ever serves as a target
    B, T = batch_size, seq_len
    if layout == "streams":
        stream_len = n // B
        num_batches = stream_len // T
        _check_enough(encoded, num_batches, B, T)
        used = num_batches * T

        def cut(offset: int) -> torch.Tensor:
            streams = torch.stack(
                [encoded[b * stream_len + offset : b * stream_len + offset + used] for b in range(B)]
            )  # [B, used]
            return streams.reshape(B, num_batches, T).permute(1, 2, 0).contiguous()  # [N, T, B]

        return cut(0), cut(1)
    if layout == "article":
        num_samples = n // T
        num_batches = num_samples // B
        _check_enough(encoded, num_batches, B, T)
        used = num_batches * B * T

        def cut(offset: int) -> torch.Tensor:
            samples = encoded[offset : offset + used].reshape(num_batches, B, T)
            return samples.transpose(1, 2).contiguous()  # [N, T, B], the article's swapaxes

        return cut(0), cut(1)
    raise GRUError(f"layout must be one of streams, article; got {layout!r}")


def _check_enough(encoded: torch.Tensor, num_batches: int, B: int, T: int) -> None:
    if num_batches < 1:
        raise GRUError(f"text of {encoded.numel()} characters is too short for batch_size {B} x "
                       f"seq_len {T}; it needs at least {B * T + 1}")
