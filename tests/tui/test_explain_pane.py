"""The matrices pane explains its numbers: a cell cursor (x, arrows), mouse hover and click,
the explanation panel, and the gradient-through-time chart, as they show on screen."""

from __future__ import annotations

import torch

from gru_core import TrainConfig
from gru_core.formatting import fixed, significant
from gru_core.model import GRUModel
from tests.core.test_explain import _reference
from tui.app import GRUApp
from tui.widgets.matrices import MatricesView
from tui.widgets.matrix_lines import MatrixLines

from .conftest import screen_text, wait_ready

SIZE = (120, 40)


def n4(v: float) -> str:
    """A number as the explanations print it: 4 decimals, the grid's minus sign."""
    return f"{v:.4f}"


def where(view: MatricesView, name: str, row: int, col: int) -> tuple[int, int]:
    """(x, line) of a cell in the pane's lines."""
    for line, run in view.lines.writer.placed.items():
        if run.row == row and run.col0 <= col < run.col0 + run.count and run.cell(0).name == name:
            return run.span(col - run.col0)[0], line
    raise AssertionError(f"no cell {name}[{row}, {col}] in the pane")


async def in_view(pilot, view: MatricesView, name: str, row: int, col: int) -> tuple[int, int]:
    """The offset in the lines' widget to point at a cell: scrolled into view, its position
    read from the layout once it has settled (a late re-wrap moves every cell)."""
    lines = view.lines
    for _ in range(10):
        x, line = where(view, name, row, col)
        top, height = lines.scroll_offset.y, lines.scrollable_content_region.height
        if top <= line < top + height:
            await pilot.pause()
            if where(view, name, row, col) == (x, line) and lines.scroll_offset.y == top:
                return x, line - top
        else:
            lines.scroll_to(y=max(0, line - height // 2), animate=False, immediate=True)
            await pilot.pause()
    raise AssertionError(f"{name}[{row}, {col}] never settled in view")


async def test_x_enters_cursor_mode_and_arrows_select_cells_with_their_equation(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        view = article_app.query_one(MatricesView)
        trace = article_app.shown.trace
        assert "x: point at any number" in view.explanation
        await pilot.press("x")
        assert isinstance(article_app.focused, MatrixLines)
        assert view.explanation.startswith("h_prev[seq 1, unit 1] at t = 1")
        await pilot.press("down", "down", "right")  # h_prev seq 2, then z seq 1, then its unit 2
        text = view.explanation
        assert text.startswith("z[seq 1, unit 2] at t = 1"), text
        assert "z = σ(Wz[x='M', 2] + Σ_i h_prev[i]·Uz[i, 2] + bz[2])" in text
        assert text.rstrip().endswith("= " + n4(float(trace.z[0, 0, 1])))
        assert view.t == 0  # in cursor mode ←/→ move the cursor, not the time step
        await pilot.press("x", "right")  # leave; → steps time again, the cursor follows to t = 2
        assert view.t == 1 and view.explanation.startswith("z[seq 1, unit 2] at t = 2")
        assert view.explanation.rstrip().endswith("= " + n4(float(trace.z[1, 0, 1])))


async def test_hover_and_click_select_cells_and_the_panel_explains_them(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        view = article_app.query_one(MatricesView)
        trace = article_app.shown.trace
        x, y = await in_view(pilot, view, "y_hat", 1, 2)  # seq 2, 't'
        await pilot.hover(MatrixLines, offset=(x + 2, y))
        text = view.explanation
        assert text.startswith("y_hat[seq 2, char 't'] at t = 1"), text
        assert "y_hat = exp(logit − m) / Σ_v exp(logit_v − m), m = max_v logit_v" in text
        assert text.rstrip().endswith("= " + n4(float(trace.y_hat[0, 1, 2])))
        x, y = await in_view(pilot, view, "dUz", 1, 0)  # below the fold: scroll there, then click
        await pilot.click(MatrixLines, offset=(x + 2, y))
        text = view.explanation
        want = float(article_app.shown.detail.grads["Uz"][1, 0])
        assert text.startswith(f"dUz[2, 1] = {n4(want)}, over the whole batch of 2"), text
        assert "dL/dUz[2, 1] = Σ_t Σ_b h_prev[t, b, 2]·da_z[t, b, 1]" in text
        assert "(t1)" in text and "(t3)" in text  # T = 3: each step's term is listed
        assert text.splitlines()[2].rstrip().endswith("= " + n4(want))
        assert isinstance(article_app.focused, MatrixLines)  # a click enters cursor mode


async def test_a_heatmap_cell_shows_its_unit_index():
    app = GRUApp(TrainConfig.default(hidden_size=64))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        view = app.query_one(MatricesView)
        assert "heatmap" in view.plain
        x, y = await in_view(pilot, view, "h", 0, 40)
        await pilot.click(MatrixLines, offset=(x, y))
        assert view.explanation.startswith("h[seq 1, unit 41] at t = 1"), view.explanation
        await pilot.press("right")
        assert view.explanation.startswith("h[seq 1, unit 42] at t = 1")
        want = float(app.shown.trace.h[0, 0, 41])
        assert view.explanation.rstrip().endswith("= " + n4(want))


async def test_gradient_through_time_chart_shows_autograd_norms(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        snap = article_app.shown
        model = GRUModel(len(snap.vocab), snap.config.hidden_size, reset=snap.config.reset)
        model.load_state_dict(snap.detail.weights)
        tr = snap.trace
        ref = _reference(model, tr.x, tr.y, tr.h_prev[0])  # autograd, from the weights and the batch
        norms, mean_z = ref["dh_norm"].tolist(), ref["z"].mean(dim=(1, 2)).tolist()
        chart = article_app.query_one(MatricesView).through_time
        assert "‖dL/dh_t‖ " in chart and f"t1 {significant(norms[0])}  t3 {significant(norms[-1])}" in chart
        assert "mean z " in chart and f"t1 {fixed(mean_z[0], 2)}  t3 {fixed(mean_z[-1], 2)}" in chart
        assert torch.allclose(snap.detail.dh_norm.double(), ref["dh_norm"], atol=1e-5)


async def test_term1_shows_zero_not_minus_zero_where_y_is_0(article_app):
    """y·log(y_hat) with y = 0 is -0.0 in floating point: the pane and the explanation print
    0.0000, as the status line prints a zero loss, never -0.0000."""
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        view = article_app.query_one(MatricesView)
        trace = article_app.shown.trace
        target = int(trace.y[0, 0])
        other = (target + 1) % trace.term1.shape[-1]
        assert str(float(trace.term1[0, 0, other])) == "-0.0"  # what torch computes there
        assert "-0.0000" not in view.plain, view.plain
        x, y = await in_view(pilot, view, "term1", 0, other)
        await pilot.click(MatrixLines, offset=(x + 2, y))
        text = view.explanation
        assert text.startswith("term1[seq 1, char"), text
        assert text.rstrip().endswith("= 0.0000") and "-0.0000" not in text, text


def _screen_lines(app) -> list[str]:
    return screen_text(app).splitlines()


async def _settled_screen(pilot) -> list[str]:
    """The screen once two frames in a row show the same text (a late re-wrap moves cells)."""
    before = None
    for _ in range(50):
        await pilot.pause()
        now = _screen_lines(pilot.app)
        if now == before:
            return now
        before = now
    raise AssertionError("the screen never settled")


async def test_at_h256_a_click_and_the_arrows_explain_the_cell_the_screen_highlights():
    """H=256: z is a heatmap wrapped in parts headed "units a…b". The click position comes
    from the screen's own text (the part's heading, the row's "seq" label); the explanation
    must name that unit and show its value, and after → and ↓ the highlight on screen and
    the explanation must agree again."""
    app = GRUApp(TrainConfig.default(hidden_size=256, batch_size=2, seq_len=5))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        view = app.query_one(MatricesView)
        lines = view.lines
        trace = app.shown.trace
        z_line = next(k for k, text in enumerate(view.plain.splitlines()) if text.startswith("z [2,256]"))
        lines.scroll_to(y=z_line, animate=False, immediate=True)
        screen = await _settled_screen(pilot)
        region = lines.content_region
        rows = [(y, screen[y][region.x:region.right]) for y in range(region.y, region.bottom)]
        assert rows[0][1].startswith("z [2,256]"), rows[0][1]
        parts = [(y, row) for y, row in rows if "units " in row]
        assert len(parts) >= 3, rows
        (y_part, heading), (y_next, next_heading) = parts[1], parts[2]
        body_x = region.x + heading.index("units ")  # a part's heading starts where its cells do
        first_unit = int(heading.split("units ")[1].split("…")[0])
        seq2_y = next(y for y, row in rows if y > y_part and row.startswith("seq 2"))
        x = body_x + 10
        await pilot.click(offset=(x, seq2_y))
        text = view.explanation
        unit = first_unit + 10
        assert text.startswith(f"z[seq 2, unit {unit}] at t = 1"), text
        assert text.rstrip().endswith("= " + n4(float(trace.z[0, 1, unit - 1]))), text

        await pilot.press("right", "right", "right", "down")  # → three units, ↓ to the next part's seq 1
        text = view.explanation
        next_first = int(next_heading.split("units ")[1].split("…")[0])
        unit = next_first + 13
        assert text.startswith(f"z[seq 1, unit {unit}] at t = 1"), text
        assert text.rstrip().endswith("= " + n4(float(trace.z[0, 0, unit - 1]))), text
        screen = await _settled_screen(pilot)  # read again: ↓ scrolls when the cell is out of view
        rows = [(y, screen[y][region.x:region.right]) for y in range(region.y, region.bottom)]
        y_next = next(y for y, row in rows if row.strip() == next_heading.strip())
        seq1_y = next(y for y, row in rows if y > y_next and row.startswith("seq 1"))
        cursor = lines.get_component_rich_style("matrix-lines--cursor").bgcolor
        assert app.screen.get_style_at(body_x + 13, seq1_y).bgcolor == cursor  # highlighted there
        assert app.screen.get_style_at(body_x + 12, seq1_y).bgcolor != cursor  # and only there
