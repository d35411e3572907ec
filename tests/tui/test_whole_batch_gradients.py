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
