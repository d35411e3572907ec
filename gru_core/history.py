"""Loss history: append-only, so a published view of it never changes afterwards.

A `HistoryView` is the first n entries of a list that only ever grows: taking one costs
nothing (no copy), and what it shows can't change, even while training appends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar, overload

T = TypeVar("T")


class HistoryView(Sequence, Generic[T]):
    """Read-only, fixed-length view of the first n items of an append-only list."""

    __slots__ = ("_items", "_n")

    def __init__(self, items: list[T], n: int | None = None) -> None:
        self._items = items
        self._n = len(items) if n is None else n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._items[k] for k in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("history index out of range")
        return self._items[i]

    def __iter__(self) -> Iterator[T]:
        for k in range(self._n):
            yield self._items[k]

    def __repr__(self) -> str:
        return f"HistoryView(n={self._n})"


@dataclass
class History:
    """Per-step losses, per-epoch means and validation losses of one run.

    losses[k] is the loss of step k+1; epoch_losses[e] the mean of epoch e;
    val_losses holds (step, loss) pairs, taken every so often.
    """

    losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    val_losses: list[tuple[int, float]] = field(default_factory=list)

    def add_step(self, loss: float) -> None:
        self.losses.append(loss)

    def add_epoch(self, mean_loss: float) -> None:
        self.epoch_losses.append(mean_loss)

    def add_val(self, step: int, loss: float) -> None:
        self.val_losses.append((step, loss))

    def views(self) -> tuple[HistoryView[float], HistoryView[float], HistoryView[tuple[int, float]]]:
        """Frozen views of all three lists as they are now."""
        return HistoryView(self.losses), HistoryView(self.epoch_losses), HistoryView(self.val_losses)

    def to_dict(self) -> dict:
        return {
            "losses": list(self.losses),
            "epoch_losses": list(self.epoch_losses),
            "val_losses": [list(p) for p in self.val_losses],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(
            losses=[float(x) for x in d.get("losses", [])],
            epoch_losses=[float(x) for x in d.get("epoch_losses", [])],
            val_losses=[(int(s), float(v)) for s, v in d.get("val_losses", [])],
        )
