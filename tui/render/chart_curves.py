"""The loss chart's curves as braille dots, drawn incrementally: pure, no Textual.

Each curve is averaged into one point per braille column, from prefix sums: a new snapshot
adds the new columns only, and the widget renders again only the screen lines they touch.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence

from .chart_axes import Geometry, dot_line

# U+2800 braille bit of each dot: (dot column 0-1, dot row 0-3 from the bottom of the cell)
BRAILLE_BIT = {(0, 3): 0x01, (0, 2): 0x02, (0, 1): 0x04, (1, 3): 0x08,
               (1, 2): 0x10, (1, 1): 0x20, (0, 0): 0x40, (1, 0): 0x80}


def braille(bits: int) -> str:
    """The braille character with these dots raised."""
    return chr(0x2800 + bits)


class RunningSums:
    """Prefix sums of one append-only list, extended as it grows."""

    def __init__(self) -> None:
        self.prefix: list[float] = [0.0]

    def extend(self, values: Sequence[float], start: int) -> None:
        prefix = self.prefix
        for k in range(start, len(values)):
            prefix.append(prefix[-1] + values[k])

    def mean(self, start: int, stop: int) -> float:
        return (self.prefix[stop] - self.prefix[start]) / (stop - start)


class Curve:
    """One series averaged into one point per braille column, drawn as braille dots.

    Points whose column the data has moved past are finished: their segments are drawn
    once. The last column's point (its mean still changing) is the tail, drawn again at
    each update."""

    def __init__(self) -> None:
        self.sums = RunningSums()
        self.xs: list[float] = []  # empty for the step curve: x of item k is k + 1
        self.n = 0
        self.rebucket()

    def feed(self, ys: Sequence[float], xs: Sequence[float] | None = None) -> None:
        """The series' items so far (they only grow within a run)."""
        start = self.n
        if xs is not None:
            self.xs.extend(float(x) for x in xs[start:])
        self.sums.extend(ys, start)
        self.n = len(ys)

    def x(self, k: int) -> float:
        return self.xs[k] if self.xs else k + 1.0

    def rebucket(self) -> None:
        """Forget the points (the x mapping changed); the data stays."""
        self.points: list[tuple[int, float]] = []  # finished (column, mean)
        self.open_start = 0  # index of the first item of the last column
        self.tail: tuple[int, float] | None = None
        self.clear_cells()

    def clear_cells(self) -> None:
        self.cells: dict[tuple[int, int], int] = {}  # finished segments: cell -> braille bits
        self.tail_cells: dict[tuple[int, int], int] = {}
        self.drawn = 0  # points whose segments are in self.cells
        self.last: tuple[int, int] | None = None  # the last drawn finished point, in dots

    def bucket(self, px: Callable[[float], int]) -> None:
        """Extend the finished points and the tail from the items not yet in a finished column."""
        i, n = self.open_start, self.n
        self.tail = None
        while i < n:
            column = px(self.x(i))
            j = bisect_right(range(n), column, lo=i + 1, key=lambda k: px(self.x(k)))
            point = (column, self.sums.mean(i, j))
            if j < n:
                self.points.append(point)
                self.open_start = j
            else:
                self.tail = point
            i = j

    def values(self) -> list[float]:
        out = [y for _, y in self.points]
        if self.tail is not None:
            out.append(self.tail[1])
        return out

    def draw(self, geometry: Geometry) -> set[tuple[int, int]]:
        """Draw the new finished segments and the tail again; the cells that changed."""
        changed = set(self.tail_cells)
        for column, y in self.points[self.drawn:]:
            self.last = self._segment(geometry, self.last, column, y, self.cells, changed)
        self.drawn = len(self.points)
        self.tail_cells = {}
        if self.tail is not None:
            self._segment(geometry, self.last, *self.tail, self.tail_cells, changed)
        return changed

    @staticmethod
    def _segment(geometry: Geometry, start: tuple[int, int] | None, column: int, y: float,
                 cells: dict[tuple[int, int], int], changed: set[tuple[int, int]]) -> tuple[int, int] | None:
        py = geometry.py(y)
        if py is None:
            return None  # a gap: the next point starts a new line
        xs, ys = dot_line(start, (column, py)) if start else ([column], [py])
        for dx, dy in zip(xs, ys):
            if geometry.inside(dx, dy):
                cell = (dx >> 1, dy >> 2)
                cells[cell] = cells.get(cell, 0) | BRAILLE_BIT[(dx & 1, dy & 3)]
                changed.add(cell)
        return column, py


def topmost(curves: Iterable[tuple[str, Curve]], cell: tuple[int, int]) -> tuple[str, str] | None:
    """What a cell shows: the braille of the first of `curves` (topmost first) with dots in
    it, and that curve's name; None where none has."""
    for name, curve in curves:
        bits = curve.cells.get(cell, 0) | curve.tail_cells.get(cell, 0)
        if bits:
            return braille(bits), name
    return None
