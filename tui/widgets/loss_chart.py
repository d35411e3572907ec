"""LossChart: loss per step, per-epoch mean, validation, and the uniform baseline ln V.

Long runs stay fast: the per-step curve is averaged into at most ~2 points per column
of the chart, from running sums kept as the history grows (O(new steps) per frame).

Log scale: plotext 5's `yscale("log")` takes the logarithm of the data it holds, in
place, at every build; textual-plotext rebuilds on every render (each resize, each
refresh), so the second build takes the log of logs and raises "math domain error"
(piccolomo/plotext#209). So we never use it: the log view plots log10 of the values
on a linear axis and labels the ticks with the original numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from ..render.throttle import RedrawThrottle

if TYPE_CHECKING:
    from gru_core.session import Snapshot


REPLOT_HZ = 0.5  # while training: a plotext build and its strips cost ~0.1 s of the GIL training shares


class RunningSums:
    """Prefix sums of one append-only loss list, extended as it grows."""

    def __init__(self) -> None:
        self._source: object = None
        self._prefix: list[float] = [0.0]

    def update(self, values: Sequence[float], run: object) -> None:
        """values: the losses of run `run` so far (a new run starts the sums again)."""
        source = run
        if source != self._source or len(values) < len(self._prefix) - 1:
            self._source, self._prefix = source, [0.0]
        prefix = self._prefix
        for k in range(len(prefix) - 1, len(values)):
            prefix.append(prefix[-1] + values[k])

    def mean(self, start: int, stop: int) -> float:
        return (self._prefix[stop] - self._prefix[start]) / (stop - start)


def epoch_points(
    means: Sequence[float], ends: Sequence[int], max_points: int
) -> tuple[list[float], list[float]]:
    """(step at each epoch end, mean loss), every k-th epoch when there are more than max_points."""
    n = len(means)
    stride = max(1, -(-n // max_points))
    picked = list(range(stride - 1, n, stride))
    if picked and picked[-1] != n - 1:
        picked.append(n - 1)  # the newest epoch is always drawn
    return [float(ends[e]) for e in picked], [means[e] for e in picked]


def downsample(sums: RunningSums, n: int, max_points: int) -> tuple[list[float], list[float]]:
    """(step numbers, losses) of the first n steps, averaged into at most max_points buckets."""
    if n <= max_points:
        return [float(k + 1) for k in range(n)], [sums.mean(k, k + 1) for k in range(n)]
    xs, ys = [], []
    for b in range(max_points):
        start, stop = n * b // max_points, n * (b + 1) // max_points
        xs.append((start + stop + 1) / 2)
        ys.append(sums.mean(start, stop))
    return xs, ys


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
    return [math.log10(v) for v in ticks], [f"{v:.3g}" for v in ticks]


def step_ticks(end: float, count: int) -> list[int]:
    """Whole step numbers 0, d, 2d, … up to end, d a 1-2-5 number giving at most `count` ticks."""
    end = max(1, int(end))
    for exponent in range(0, 12):
        for mantissa in (1, 2, 5):
            d = mantissa * 10**exponent
            if end // d + 1 <= max(2, count):
                return list(range(0, end + 1, d))
    return [0, end]


SERIES = (  # (name in the legend, plotext colour); the legend sits in the border, off the data
    ("step", "cyan"), ("epoch", "orange"), ("val", "magenta"), ("ln V", "gray"))
COLOUR = dict(SERIES)


class LossChart(PlotextPlot):
    """The loss chart. `l` toggles a log y axis."""

    COMPONENT_CLASSES = {"loss-chart--step", "loss-chart--epoch", "loss-chart--val"}

    # repaint=False: a new snapshot arrives several times a second; replot() refreshes when it draws
    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    log_scale: reactive[bool] = reactive(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._sums = RunningSums()
        self.points_drawn = 0  # how many points the step curve had at the last draw
        self._throttle = RedrawThrottle(self, self.replot)
        self._plot_version = 0  # counts replots: what the cached render below was built from
        self._rendered: tuple[tuple, RenderResult] | None = None

    def render(self) -> RenderResult:
        """PlotextPlot builds the whole figure at every render (~40 ms); Textual renders a
        widget again for reasons of its own (a neighbour's refresh, a scroll, a layout pass),
        so keep the last build until the data, the size or the theme changes."""
        key = (self._plot_version, self.size, self.app.theme)
        if self._rendered is None or self._rendered[0] != key:
            self._rendered = (key, super().render())
        return self._rendered[1]

    def watch_snapshot(self, old: Snapshot | None, new: Snapshot | None) -> None:
        # The last loss under the chart follows every snapshot, as the status line does.
        subtitle = ""
        if new is not None and new.loss is not None:
            subtitle = f"last {new.loss:.4f} nats = {new.bits_per_char:.3f} bits/char"
            if len(subtitle) > self.size.width - 4:
                subtitle = f"last {new.loss:.4f} nats"
        self.border_subtitle = subtitle
        # A plotext build costs tens of ms: while training, redraw at most REPLOT_HZ a second.
        self._throttle.request(old, new, 1 / REPLOT_HZ)

    def watch_log_scale(self) -> None:
        self.replot()

    def on_resize(self) -> None:
        self.replot()

    def legend(self, step: bool, epoch: bool, val: bool, uniform: float, scale: str) -> str:
        """The border title: a key to the curves, in their colours (the longest that fits)."""
        shown = {"step": step, "epoch": epoch, "val": val, "ln V": True}
        names = {"ln V": f"ln V {uniform:.3f}"}
        legend = " ".join(f"[{colour}]━[/]{names.get(name, name)}" for name, colour in SERIES if shown[name])
        room = self.size.width - 4
        short = " ".join(f"[{colour}]━[/]{name}" for name, colour in SERIES if shown[name])
        for title in (f"loss {legend}  nats, {scale} y", f"loss {legend} {scale}", f"loss {legend}",
                      f"loss {short}"):
            if len(Text.from_markup(title)) <= room:
                return title
        return title

    def replot(self) -> None:
        self._throttle.drawn()
        self._plot_version += 1
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        snap = self.snapshot
        scale = "log" if self.log_scale else "linear"
        if snap is None:
            plt.title("loss: waiting for the model")
            self.refresh()
            return
        n = len(snap.losses)
        self._sums.update(snap.losses, getattr(snap, "run_id", None))
        max_points = max(8, 2 * max(1, self.size.width - 12))
        xs, ys = downsample(self._sums, n, max_points)
        self.points_drawn = len(xs)
        epoch_x, epoch_y = epoch_points(snap.epoch_losses, snap.epoch_steps, max_points)
        val_x = [float(s) for s, _ in snap.val_losses]
        val_y = [v for _, v in snap.val_losses]
        uniform = snap.uniform_loss
        x_end = float(max(n, snap.num_batches, 1))

        every = [v for v in (*ys, *epoch_y, *val_y, uniform) if v > 0 and math.isfinite(v)]
        if self.log_scale:
            low, high = (min(every), max(every)) if every else (1.0, 1.0)  # V = 1: every loss is 0
            if high / low < 1.5:  # too narrow a range for ticks to mean anything: widen
                low, high = low / 1.25, high * 1.25
            f = lambda values: [math.log10(v) if v > 0 and math.isfinite(v) else math.log10(low)
                                for v in values]
            ticks, labels = log_ticks(low, high, max(3, min(6, (self.size.height - 4) // 2)))
            plt.yticks(ticks, labels)
            plt.ylim(math.log10(low), math.log10(high))  # the ticks span the axis: none fall off it
        else:
            f = lambda values: list(values)

        if xs:
            plt.plot(xs, f(ys), color=COLOUR["step"], marker="braille")
        if epoch_y:
            plt.plot(epoch_x, f(epoch_y), color=COLOUR["epoch"], marker="braille")
        if val_y:
            plt.plot(val_x, f(val_y), color=COLOUR["val"], marker="braille")
        plt.plot([0.0, x_end], f([uniform, uniform]), color=COLOUR["ln V"], marker="braille")
        plt.xlim(0, x_end)
        ticks = step_ticks(x_end, max(2, (self.size.width - 8) // 8))
        plt.xticks(ticks, [str(t) for t in ticks])
        plt.xlabel("step")
        self.border_title = self.legend(bool(xs), bool(epoch_y), bool(val_y), uniform, scale)
        if not xs:
            plt.title("nats: space trains, n steps")
        self.refresh()
