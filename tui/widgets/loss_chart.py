"""LossChart: loss per step, per-epoch mean, validation (its best point marked), and the
uniform baseline ln V.

Drawn incrementally, because it is redrawn while training shares the GIL with it:

- plotext draws the frame (axes, ticks, labels, title) at a full rebuild, which happens
  only when the scale changes (the x axis grows, a curve leaves the y range), on resize,
  on the log toggle and on a new run. Its matrix is read directly, not through an ANSI
  string parsed back.
- the curves are braille dots placed with plotext's own coordinate mapping
  (`get_matrix_data`, `get_line`). Each curve is averaged into one point per braille
  column, from prefix sums: a new snapshot adds the new columns only, and only the
  screen rows they touch are rendered again (Textual's Line API: `render_line` serves
  cached strips, so a border or neighbour refresh costs nothing).
- both axes change in steps (a ladder of x ends; y limits on a grid), so a rescale
  happens a few times per run, not at every step.

Log scale: plotext 5's `yscale("log")` takes the logarithm of the data it holds, in
place, at every build (piccolomo/plotext#209: the second build raised "math domain
error"), so it is never used: the log view plots log10 of the values on a linear axis
and labels the ticks with the original numbers.

Colours come from the component classes (and so from the theme): a light theme works.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import plotext._utility as plotext_util
from plotext._figure import _figure_class as PlotextFigure
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..keys import key_for
from ..render.throttle import RedrawThrottle
from .status import decimals

if TYPE_CHECKING:
    from gru_core.session import Snapshot


REDRAW_S = 0.5  # while training: new columns at most this often (a rescale is a full rebuild)
LABEL_WIDTH = 5  # y tick labels are padded to this: the canvas keeps its width as the scale changes
X_LADDER = (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8)  # x axis ends, in epochs, times powers of 10
BEST = "◆"
GUARD = "▼"  # where the divergence guard put good weights back (gru_core/loop.py)
# U+2800 braille bit of each dot: (dot column 0-1, dot row 0-3 from the bottom of the cell)
BRAILLE_BIT = {(0, 3): 0x01, (0, 2): 0x02, (0, 1): 0x04, (1, 3): 0x08,
               (1, 2): 0x10, (1, 1): 0x20, (0, 0): 0x40, (1, 0): 0x80}
# The legend's names in the order a narrow border drops them ("loss" itself stays).
DROP_ORDER = ("guard", "ln V", "best", "epoch", "val", "step")
# Curves in drawing order (a later one covers an earlier one in a shared cell): legend name, class
SERIES = (("ln V", "baseline"), ("step", "step"), ("epoch", "epoch"), ("val", "val"))


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


def distinct_labels(ticks: Sequence[float]) -> list[str]:
    """3 significant digits, more where two ticks would read the same (`1.38`, `1.38` were
    1.375 and 1.38), and 0 for a tick at zero."""
    for digits in range(3, 8):
        labels = [f"{v + 0.0:.{digits}g}" for v in ticks]
        if len(set(labels)) == len(labels):
            return labels
    return labels


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


def step_ticks(end: float, count: int) -> list[int]:
    """Whole step numbers 0, d, 2d, … up to end, d a 1-2-5 number giving at most `count` ticks."""
    end = max(1, int(end))
    for exponent in range(0, 12):
        for mantissa in (1, 2, 5):
            d = mantissa * 10**exponent
            if end // d + 1 <= max(2, count):
                return list(range(0, end + 1, d))
    return [0, end]


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


def y_limits(low: float, high: float, log: bool) -> tuple[float, float]:
    """The y axis's limits (log10 of them in log mode) around the data, on a grid so that
    they stay put while the curve moves within a cell or two."""
    if log:
        if high / low < 1.5:  # too narrow a range for ticks to mean anything: widen
            low, high = low / 1.25, high * 1.25
        return math.floor(math.log10(low) * 20) / 20, math.ceil(math.log10(high) * 20) / 20
    span = high - low or abs(high) or 1.0
    unit = nice_unit(span / 8)
    y0, y1 = math.floor(low / unit) * unit, math.ceil(high / unit) * unit
    return (y0, y1) if y1 > y0 else (y0, y0 + unit)


def rescale(ylim: tuple[float, float], low: float, high: float, log: bool) -> bool:
    """Whether the y axis must change: the data left it, or fills less than half of it."""
    if log:
        low, high = math.log10(low), math.log10(high)
    span = ylim[1] - ylim[0]
    return low < ylim[0] or high > ylim[1] or (high - low) < span / 2


class Geometry:
    """Where the canvas is in the frame and how data maps onto its braille dots (plotext's map)."""

    def __init__(self, col0: int, row0: int, width: int, height: int, rows: int,
                 xlim: tuple[float, float], ylim: tuple[float, float], log: bool) -> None:
        self.col0, self.row0, self.width, self.height, self.rows = col0, row0, width, height, rows
        self.xlim, self.ylim, self.log = xlim, ylim, log

    def px(self, x: float) -> int:
        return plotext_util.get_matrix_data([x], self.xlim, 2 * self.width)[0]

    def py(self, y: float) -> int | None:
        """The dot row of a value (None: not drawable)."""
        if self.log:
            y = math.log10(y) if y > 0 else self.ylim[0]
        if not math.isfinite(y):
            return None
        return plotext_util.get_matrix_data([y], self.ylim, 4 * self.height)[0]

    def line(self, cell: tuple[int, int]) -> int:
        """The screen line of a canvas cell's row (plotext counts rows from the bottom)."""
        return self.rows - 1 - (self.row0 + cell[1])


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
        xs, ys = plotext_util.get_line([start[0], column], [start[1], py]) if start else ([column], [py])
        w, h = 2 * geometry.width, 4 * geometry.height
        for dx, dy in zip(xs, ys):
            if 0 <= dx < w and 0 <= dy < h:
                cell = (dx >> 1, dy >> 2)
                cells[cell] = cells.get(cell, 0) | BRAILLE_BIT[(dx & 1, dy & 3)]
                changed.add(cell)
        return column, py


class LossChart(Widget):
    """The loss chart. `l` toggles a log y axis."""

    COMPONENT_CLASSES = {"loss-chart--step", "loss-chart--epoch", "loss-chart--val", "loss-chart--best",
                         "loss-chart--baseline", "loss-chart--axes", "loss-chart--guard"}
    DEFAULT_CSS = """
    LossChart > .loss-chart--step { color: $text-primary; }
    LossChart > .loss-chart--epoch { color: $text-warning; }
    LossChart > .loss-chart--val { color: $text-success; }
    LossChart > .loss-chart--best { color: $text-error; text-style: bold; }
    LossChart > .loss-chart--guard { color: $text-error; text-style: bold; }
    LossChart > .loss-chart--baseline { color: $foreground-muted; }
    LossChart > .loss-chart--axes { color: $foreground; }
    """

    # repaint=False: a new snapshot arrives several times a second; the throttle draws it
    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    log_scale: reactive[bool] = reactive(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plt = PlotextFigure()
        self.points_drawn = 0  # how many points the step curve had at the last draw
        self.rebuilds = 0  # full rebuilds: the plotext frame and every curve drawn again
        self._throttle = RedrawThrottle(self, self.replot)
        self._curves = {name: Curve() for _, name in SERIES}
        self._run: object = None  # the run the curves' data is from
        self._key: tuple | None = None  # what the x mapping depends on: size, scale, x end
        self._geometry: Geometry | None = None
        self._frame: list[list[str]] = []  # the plotext frame's characters, by screen line
        self._overlay: dict[int, dict[int, tuple[str, str]]] = {}  # line -> column -> (char, class)
        self._best: tuple[int, int] | None = None  # the best-validation marker's (line, column)
        self._guards: frozenset[tuple[int, int]] = frozenset()  # the guard's marks (line, column)
        self._styles: dict[str | None, Style] = {}
        self._strips: dict[int, Strip] = {}
        self._dirty: set[int] = set()  # screen lines changed since the last refresh
        self._border_line: int | None = None  # set: a refresh() repaints only this border line
        self._title_markup: str | None = None  # the legend's markup as last set

    def notify_style_update(self) -> None:
        """The theme or the CSS changed: the strips take their colours again (once the
        component classes have theirs: they are styled after the widget)."""
        super().notify_style_update()
        self._restyle()
        self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        self._styles.clear()
        self._strips.clear()
        if self.snapshot is not None and self._frame:
            title = self.legend(self.snapshot)
            self.border_title, self._title_markup = title, title.markup
        self.refresh()

    # ------------------------------------------------------------- what Textual calls
    def refresh(self, *regions: Region, **kwargs) -> LossChart:
        if self._border_line is not None and not regions:  # a border title set in _set_borders
            width = self.outer_size.width
            regions = (Region(-self.content_offset.x, self._border_line, width, 1),)
        return super().refresh(*regions, **kwargs)

    def render_line(self, y: int) -> Strip:
        strip = self._strips.get(y)
        if strip is None:
            strip = self._strips[y] = self._build_strip(y)
        width = self.size.width
        return strip if strip.cell_length == width else strip.crop_extend(0, width, self._style(None))

    def render(self) -> Text:
        """The chart as plain text (the screen shows it through render_line)."""
        return Text("\n".join(self._line_chars(y) for y in range(len(self._frame))))

    def watch_snapshot(self, old: Snapshot | None, new: Snapshot | None) -> None:
        self._throttle.request(old, new, REDRAW_S)

    def _set_borders(self, snap: Snapshot | None) -> None:
        """The legend above, the last loss below.

        Setting a border title repaints the whole widget (Textual's descriptor calls
        refresh()), every line through the styles again: the last loss changes at each
        redraw, so only its border line is repainted (the top one for the legend)."""
        subtitle = ""
        if snap is not None and snap.loss is not None:
            # as the status line prints them: a loss that rounds to zero is 0.0000, never -0.0000;
            # the rate the schedule (and the guard) set, where it fits
            last = f"last {decimals(snap.loss, 4)} nats"
            lr = f"lr {snap.lr:.3g}"
            for form in (f"{last} = {decimals(snap.bits_per_char, 3)} bits/char  {lr}",
                         f"{last}  {lr}", last):
                subtitle = form
                if len(form) <= self.size.width - 4:
                    break
        title = Text("loss") if snap is None else self.legend(snap)
        try:
            if subtitle != self.border_subtitle:
                self._border_line = self.size.height  # content coordinates: the line under it
                self.border_subtitle = subtitle
            if title.markup != self._title_markup:  # (border_title reads back in another markup)
                self._border_line = -self.content_offset.y
                self.border_title, self._title_markup = title, title.markup
        finally:
            self._border_line = None

    def watch_log_scale(self) -> None:
        self.replot()

    def on_resize(self) -> None:
        self.replot()

    # ------------------------------------------------------------- drawing
    def replot(self) -> None:
        """Bring the chart up to the snapshot: the new columns only, unless the scale changed."""
        self._throttle.drawn()
        snap = self.snapshot
        width, height = self.size
        if snap is None or width < 8 or height < 4:
            self._key = self._geometry = None
            self._frame_only(snap)
            return
        n = len(snap.losses)
        end = x_end(n, snap.num_batches)
        log = self.log_scale
        curves = self._curves
        run = getattr(snap, "run_id", None)
        if run != self._run or n < curves["step"].n or len(snap.val_losses) < curves["val"].n:
            self._run, self._key = run, None
            self._curves = curves = {name: Curve() for _, name in SERIES}
        key = (width, height, log, end)
        provisional = None  # the canvas as it was: only the x axis's end moved
        if key != self._key:
            before, shown = self._key, self._geometry
            if shown is not None and before is not None and before[:3] == key[:3]:
                provisional = Geometry(shown.col0, shown.row0, shown.width, shown.height, shown.rows,
                                       (0.0, float(end)), shown.ylim, log)
            self._key, self._geometry = key, None
            for curve in curves.values():
                curve.rebucket()
            curves["baseline"] = baseline = Curve()  # from 0 to the x axis's end
            baseline.feed([snap.uniform_loss] * 2, [0.0, float(end)])
        curves["step"].feed(snap.losses)
        curves["epoch"].feed(snap.epoch_losses, snap.epoch_steps)
        val = snap.val_losses
        curves["val"].feed([v for _, v in val], [float(s) for s, _ in val])

        geometry = self._geometry or provisional
        if geometry is None:  # plotext draws a frame to say where the canvas is (labels padded: it stays)
            geometry = self._layout(snap, end, y_limits(snap.uniform_loss, snap.uniform_loss * 1.01, log)
                                    if snap.uniform_loss > 0 else (0.0, 1.0))
        for curve in curves.values():
            curve.bucket(geometry.px)
        low, high = self._value_range(snap)
        limits = y_limits(low, high, log)
        if self._geometry is None or limits != geometry.ylim and rescale(geometry.ylim, low, high, log):
            width_before = geometry.width
            geometry = self._layout(snap, end, limits)
            if geometry.width != width_before:  # the canvas came out another width: map again
                for curve in curves.values():
                    curve.rebucket()
                    curve.bucket(geometry.px)
            self._geometry = geometry
            self._full_draw(snap, geometry)
            full = True
        else:
            full = False
            changed: set[tuple[int, int]] = set()
            for curve in curves.values():
                changed |= curve.draw(geometry)
            self._compose_cells(changed, geometry)
            self._place_best(snap, geometry)
            self._place_guards(snap, geometry)
        step = curves["step"]
        self.points_drawn = len(step.points) + (step.tail is not None)
        self._set_borders(snap)
        if full:
            self.refresh()
        else:  # the lines the new columns touched: the others keep Textual's cached lines
            for line in self._dirty:
                self.refresh(Region(0, line, width, 1))
        self._dirty.clear()

    def _value_range(self, snap: Snapshot) -> tuple[float, float]:
        values = [snap.uniform_loss]
        for name in ("step", "epoch", "val"):
            values += self._curves[name].values()
        if snap.best_val is not None:
            values.append(snap.best_val)
        values = [v for v in values if math.isfinite(v) and (v > 0 or not self.log_scale)]
        return (min(values), max(values)) if values else (1.0, 1.0)  # V = 1: every loss is 0

    def _layout(self, snap: Snapshot, end: int, ylim: tuple[float, float]) -> Geometry:
        """plotext draws the frame for these limits; where its canvas is."""
        self.rebuilds += 1
        width, height = self.size
        plt = self.plt
        plt.clear_figure()
        plt.plotsize(width, height)
        plt._set_size(width, height)  # textual-plotext does both: plotext needs both
        plt.theme("clear")  # no colours: the strips take them from the component classes
        plt.plot([0.0], [ylim[0]], marker=" ")  # plotext draws axes for data: one invisible point
        plt.xlim(0, end)
        plt.ylim(*ylim)
        count = max(3, min(6, (height - 4) // 2))
        if self.log_scale:
            ticks, labels = log_ticks(10 ** ylim[0], 10 ** ylim[1], count)
        else:
            ticks, labels = linear_ticks(*ylim, count)
        plt.yticks(ticks, [label.rjust(LABEL_WIDTH) for label in labels])
        xticks = step_ticks(end, max(2, (width - 8) // 8))
        plt.xticks(xticks, [str(t) for t in xticks])
        plt.xlabel("step")
        if not len(snap.losses):
            plt.title(f"nats: {key_for('toggle')} trains, {key_for('step')} steps")
        plt.build()
        matrix = (plt.monitor if plt._no_plots else plt._get_subplot(1, 1).monitor).matrix  # one plot
        self._frame = [list(matrix.marker[row]) for row in reversed(matrix.Rows)]
        cols, rows = matrix.Cols_canvas, matrix.Rows_canvas
        return Geometry(cols.start, rows.start, max(0, len(cols)), max(0, len(rows)), matrix.rows,
                        (0.0, float(end)), ylim, self.log_scale)

    def _frame_only(self, snap: Snapshot | None) -> None:
        """No curves: waiting for the model (or no room)."""
        width, height = self.size
        self._overlay, self._best, self._guards = {}, None, frozenset()
        self._strips.clear()
        self._frame = []
        if width > 0 and height > 0:
            plt = self.plt
            plt.clear_figure()
            plt.plotsize(width, height)
            plt._set_size(width, height)
            plt.theme("clear")
            plt.title("loss: waiting for the model")
            plt.build()
            matrix = plt.monitor.matrix
            self._frame = [list(matrix.marker[row]) for row in reversed(matrix.Rows)]
        self._set_borders(snap)
        self.refresh()

    def _full_draw(self, snap: Snapshot, geometry: Geometry) -> None:
        self._overlay, self._best, self._guards = {}, None, frozenset()
        self._strips.clear()
        changed: set[tuple[int, int]] = set()
        for curve in self._curves.values():
            curve.clear_cells()
            changed |= curve.draw(geometry)
        self._compose_cells(changed, geometry)
        self._place_best(snap, geometry)
        self._place_guards(snap, geometry)

    def _compose_cells(self, changed: set[tuple[int, int]], geometry: Geometry) -> None:
        """What each changed cell shows: the braille of the last curve drawn there."""
        order = [(name, self._curves[name]) for _, name in reversed(SERIES)]
        for cell in changed:
            top = None
            for name, curve in order:
                bits = curve.cells.get(cell, 0) | curve.tail_cells.get(cell, 0)
                if bits:
                    top = (chr(0x2800 + bits), name)
                    break
            line = geometry.line(cell)
            row = self._overlay.setdefault(line, {})
            column = geometry.col0 + cell[0]
            if top is None:
                row.pop(column, None)
            else:
                row[column] = top
            self._strips.pop(line, None)
            self._dirty.add(line)

    def _place_best(self, snap: Snapshot, geometry: Geometry) -> None:
        """The best validation point (the weights `b` restores) as a marker over the val curve."""
        best = None
        if snap.best_val is not None and len(snap.val_losses):
            px, py = geometry.px(float(snap.best_step)), geometry.py(snap.best_val)
            if py is not None and 0 <= px < 2 * geometry.width and 0 <= py < 4 * geometry.height:
                cell = (px >> 1, py >> 2)
                best = (geometry.line(cell), geometry.col0 + cell[0])
        if best != self._best:
            for at in (self._best, best):
                if at is not None:
                    self._strips.pop(at[0], None)
                    self._dirty.add(at[0])
            self._best = best

    def _place_guards(self, snap: Snapshot, geometry: Geometry) -> None:
        """A mark on the canvas's top line at each step where the guard put good weights back."""
        marks = set()
        for step, kind, _ in getattr(snap, "events", ()):
            if kind == "diverged":
                px = geometry.px(float(step))
                if 0 <= px < 2 * geometry.width:
                    marks.add((geometry.line((px >> 1, geometry.height - 1)), geometry.col0 + (px >> 1)))
        guards = frozenset(marks)
        if guards != self._guards:
            for line, _ in guards ^ self._guards:
                self._strips.pop(line, None)
                self._dirty.add(line)
            self._guards = guards

    def _cell(self, y: int, x: int, char: str) -> tuple[str, str | None]:
        if self._best == (y, x):
            return BEST, "best"
        if (y, x) in self._guards:
            return GUARD, "guard"
        over = self._overlay.get(y)
        if over and x in over:
            return over[x]
        return char, (None if char == " " else "axes")

    def _line_chars(self, y: int) -> str:
        return "".join(self._cell(y, x, c)[0] for x, c in enumerate(self._frame[y]))

    def _style(self, name: str | None) -> Style:
        style = self._styles.get(name)
        if style is None:
            # the full style: a muted colour is blended with the background it sits on
            style = self.rich_style if name is None else self.get_component_rich_style(f"loss-chart--{name}")
            self._styles[name] = style
        return style

    def _build_strip(self, y: int) -> Strip:
        if y >= len(self._frame):
            return Strip.blank(self.size.width, self._style(None))
        segments: list[Segment] = []
        run, run_style = [], None
        for x, c in enumerate(self._frame[y]):
            char, name = self._cell(y, x, c)
            if name != run_style and run:
                segments.append(Segment("".join(run), self._style(run_style)))
                run = []
            run_style = name
            run.append(char)
        if run:
            segments.append(Segment("".join(run), self._style(run_style)))
        return Strip(segments, len(self._frame[y]))

    # ------------------------------------------------------------- the legend
    def legend(self, snap: Snapshot) -> Text:
        """The border title: a key to the curves in their colours, the longest that fits.
        "loss" stays while it fits (the curves' names go first), and in log scale the scale
        is always named (it was the first thing dropped)."""
        scale = "log" if self.log_scale else "linear"
        shown = [("step", "step", len(snap.losses) > 0), ("epoch", "epoch", len(snap.epoch_losses) > 0),
                 ("val", "val", len(snap.val_losses) > 0),
                 ("best", "best", snap.best_val is not None and len(snap.val_losses) > 0),
                 ("ln V", "baseline", True),
                 ("guard", "guard", any(kind == "diverged" for _, kind, _ in getattr(snap, "events", ())))]
        numbers = {"ln V": f" {snap.uniform_loss:.3f}",
                   "best": f" {snap.best_val:.4f}" if snap.best_val is not None else ""}

        def key(with_numbers: bool, leave_out: tuple[str, ...] = ()) -> Text:
            out = Text()
            for name, cls, on in shown:
                if on and name not in leave_out:
                    mark = BEST if name == "best" else GUARD if name == "guard" else "━"
                    out.append(" ")
                    out.append(mark, self._style(cls))
                    out.append(name + (numbers.get(name, "") if with_numbers else ""))
            return out

        full, short = key(True), key(False)
        loss = Text("loss")
        forms = [loss + full + Text(f"  nats, {scale} y"), loss + full + Text(f" {scale}"),
                 loss + short + Text(f" {scale}")]
        if not self.log_scale:
            forms.append(loss + short)
        # narrower: "loss" stays, and the scale's name in log scale; the curves' names go,
        # the baseline first and the step curve last
        scale_tail = Text(" log") if self.log_scale else Text()
        for k in range(1, len(DROP_ORDER) + 1):
            forms.append(loss + key(False, DROP_ORDER[:k]) + scale_tail)  # the last: "loss" alone
        room = self.size.width - 4
        for title in forms:
            if title.cell_len <= room:
                return title
        return Text(scale if self.log_scale else "loss")
