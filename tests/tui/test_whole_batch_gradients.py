"""The gradients pane shows the gradients the step applies: the whole batch's, on real text
at B 16, T 32, V ~ 90 (4 of its 16 sequences shown), and no heading or explanation is cut."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from gru_core import TrainConfig
from tui.app import GRUApp
from tui.widgets.matrices import MatricesView
from tui.widgets.matrix_lines import MatrixLines

from .conftest import screen_text, wait_ready, wait_rendered
from .test_explain_pane import in_view

NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?|-?\d\.?\de-\d+|(?<=\s)0(?=\s|$)")
SOURCE = Path(inspect.__file__).read_text(encoding="utf-8")[:40_000]  # Python's own inspect.py


def real_text_config() -> TrainConfig:
    return TrainConfig(text=SOURCE, hidden_size=4, seq_len=32, batch_size=16, optimizer="adam", lr=0.01,
                       clip=5.0, epochs=100, seed=3)


def gradient_blocks(plain: str) -> tuple[str, dict[str, list[float]], dict[str, tuple[str, str]]]:
    """(the heading, the numbers of each block in reading order, each heatmap's printed range)."""
    section = plain[plain.index("gradients step"):]
    heading, numbers, ranges, name = "", {}, {}, None
    for line in section.splitlines():
        label = re.match(r"\s*d(\w+) \[[\d,]+\]", line)
        if label:
            name = label.group(1)
            numbers[name] = []
            line = line[label.end():]
        elif name is None:
            heading += line + "\n"
            continue
        heat = re.search(r"heatmap, from (\S+) to (\S+)", line)
        if heat:
            ranges[name] = heat.groups()
            continue
        row = line.split("'", 2)[-1] if line.lstrip().startswith("'") else line
        row = re.sub(r"^\s*h\d+", "", row)  # a U or Wy row's label: h1 …
        numbers[name] += [float(v) for v in NUMBER.findall(row)]
    return heading, numbers, ranges


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_the_gradients_pane_shows_what_the_step_applies_on_real_text(size):
    app = GRUApp(real_text_config())
    async with app.run_test(size=size) as pilot:
        await wait_ready(pilot)
        for step in range(1, 4):
            await pilot.press("n")
            await wait_rendered(pilot, lambda s, step=step: s.step == step and s.trace_step == step)
        view = app.query_one(MatricesView)
        snap = app.shown
        assert snap.config.batch_size == 16 and snap.config.seq_len == 32 and 80 <= len(snap.vocab) <= 100
        heading, numbers, ranges = gradient_blocks(view.plain)
        assert "gradients step 4 applies" in heading and "all 16 sequences" in heading, heading
        width = view.lines.scrollable_content_region.width
        for line in view.plain.splitlines():  # the headings wrap: none runs past the pane's edge
            if line.startswith(("batch ", "B = ", "gradients", "(clipped")):
                assert len(line) <= width, (line, width)
        assert "t = 1 of 32" in screen_text(app)
        # the explanations of a sample of cells, read off the panel (before the step: same weights)
        sample = [("dWz", 0, 0), ("dUh", 1, 2), ("dbr", 0, 3), ("dWh", 5, 1)]
        if "heatmap" in view.plain:
            sample.append(("dWy", 2, len(snap.vocab) - 1))
        explained = {}
        for name, i, j in sample:
            x, y = await in_view(pilot, view, name, i, j)
            await pilot.click(MatrixLines, offset=(x + (0 if name == "dWy" else 2), y))
            text = view.explanation
            title = text.splitlines()[0]
            assert title.startswith(name), text
            printed = re.search(r"\] = (\S+),", title).group(1)
            value = float(printed.replace("−", "-"))
            assert any(line.rstrip().endswith(f"= {printed}") for line in text.splitlines()[1:]), text
            explained[(name, i, j)] = value
            # the title, with the result, is on screen, whole
            result = title.split(",")[0]
            assert result in screen_text(app), (result, screen_text(app))
        await pilot.press("n")  # the step those gradients are of
        await wait_rendered(pilot, lambda s: s.step == 4)
        applied = app.shown.grads
        for name, shown in numbers.items():
            if name in ranges:
                lo, hi = (float(v) for v in ranges[name])
                g = applied[name]
                assert lo == pytest.approx(float(g.min()), rel=5e-3, abs=1e-4), name
                assert hi == pytest.approx(float(g.max()), rel=5e-3, abs=1e-4), name
                continue
            want = applied[name].flatten().tolist()
            assert len(shown) == len(want), (name, len(shown), len(want))
            for got, expected in zip(shown, want):
                assert abs(got - expected) <= 1e-4, (name, got, expected)
        for (name, i, j), value in explained.items():
            g = applied[name[1:]]
            expected = float(g[i, j] if g.dim() == 2 else g[j])
            assert abs(value - expected) <= 1e-4, (name, i, j, value, expected)


def panel_rows(app, view: MatricesView) -> list[str]:
    """The explanation panel's rows as the screen shows them (inside the pane's border)."""
    region = view.query_one("#matrices-explain").scrollable_content_region
    rows = screen_text(app).splitlines()[region.y:region.y + region.height]
    return [row[region.x:region.x + region.width].rstrip() for row in rows]


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_explanation_shows_its_result_and_scrolls_to_the_rest(size):
    """H 8, T 32, B 4 (the issue's case): the panel was at most 9 rows and did not scroll,
    so 6 of 10 gradient cells lost their result at 80x24 and 4 their "where" line at 120x40."""
    app = GRUApp(TrainConfig(text=SOURCE, hidden_size=8, seq_len=32, batch_size=4, optimizer="adam",
                             lr=0.01, epochs=100, seed=3))
    async with app.run_test(size=size) as pilot:
        await wait_ready(pilot)
        view = app.query_one(MatricesView)
        panel = view.query_one("#matrices-explain")
        cells = [("dWz", 5, 0), ("dUz", 1, 2), ("dbz", 0, 3), ("dWr", 7, 1), ("dUr", 0, 0), ("dbr", 0, 1),
                 ("dWh", 3, 2), ("dUh", 2, 2), ("dbh", 0, 0), ("dby", 0, 3)]
        for name, i, j in cells:
            x, y = await in_view(pilot, view, name, i, j)
            heat = name == "dby" and "heatmap" in view.plain
            await pilot.click(MatrixLines, offset=(x + (0 if heat else 2), y))
            text = view.explanation
            assert text.startswith(name), text
            result = text.splitlines()[0].split(",")[0]  # "dWz['e', 1] = 0.0012"
            await pilot.pause()
            top = panel_rows(app, view)
            assert result in top[0], (result, top)  # the result, on the panel's first row
            rows = []
            for row in range(int(panel.max_scroll_y) + 1):  # scrolled a row at a time: every row read once
                panel.scroll_to(y=row, animate=False, immediate=True)
                await pilot.pause()
                rows.append(panel_rows(app, view)[0])
            rows += panel_rows(app, view)[1:]
            on_screen = " ".join(" ".join(rows).split())
            for line in text.splitlines():  # every line reachable, whole (wrapped between words)
                assert " ".join(line.split()) in on_screen, (line, rows)
