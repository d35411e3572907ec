"""MatrixLines: the matrices pane's lines on Textual's Line API, with a cell cursor.

render_line draws only the visible lines, each strip cached until the next rewrite. Every
number is a cell (the writer's `placed` runs say where): the arrows (in cursor mode, the
widget focused), a hover or a click select one, and the pane (MatricesView) explains it.
A selection repaints the two lines the cursor left and reached, nothing else.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable
from operator import attrgetter
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gru_core.equations import Cell

from ..render.matrix_text import MatrixWriter

if TYPE_CHECKING:
    from textual import events


def cell_key(cell: Cell) -> tuple[str, int, int]:
    """What the cursor follows across time steps and snapshots: matrix, row, column."""
    return (cell.name, cell.row, cell.col)


class MatrixLines(ScrollView, can_focus=True):
    """The matrices' lines, drawn with render_line; a cell cursor over their numbers."""

    COMPONENT_CLASSES = {"matrix-lines--cursor"}
    # A press selects a cell, not text (the lines carry no selectable offsets anyway); with
    # text selection on, every press and release repainted the whole screen.
    ALLOW_SELECT = False
    DEFAULT_CSS = """
    MatrixLines {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;  /* rows wrap to one width whether or not the scrollbar shows */
    }
    MatrixLines > .matrix-lines--cursor {
        background: $accent 60%;
        text-style: bold underline;
    }
    MatrixLines:focus > .matrix-lines--cursor {
        background: $accent;
        text-style: bold;
    }
    """
    BINDINGS = [
        Binding("up", "cursor(0, -1)", "Cell ↑", show=False),
        Binding("down", "cursor(0, 1)", "Cell ↓", show=False),
        Binding("left", "cursor(-1, 0)", "Cell ←", show=False),
        Binding("right", "cursor(1, 0)", "Cell →", show=False),
        Binding("x", "leave", "Leave cursor", show=False),
    ]

    class Selected(Message):
        """The cursor moved to a cell (or off every cell: None)."""

        def __init__(self, cell: Hashable | None) -> None:
            super().__init__()
            self.cell = cell

    cursor: reactive[tuple[str, int, int] | None] = reactive(None, repaint=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.writer = MatrixWriter(80)
        self._strips: dict[int, Strip] = {}  # line -> its strip, uncropped, until the next rewrite
        self._at: tuple[int, int] | None = None  # the cursor's (line, index in its run)
        self.lines_rendered = 0  # render_line calls that built a strip (the cost of a frame)
        self._style: Style | None = None  # this widget's rich style, until the styles change
        self._styles: dict[tuple, Style] = {}  # (line's style, span's) -> over this widget's, until then
        self._order: list[int] | None = None  # the lines with cells, top to bottom (until the next rewrite)

    # ------------------------------------------------------------- content
    def show(self, writer: MatrixWriter) -> None:
        self.writer = writer
        self._strips.clear()
        self._order = None
        self._at = self.find(self.cursor)
        self.virtual_size = Size(writer.width, len(writer.lines))
        self.refresh()
        self.post_message(self.Selected(self.cell))

    def find(self, key: tuple[str, int, int] | None) -> tuple[int, int] | None:
        """(line, index) of the cell with this key in the lines shown, if it is there."""
        if key is None:
            return None
        name, row, col = key
        for line, run in self.writer.placed.items():  # rows and columns first: a Cell is made per candidate
            if run.row == row and run.col0 <= col < run.col0 + run.count:
                first: Cell = run.cell(0)  # type: ignore[assignment]
                if first.name == name:
                    return line, col - run.col0
        return None

    @property
    def order(self) -> list[int]:
        """The lines that hold cells, top to bottom."""
        if self._order is None:
            self._order = sorted(self.writer.placed)
        return self._order

    @property
    def cell(self) -> Cell | None:
        """The cell under the cursor, at the time step shown."""
        if self._at is None:
            return None
        line, k = self._at
        return self.writer.placed[line].cell(k)  # type: ignore[return-value]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._styles.clear()
        self._strips.clear()

    def _style_of(self, base: str | Style, span: str | Style) -> Style:
        """A span's style over its line's and this widget's, made once per distinct pair."""
        style = self._styles.get((base, span))
        if style is None:
            get = self.app.console.get_style
            style = self._styles[(base, span)] = (self._style or self.rich_style) + get(
                base, default=Style.null()) + get(span, default=Style.null())
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        if self._style is None:  # rich_style walks the DOM for the background: once, not per line
            self._style = self.rich_style
        rich_style = self._style
        if index >= len(self.writer.lines):
            return Strip.blank(width, rich_style)
        strip = self._strips.get(index)
        if strip is None:
            text = self.writer.lines_text(index, index + 1)[0]
            if self._at is not None and index == self._at[0]:
                x0, x1 = self.writer.placed[index].span(self._at[1])
                text = text.copy()
                text.stylize(self.get_component_rich_style("matrix-lines--cursor"), x0, x1)
            segments = line_segments(text, self._style_of)
            if segments is None:  # overlapping spans (the cursor's over a cell's): rich combines them
                strip = Strip(text.render(self.app.console), text.cell_len).apply_style(rich_style)
            else:
                strip = Strip(segments, text.cell_len)
            self._strips[index] = strip
            self.lines_rendered += 1
        return strip.crop_extend(scroll_x, scroll_x + width, rich_style)

    # ------------------------------------------------------------- the cursor
    def select(self, key: tuple[str, int, int] | None, scroll: bool = True) -> None:
        if key == self.cursor:
            return
        old = self._at
        self.cursor = key
        self._at = self.find(key)
        for at in (old, self._at):
            if at is not None:
                self._strips.pop(at[0], None)
                self.refresh_line(at[0])
        if scroll and self._at is not None:
            line, k = self._at
            x0, x1 = self.writer.placed[line].span(k)
            self.scroll_to_region(Region(x0, line, x1 - x0, 1), animate=False, immediate=True)
        self.post_message(self.Selected(self.cell))

    def refresh_line(self, line: int) -> None:
        self.refresh(Region(0, line - self.scroll_offset.y, self.size.width, 1))

    def enter(self) -> None:
        """Cursor mode: focus here; the cursor starts on the first number in view."""
        if self._at is None and self.order:
            k = bisect_left(self.order, self.scroll_offset.y)
            line = self.order[k] if k < len(self.order) else self.order[0]
            self.select(cell_key(self.writer.placed[line].cell(0)))  # type: ignore[arg-type]
        self.focus()

    def action_leave(self) -> None:
        self.screen.set_focus(None)

    def action_cursor(self, dx: int, dy: int) -> None:
        if self._at is None:
            self.enter()
            return
        line, k = self._at
        placed = self.writer.placed
        if dx:
            if 0 <= k + dx < placed[line].count:
                self.select(cell_key(placed[line].cell(k + dx)))  # type: ignore[arg-type]
            return
        x0, x1 = placed[line].span(k)
        order = self.order
        n = bisect_right(order, line) if dy > 0 else bisect_left(order, line) - 1
        if not 0 <= n < len(order):
            return
        run = placed[order[n]]
        nearest = max(0, min(run.count - 1, int(((x0 + x1) / 2 - run.x0) // run.width)))
        self.select(cell_key(run.cell(nearest)))  # type: ignore[arg-type]

    def cell_at(self, x: int, y: int) -> Cell | None:
        """The cell at a point of the widget (content coordinates), if any."""
        run = self.writer.placed.get(y + self.scroll_offset.y)
        k = run.index_at(x + self.scroll_offset.x) if run is not None else None
        return run.cell(k) if k is not None else None  # type: ignore[return-value,union-attr]

    def on_mouse_move(self, event: events.MouseMove) -> None:
        offset = event.get_content_offset(self)
        cell = self.cell_at(offset.x, offset.y) if offset is not None else None
        if cell is not None:
            self.select(cell_key(cell), scroll=False)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        cell = self.cell_at(offset.x, offset.y) if offset is not None else None
        if cell is not None:
            self.select(cell_key(cell), scroll=False)
            if not self.has_focus:  # focus() repaints the whole widget, even when it has focus
                self.focus()


def line_segments(text: Text, style_of: Callable[[str | Style, str | Style], Style]) -> list[Segment] | None:
    """A line whose spans do not overlap (a heatmap row is one span per run of a colour) as
    segments, each style from style_of(line's style, span's style): made once per distinct
    pair for the widget, where Text.render combines them again at every span edge of every
    line. None when spans overlap."""
    plain, base = text.plain, text.style
    segments: list[Segment] = []
    at = 0
    for span in sorted(text.spans, key=attrgetter("start")):
        if span.start < at:
            return None
        end = min(span.end, len(plain))
        if span.start > at:
            segments.append(Segment(plain[at:span.start], style_of(base, "")))
        if end > span.start:
            segments.append(Segment(plain[span.start:end], style_of(base, span.style)))
            at = end
    if at < len(plain):
        segments.append(Segment(plain[at:], style_of(base, "")))
    return segments
