"""LossChart: loss per step, per-epoch mean, validation (its best point marked), and the
uniform baseline ln V.

Drawn incrementally, because it is redrawn while training shares the GIL with it:

- plotext draws the frame (axes, ticks, labels, title) at a full rebuild, which happens
  only when the scale changes (the x axis grows, a curve leaves the y range), on resize,
  on the log toggle and on a new run. Its matrix is read directly, not through an ANSI
  string parsed back (`plotext_frame`, the one place that knows plotext's insides).
- the curves are braille dots placed with plotext's own coordinate mapping. What the axes
  show (ticks, limits, when to rescale) is decided in tui/render/chart_axes.py, and the
  curves are averaged and drawn as braille in tui/render/chart_curves.py; only the screen
  rows that new columns touch are rendered again (Textual's Line API: `render_line` serves
  cached strips, so a border or neighbour refresh costs nothing).

Colours come from the component classes (and so from the theme): a light theme works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

# plotext 5 has no public figure object (its public functions draw on one global figure)
# and no public way to say where the canvas lies in the frame: its private names are used
# in plotext_frame only.
from plotext._figure import _figure_class as PlotextFigure
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from gru_core.formatting import fixed, significant

from ..keys import key_for
from ..render.chart_axes import (
    Geometry,
    linear_ticks,  # noqa: F401  (tests check the y ticks through this module)
    rescale,
    step_ticks,
    value_range,
    x_end,
    x_tick_count,
    y_limits,
    y_tick_count,
    y_ticks,
)
from ..render.chart_curves import Curve, topmost
from ..render.throttle import RedrawThrottle

if TYPE_CHECKING:
    from gru_core.session import Snapshot


REDRAW_S = 0.5  # while training: new columns at most this often (a rescale is a full rebuild)
LABEL_WIDTH = 5  # y tick labels are padded to this: the canvas keeps its width as the scale changes
BEST = "◆"
GUARD = "▼"  # where the divergence guard put good weights back (gru_core/loop.py)
# The legend's names in the order a narrow border drops them ("loss" itself stays).
DROP_ORDER = ("guard", "ln V", "best", "epoch", "val", "step")
# Curves in drawing order (a later one covers an earlier one in a shared cell): legend name, class
SERIES = (("ln V", "baseline"), ("step", "step"), ("epoch", "epoch"), ("val", "val"))


def plotext_frame(plt: PlotextFigure, width: int, height: int, draw: Callable[[PlotextFigure], None]
                  ) -> tuple[list[list[str]], tuple[int, int, int, int, int]]:
    """plotext builds a colourless frame of this size with what `draw` adds: its characters
    by screen line (top first), and where its canvas lies in it (the first column, the first
    row from the bottom, its width and height in cells, the frame's rows: Geometry's first
    five). Every private plotext name the chart needs is here."""
    plt.clear_figure()
    plt.plotsize(width, height)
    plt._set_size(width, height)  # textual-plotext did both: plotext needs both
    plt.theme("clear")  # no colours: the strips take them from the component classes
    draw(plt)
    plt.build()
    matrix = (plt.monitor if plt._no_plots else plt._get_subplot(1, 1).monitor).matrix  # one plot
    frame = [list(matrix.marker[row]) for row in reversed(matrix.Rows)]
    cols, rows = matrix.Cols_canvas, matrix.Rows_canvas
    return frame, (cols.start, rows.start, max(0, len(cols)), max(0, len(rows)), matrix.rows)


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
            last = f"last {fixed(snap.loss)} nats"
            lr = f"lr {significant(snap.lr)}"
            for form in (f"{last} = {fixed(snap.bits_per_char, 3)} bits/char  {lr}",
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
        return value_range(values, self.log_scale)

    def _layout(self, snap: Snapshot, end: int, ylim: tuple[float, float]) -> Geometry:
        """plotext draws the frame for these limits; where its canvas is."""
        self.rebuilds += 1
        width, height = self.size
        log = self.log_scale

        def draw(plt: PlotextFigure) -> None:
            plt.plot([0.0], [ylim[0]], marker=" ")  # plotext draws axes for data: one invisible point
            plt.xlim(0, end)
            plt.ylim(*ylim)
            ticks, labels = y_ticks(ylim, log, y_tick_count(height))
            plt.yticks(ticks, [label.rjust(LABEL_WIDTH) for label in labels])
            xticks = step_ticks(end, x_tick_count(width))
            plt.xticks(xticks, [str(t) for t in xticks])
            plt.xlabel("step")
            if not len(snap.losses):
                plt.title(f"nats: {key_for('toggle')} trains, {key_for('step')} steps")

        self._frame, canvas = plotext_frame(self.plt, width, height, draw)
        return Geometry(*canvas, (0.0, float(end)), ylim, log)

    def _frame_only(self, snap: Snapshot | None) -> None:
        """No curves: waiting for the model (or no room)."""
        width, height = self.size
        self._overlay, self._best, self._guards = {}, None, frozenset()
        self._strips.clear()
        self._frame = []
        if width > 0 and height > 0:
            self._frame, _ = plotext_frame(self.plt, width, height,
                                           lambda plt: plt.title("loss: waiting for the model"))
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
            top = topmost(order, cell)
            line, column = geometry.screen(cell)
            row = self._overlay.setdefault(line, {})
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
            best = geometry.mark_at(float(snap.best_step), snap.best_val)
        if best != self._best:
            for at in (self._best, best):
                if at is not None:
                    self._strips.pop(at[0], None)
                    self._dirty.add(at[0])
            self._best = best

    def _place_guards(self, snap: Snapshot, geometry: Geometry) -> None:
        """A mark on the canvas's top line at each step where the guard put good weights back."""
        marks = (geometry.mark_above(float(step)) for step, kind, _ in getattr(snap, "events", ())
                 if kind == "diverged")
        guards = frozenset(mark for mark in marks if mark is not None)
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
        numbers = {"ln V": f" {fixed(snap.uniform_loss, 3)}",  # a reference line: 3 places keep the key short
                   "best": f" {fixed(snap.best_val)}" if snap.best_val is not None else ""}

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
