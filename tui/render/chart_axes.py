"""The loss chart's axes, as pure functions: the x axis's end, the y axis's limits and when
they change, the ticks and their labels, and where a value falls among the braille dots.

No Textual and no plotext here: the widget (tui/widgets/loss_chart.py) asks these what to
show, and plotext only draws the frame they decide.

Both axes change in steps (a ladder of x ends; y limits on a grid), so a rescale happens a
few times per run, not at every step.

Log scale: plotext 5's `yscale("log")` takes the logarithm of the data it holds, in place,
at every build (piccolomo/plotext#209: the second build raised "math domain error"), so it
is never used: the log view plots log10 of the values on a linear axis and labels the ticks
with the original numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from gru_core.formatting import significant

X_LADDER = (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8)  # x axis ends, in epochs, times powers of 10


# ------------------------------------------------------------------ ticks and labels
def distinct_labels(ticks: Sequence[float]) -> list[str]:
    """3 significant digits, more where two ticks would read the same (`1.38`, `1.38` were
    1.375 and 1.38), and 0 for a tick at zero."""
    for digits in range(3, 8):
        labels = [significant(v, digits) for v in ticks]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def log_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], list[str]]:
    """About `count` tick positions (log10) and labels (original values) from low to high:
    1-2-5 values where the range holds enough of them, else evenly spaced in log."""
    ticks: list[float] = []
    for exponent in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0**exponent
            if low <= value <= high:
                ticks.append(value)
    if len(ticks) < max(3, count - 1):
        a, b = math.log10(low), math.log10(high)
        ticks = [10 ** (a + (b - a) * k / (count - 1)) for k in range(count)]
    return [math.log10(v) for v in ticks], distinct_labels(ticks)


def nice_unit(span: float) -> float:
    """The smallest 1-2-5 number >= span."""
    exponent = math.floor(math.log10(span))
    for mantissa in (1, 2, 5, 10):
        if mantissa * 10.0**exponent >= span * (1 - 1e-9):
            return mantissa * 10.0**exponent
    return 10.0 ** (exponent + 1)


def linear_ticks(low: float, high: float, count: int) -> tuple[list[float], list[str]]:
    """Ticks on a 1-2-5 unit from low to high, at least two of them (a single `5` on the
    axis said nothing of the scale): the unit shrinks to the next 1-2-5 number until two fit."""
    unit = nice_unit((high - low) / max(1, count - 1))
    while True:
        first = math.ceil(low / unit - 1e-9)
        ticks = [k * unit for k in range(first, math.floor(high / unit + 1e-9) + 1)]
        if len(ticks) >= 2 or unit < (high - low) * 1e-6 or high <= low:
            every = max(1, (len(ticks) - 1) // max(1, count - 1))  # a shrunk unit: no more than count
            ticks = ticks[::every]
            return ticks, distinct_labels(ticks)
        unit = _smaller(unit)


def _smaller(unit: float) -> float:
    """The 1-2-5 number below unit (5 -> 2 -> 1 -> 0.5 …)."""
    exponent = math.floor(math.log10(unit) + 1e-9)
    mantissa = round(unit / 10.0**exponent)
    return {5: 2, 2: 1}.get(mantissa, 0.5) * 10.0**exponent


def y_tick_count(height: int) -> int:
    """How many y ticks a chart this many lines tall has room for: 3 to 6."""
    return max(3, min(6, (height - 4) // 2))


def y_ticks(ylim: tuple[float, float], log: bool, count: int) -> tuple[list[float], list[str]]:
    """The y ticks for these limits (log10 of the values in log scale) and their labels."""
    if log:
        return log_ticks(10 ** ylim[0], 10 ** ylim[1], count)
    return linear_ticks(*ylim, count)


def step_ticks(end: float, count: int) -> list[int]:
    """Whole step numbers 0, d, 2d, … up to end, d a 1-2-5 number giving at most `count` ticks;
    0 and end where no such d gives two (a lone `0` said nothing of the scale)."""
    end = max(1, int(end))
    for exponent in range(0, 12):
        for mantissa in (1, 2, 5):
            d = mantissa * 10**exponent
            if end // d + 1 <= max(2, count):
                return list(range(0, end + 1, d)) if d <= end else [0, end]
    return [0, end]


def x_tick_count(width: int) -> int:
    """How many step ticks a chart this many columns wide has room for (about one per 8)."""
    return max(2, (width - 8) // 8)


# ------------------------------------------------------------------ the axes' extent
def x_end(steps: int, num_batches: int) -> int:
    """The x axis's end for this many steps: an epoch, or the next rung of X_LADDER epochs.
    A function of the step count only, so the axis grows a few times per run, the same way
    whenever the chart is drawn."""
    epoch = max(1, num_batches)
    if steps <= epoch:
        return epoch
    power = 1
    while True:
        for rung in X_LADDER:
            end = math.ceil(epoch * rung * power)
            if end >= steps:
                return end
        power *= 10


def value_range(values: Iterable[float], log: bool) -> tuple[float, float]:
    """The lowest and highest of the values the chart can draw (finite; positive in log
    scale); (1, 1) when there are none (V = 1: every loss is 0)."""
    drawable = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    return (min(drawable), max(drawable)) if drawable else (1.0, 1.0)


def y_limits(low: float, high: float, log: bool) -> tuple[float, float]:
    """The y axis's limits (log10 of them in log mode) around the data, on a grid so that
    they stay put while the curve moves within a cell or two."""
    if log:
        if high / low < 1.5:  # too narrow a range for ticks to mean anything: widen
            low, high = low / 1.25, high * 1.25
        return math.floor(math.log10(low) * 20) / 20, math.ceil(math.log10(high) * 20) / 20
    span = high - low
    if span <= 1e-4 * max(abs(low), abs(high)):  # flat to 0.01%: labels could not tell ticks apart
        span = abs(high) or 1.0
    unit = nice_unit(span / 8)
    y0, y1 = math.floor(low / unit) * unit, math.ceil(high / unit) * unit
    return (y0, y1) if y1 > y0 else (y0, y0 + unit)


def rescale(ylim: tuple[float, float], low: float, high: float, log: bool) -> bool:
    """Whether the y axis must change: the data left it, or fills less than half of it."""
    if log:
        low, high = math.log10(low), math.log10(high)
    span = ylim[1] - ylim[0]
    return low < ylim[0] or high > ylim[1] or (high - low) < span / 2


# ------------------------------------------------------------------ values to dots
def dot(value: float, lim: tuple[float, float], dots: int) -> int:
    """The dot (0 at lim[0], dots - 1 at lim[1]) a value falls on: plotext's own map
    (`_utility.get_matrix_data`), so that the curves meet the ticks plotext draws. The
    rounding to 8 places keeps 9.9999999 from flooring to the dot below 10."""
    return math.floor(round(0.5 + (dots - 1) * (value - lim[0]) / (lim[1] - lim[0]), 8))


def dot_line(start: tuple[int, int], end: tuple[int, int]) -> tuple[list[int], list[int]]:
    """The dots of a straight segment from start to end, one per step along its longer side
    (plotext's `_utility.get_line`, truncating toward zero as it does)."""
    (x0, y0), (x1, y1) = start, end
    count = max(abs(x1 - x0), abs(y1 - y0)) + 1
    sx, sy = ((x1 - x0) / (count - 1), (y1 - y0) / (count - 1)) if count > 1 else (0, 0)
    return [int(x0 + k * sx) for k in range(count)], [int(y0 + k * sy) for k in range(count)]


class Geometry:
    """Where the canvas is in the frame and how data maps onto its braille dots: 2 dots per
    column, 4 per line; dot rows and canvas rows count from the bottom, as plotext's do."""

    def __init__(self, col0: int, row0: int, width: int, height: int, rows: int,
                 xlim: tuple[float, float], ylim: tuple[float, float], log: bool) -> None:
        self.col0, self.row0, self.width, self.height, self.rows = col0, row0, width, height, rows
        self.xlim, self.ylim, self.log = xlim, ylim, log

    def px(self, x: float) -> int:
        return dot(x, self.xlim, 2 * self.width)

    def py(self, y: float) -> int | None:
        """The dot row of a value (None: not drawable)."""
        if self.log:
            y = math.log10(y) if y > 0 else self.ylim[0]
        if not math.isfinite(y):
            return None
        return dot(y, self.ylim, 4 * self.height)

    def inside(self, px: int, py: int) -> bool:
        """Whether a dot is on the canvas."""
        return 0 <= px < 2 * self.width and 0 <= py < 4 * self.height

    def line(self, cell: tuple[int, int]) -> int:
        """The screen line of a canvas cell's row (plotext counts rows from the bottom)."""
        return self.rows - 1 - (self.row0 + cell[1])

    def screen(self, cell: tuple[int, int]) -> tuple[int, int]:
        """The (line, column) on screen of a canvas cell."""
        return self.line(cell), self.col0 + cell[0]

    def mark_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The (line, column) on screen of the cell holding the point (x, y); None off the canvas."""
        px, py = self.px(x), self.py(y)
        if py is None or not self.inside(px, py):
            return None
        return self.screen((px >> 1, py >> 2))

    def mark_above(self, x: float) -> tuple[int, int] | None:
        """The (line, column) on screen of the canvas's top cell over x; None off the canvas."""
        px = self.px(x)
        if not 0 <= px < 2 * self.width:
            return None
        return self.screen((px >> 1, self.height - 1))
