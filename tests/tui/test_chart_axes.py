"""The loss chart's axis maths (tui/render/chart_axes.py) and braille curves (chart_curves.py),
without Textual: ticks inside the axis and in order, labels a reader can tell apart, limits
that hold the data, and curves placed where plotext places its ticks."""

from __future__ import annotations

import math
import subprocess
import sys

from hypothesis import example, given
from hypothesis import strategies as st

from tui.render.chart_axes import (
    Geometry,
    dot,
    dot_line,
    linear_ticks,
    log_ticks,
    rescale,
    step_ticks,
    value_range,
    x_end,
    y_limits,
    y_tick_count,
    y_ticks,
)
from tui.render.chart_curves import BRAILLE_BIT, Curve, RunningSums, braille, topmost

LOSS = st.floats(1e-3, 50.0)


def readable(label: str) -> bool:
    """Short, a number, and a zero reads `0` (never `-0`)."""
    return len(label) <= 9 and math.isfinite(float(label)) and (float(label) != 0 or label == "0")


def test_the_chart_modules_do_not_import_textual_or_plotext():
    code = ("import sys, tui.render.chart_axes, tui.render.chart_curves; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'plotext')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@given(LOSS, LOSS, st.booleans(), st.integers(3, 6))
@example(a=0.001, b=0.0010000000000000002, log=False, count=4)  # one ulp apart: '0.001' twice, once
def test_y_ticks_lie_inside_the_limits_rise_and_read_apart(a, b, log, count):
    low, high = min(a, b), max(a, b)
    ylim = y_limits(low, high, log)
    ticks, labels = y_ticks(ylim, log, count)
    assert len(ticks) >= 2 and len(ticks) == len(labels)
    assert all(ylim[0] - 1e-9 <= t <= ylim[1] + 1e-9 for t in ticks), (ylim, ticks)
    assert all(t0 < t1 for t0, t1 in zip(ticks, ticks[1:])), ticks
    assert len(set(labels)) == len(labels) and all(readable(label) for label in labels), labels


@given(st.floats(-10.0, 10.0), st.floats(1e-4, 20.0), st.integers(3, 6))
def test_linear_ticks_are_no_more_than_asked_and_at_least_two(low, span, count):
    ticks, labels = linear_ticks(*y_limits(low, low + span, False), count)
    assert 2 <= len(ticks) <= count + 1  # the unit is a 1-2-5 number: about `count`, never a crowd
    assert all(readable(label) for label in labels), labels


def test_log_tick_labels_are_the_original_values():
    ticks, labels = log_ticks(1.0, 5.0, 4)
    assert labels == ["1", "2", "5"]
    assert [round(10**t, 9) for t in ticks] == [1.0, 2.0, 5.0]


@given(LOSS, LOSS, st.booleans())
def test_y_limits_hold_the_data(a, b, log):
    low, high = min(a, b), max(a, b)
    y0, y1 = y_limits(low, high, log)
    shown = (math.log10(low), math.log10(high)) if log else (low, high)
    assert y0 < y1 and y0 <= shown[0] + 1e-12 and shown[1] <= y1 + 1e-12
    assert all(math.isfinite(v) for v in (y0, y1))
    assert not rescale((y0, y1), low, high, log) or (shown[1] - shown[0]) < (y1 - y0) / 2


def test_one_point_and_a_constant_loss_still_get_an_axis_with_two_ticks():
    for log in (False, True):
        ylim = y_limits(2.0, 2.0, log)  # one point, or a loss that never moved
        ticks, labels = y_ticks(ylim, log, 5)
        assert ylim[0] < ylim[1] and len(ticks) >= 2 and len(set(labels)) == len(labels), (log, labels)
    y0, y1 = y_limits(0.0, 0.0, False)  # V = 1: every loss is 0
    assert y0 <= 0.0 < y1


def test_the_log_scale_never_sees_a_value_it_cannot_take():
    values = [3.0, float("nan"), 0.0, -1.0, float("inf"), 0.5]
    assert value_range(values, log=True) == (0.5, 3.0)
    assert value_range(values, log=False) == (-1.0, 3.0)
    assert value_range([float("nan"), 0.0], log=True) == (1.0, 1.0)  # nothing drawable
    geometry = Geometry(0, 0, 10, 5, 7, (0.0, 10.0), (-1.0, 1.0), log=True)
    assert geometry.py(0.0) == 0 and geometry.py(-2.0) == 0  # at the bottom, not a math error
    assert Geometry(0, 0, 10, 5, 7, (0.0, 10.0), (0.0, 1.0), log=False).py(float("nan")) is None


@given(st.integers(1, 10**7), st.integers(1, 10**5))
def test_the_x_axis_holds_every_step_and_grows_in_few_rungs(steps, num_batches):
    end = x_end(steps, num_batches)
    assert end >= steps and end >= num_batches
    assert end <= max(num_batches, math.ceil(steps * 4 / 3))  # the next rung is at most a third on
    assert x_end(steps + 1, num_batches) >= end


def test_the_x_axis_changes_a_few_times_per_run():
    ends = {x_end(steps, 100) for steps in range(1, 100_001)}
    assert len(ends) <= 31  # ten rungs per decade, three decades, and the first epoch


@given(st.integers(1, 10**8), st.integers(2, 12))
def test_step_ticks_are_whole_evenly_spaced_and_no_more_than_asked(end, count):
    ticks = step_ticks(end, count)
    assert ticks[0] == 0 and ticks[-1] <= end and 2 <= len(ticks) <= count  # never a lone 0
    gaps = {b - a for a, b in zip(ticks, ticks[1:])}
    assert ticks == [0, end] or len(gaps) == 1 and str(gaps.pop())[0] in "125"


def test_a_taller_chart_gets_more_y_ticks_up_to_six():
    assert [y_tick_count(h) for h in (5, 10, 14, 16, 40)] == [3, 3, 5, 6, 6]


@given(st.floats(-1e3, 1e3), st.floats(1e-3, 1e3), st.floats(0.0, 1.0), st.integers(2, 400))
def test_dot_is_plotexts_own_map(lim0, span, where, dots):
    """The curves are drawn with `dot`, the ticks by plotext: the two must agree."""
    from plotext._utility import get_matrix_data

    lim = (lim0, lim0 + span)
    value = lim0 + where * span
    assert dot(value, lim, dots) == get_matrix_data([value], lim, dots)[0]
    assert 0 <= dot(value, lim, dots) <= dots - 1


@given(st.integers(-50, 200), st.integers(-50, 200), st.integers(-50, 200), st.integers(-50, 200))
def test_dot_line_is_plotexts_segment_and_joins_its_ends(x0, y0, x1, y1):
    from plotext._utility import get_line

    xs, ys = dot_line((x0, y0), (x1, y1))
    assert [xs, ys] == get_line([x0, x1], [y0, y1])
    assert (xs[0], ys[0]) == (x0, y0) and abs(xs[-1] - x1) <= 1 and abs(ys[-1] - y1) <= 1
    for dots in (xs, ys):  # no gap: each dot touches the one before
        assert all(abs(a - b) <= 1 for a, b in zip(dots, dots[1:]))


def test_running_sums_give_the_mean_of_any_slice():
    values = [1.0, 2.0, 4.0, 8.0]
    sums = RunningSums()
    sums.extend(values[:2], 0)
    sums.extend(values, 2)
    assert sums.mean(0, 4) == 3.75 and sums.mean(1, 3) == 3.0


def test_a_curve_has_one_point_per_column_its_mean_and_the_last_one_open():
    geometry = Geometry(0, 0, 5, 4, 6, (0.0, 10.0), (0.0, 10.0), log=False)  # 10 dot columns for 10 steps
    curve = Curve()
    curve.feed([9.0] * 10 + [1.0] * 10)  # 20 steps on an axis of 10: two per column at the end
    curve.bucket(geometry.px)
    columns = [c for c, _ in curve.points] + [curve.tail[0]]
    assert columns == sorted(set(columns))  # one point per column, left to right
    assert curve.tail[0] == geometry.px(20.0)  # the open column is the last step's
    assert math.isclose(sum(y for _, y in curve.points[:4]) / 4, 9.0)
    assert curve.values()[-1] == 1.0


def test_a_curve_draws_braille_inside_the_canvas_only_and_skips_nan():
    geometry = Geometry(0, 0, 4, 2, 4, (0.0, 8.0), (0.0, 1.0), log=False)
    curve = Curve()
    curve.feed([0.5, 2.0, float("nan"), 0.0, 1.0, 0.5, 0.5, 0.5])  # one off the top, one NaN gap
    curve.bucket(geometry.px)
    changed = curve.draw(geometry)
    assert changed and all(0 <= cx < 4 and 0 <= cy < 2 for cx, cy in changed)
    assert all(0 < bits < 0x100 for bits in {**curve.cells, **curve.tail_cells}.values())
    assert braille(BRAILLE_BIT[(0, 0)] | BRAILLE_BIT[(1, 3)]) == "⡈"


def test_a_curve_drawn_twice_redraws_only_its_tail():
    geometry = Geometry(0, 0, 20, 4, 6, (0.0, 40.0), (0.0, 5.0), log=False)
    curve = Curve()
    curve.feed([4.0 - 0.1 * k for k in range(20)])
    curve.bucket(geometry.px)
    first = curve.draw(geometry)
    finished = dict(curve.cells)
    again = curve.draw(geometry)  # nothing new: only the tail's cells
    assert again == set(curve.tail_cells) and again <= first and curve.cells == finished


def test_marks_land_in_the_cell_of_their_point_and_not_off_the_canvas():
    # a 10 x 5 canvas at column 6, line 1 of a 9-line frame (2 lines of x axis below it)
    geometry = Geometry(6, 2, 10, 5, 8, (0.0, 100.0), (0.0, 5.0), log=False)
    assert geometry.mark_at(0.0, 0.0) == (5, 6)  # bottom left
    assert geometry.mark_at(100.0, 5.0) == (1, 15)  # top right
    assert geometry.mark_at(50.0, 2.5)[1] in (10, 11)  # half way across
    assert geometry.mark_at(110.0, 1.0) is None and geometry.mark_at(50.0, 9.0) is None
    assert geometry.mark_at(50.0, float("nan")) is None
    assert geometry.mark_above(100.0) == (1, 15) and geometry.mark_above(-10.0) is None


def test_a_later_curve_covers_an_earlier_one_in_a_shared_cell():
    geometry = Geometry(0, 0, 4, 2, 4, (0.0, 4.0), (0.0, 1.0), log=False)
    low, high = Curve(), Curve()
    low.feed([0.5] * 4)
    high.feed([0.5, 0.5, 0.9, 0.9])
    for curve in (low, high):
        curve.bucket(geometry.px)
        curve.draw(geometry)
    shared = next(cell for cell in low.cells if cell in high.cells)
    order = [("val", high), ("step", low)]  # topmost first
    assert topmost(order, shared)[1] == "val"
    assert topmost(order[1:], shared) == (braille(low.cells[shared]), "step")
    assert topmost(order, (9, 9)) is None  # no curve there: the frame shows through
