"""Loss history: append-only, so a published view of it never changes afterwards.

A `HistoryView` is the first n entries of a list that only ever grows: taking one costs
nothing (no copy), and what it shows can't change, even while training appends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar, overload

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

    losses[k] is the loss of step k+1; epoch_losses[e] is the mean loss of epoch e, and
    epoch_steps[e] the step that ended it; val_losses holds (step, loss) pairs, taken every
    so often. `add_step` is the one place an epoch's mean is computed (the CLI and the
    session both record through it).
    """

    losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    val_losses: list[tuple[int, float]] = field(default_factory=list)
    epoch_steps: list[int] = field(default_factory=list)
    # (step, kind, message): what the loop's guard and its end did (gru_core/loop.py Event)
    events: list[tuple[int, str, str]] = field(default_factory=list)

    def add_step(self, loss: float, *, epoch_end: bool = False) -> None:
        """A step's loss; at an epoch's end also that epoch's mean, over its own steps."""
        self.losses.append(loss)
        if epoch_end:
            start = self.epoch_steps[-1] if self.epoch_steps else 0
            steps = self.losses[start:]
            self.epoch_losses.append(sum(steps) / len(steps))
            self.epoch_steps.append(len(self.losses))

    def add_val(self, step: int, loss: float) -> None:
        self.val_losses.append((step, loss))

    def add_event(self, step: int, kind: str, message: str) -> None:
        self.events.append((step, kind, message))

    def views(self) -> HistoryViews:
        """Frozen views of every list as it is now."""
        return HistoryViews(HistoryView(self.losses), HistoryView(self.epoch_losses),
                            HistoryView(self.val_losses), HistoryView(self.epoch_steps),
                            HistoryView(self.events))

    def to_dict(self) -> dict:
        return {
            "losses": list(self.losses),
            "epoch_losses": list(self.epoch_losses),
            "epoch_steps": list(self.epoch_steps),
            "val_losses": [list(p) for p in self.val_losses],
            "events": [list(e) for e in self.events],
        }

    @classmethod
    def from_dict(cls, d: dict, steps_per_epoch: int | None = None) -> "History":
        """The inverse of to_dict. A dict from before epoch_steps were kept places epoch e's
        end at step (e + 1) * steps_per_epoch (every epoch of a run has as many batches)."""
        losses = [float(x) for x in d.get("losses", [])]
        epoch_losses = [float(x) for x in d.get("epoch_losses", [])]
        if "epoch_steps" in d:
            epoch_steps = [int(x) for x in d["epoch_steps"]]
        else:
            n = steps_per_epoch or 1
            epoch_steps = [(e + 1) * n for e in range(len(epoch_losses))]
        if len(epoch_steps) != len(epoch_losses) or epoch_steps != sorted(set(epoch_steps)) or (
            epoch_steps and not 1 <= epoch_steps[0] <= epoch_steps[-1] <= len(losses)
        ):
            raise ValueError(f"{len(epoch_losses)} epoch means do not fit the epoch ends "
                             f"{epoch_steps[:5]} of {len(losses)} steps")
        return cls(
            losses=losses,
            epoch_losses=epoch_losses,
            val_losses=[(int(s), float(v)) for s, v in d.get("val_losses", [])],
            epoch_steps=epoch_steps,
            events=[(int(s), str(k), str(m)) for s, k, m in d.get("events", [])],
        )


class HistoryViews(NamedTuple):
    losses: HistoryView[float]
    epoch_losses: HistoryView[float]
    val_losses: HistoryView[tuple[int, float]]
    epoch_steps: HistoryView[int]
    events: HistoryView[tuple[int, str, str]]
