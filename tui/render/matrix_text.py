"""Text for the matrices pane: numbers when they fit, a coloured heatmap when they don't.

Pure formatting of plain Python lists (no torch): diverging colours for signed values
(h, h_tilde, gradients), sequential for values in [0, 1] (z, r, y_hat). The colours'
ends come from the theme (HeatColours, read by the pane from its component classes).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache, partial
from typing import NamedTuple

from rich.color import Color
from rich.style import Style
from rich.text import Span, Text

from gru_core.formatting import CELL_WIDTH, cell_number, char_cell, significant, small_number

LABEL_WIDTH = 17  # "h_tilde [4,128]  ", when the pane is wide enough; else labels get a line
WIDE = 90
ROW_LABEL_WIDTH = 7  # "seq 1  "
CELL = CELL_WIDTH + 1  # " -0.3472": a blank, then the number
MAX_HEATMAP_ROWS = 8

Rows = Sequence[tuple[str, Sequence[float]]]
Line = Text | Callable[[], Text]  # a heatmap row is built only when it is shown
CellOf = Callable[[int, int], Hashable]  # (row, column) of a block -> what the cell is


class Run(NamedTuple):
    """A line's addressable cells: `count` cells `width` wide from x0, columns col0 onward
    of a block's row `row`. Cells are made only when asked for (a big heatmap has
    thousands)."""

    x0: int
    width: int
    count: int
    row: int
    col0: int
    cell_of: CellOf

    def cell(self, k: int) -> Hashable:
        return self.cell_of(self.row, self.col0 + k)

    def span(self, k: int) -> tuple[int, int]:
        return self.x0 + k * self.width, self.x0 + (k + 1) * self.width

    def index_at(self, x: int) -> int | None:
        k = (x - self.x0) // self.width
        return k if x >= self.x0 and k < self.count else None


class Extent(NamedTuple):
    """What a heatmap needs of a whole matrix when only its first rows are passed as lists."""

    rows: int  # rows in the whole matrix
    lo: float
    hi: float
    absmax: float


def fmt(v: float, small: bool = False) -> str:
    """A value in CELL columns, right-aligned: at least one blank parts it from the next."""
    return f"{small_number(v) if small else cell_number(v):>{CELL}}"


@lru_cache(maxsize=1024)
def _background(r: int, g: int, b: int) -> Style:
    # A heatmap has thousands of cells but a few hundred colours: one Style each, reused.
    return Style(bgcolor=Color.from_rgb(r, g, b))


RGB = tuple[int, int, int]
Painter = Callable[[Sequence[float]], list[Style]]  # a row's values -> the Style of each


class HeatColours(NamedTuple):
    """The heatmap's ends, from the theme (MatricesView's component classes): a value of 0
    is `zero` (the pane's own background), the largest `positive`, `negative` or `high`."""

    zero: RGB
    positive: RGB  # diverging: red in the default theme
    negative: RGB  # diverging: blue
    high: RGB  # sequential, 0 to 1: yellow


DARK = HeatColours(zero=(40, 40, 50), positive=(240, 40, 60), negative=(40, 70, 240), high=(255, 220, 40))
STEPS = 48  # shades per side: a few hundred Styles in all, each made once


def blend(zero: RGB, end: RGB, a: float) -> RGB:
    k = round(max(0.0, min(1.0, a)) * STEPS) / STEPS
    return (int(zero[0] + (end[0] - zero[0]) * k), int(zero[1] + (end[1] - zero[1]) * k),
            int(zero[2] + (end[2] - zero[2]) * k))


@lru_cache(maxsize=64)
def palette(zero: RGB, end: RGB) -> tuple[Style, ...]:
    """The STEPS + 1 shades from zero to end, as blend() quantizes them: a heatmap row looks
    its cells' Styles up here instead of blending each one."""
    return tuple(_background(*blend(zero, end, k / STEPS)) for k in range(STEPS + 1))


def painter(kind: str, scale: float, colours: HeatColours) -> Painter:
    """The Style of each value of a row: `diverging` (signed, by magnitude over scale) or
    `sequential` (0 to scale), as diverging() and sequential() give them one at a time."""
    inv = 1.0 / scale if scale > 0 else 0.0
    if kind == "sequential":
        high = palette(colours.zero, colours.high)
        return lambda values: [high[round(max(0.0, min(1.0, v * inv)) * STEPS)] for v in values]
    positive, negative = palette(colours.zero, colours.positive), palette(colours.zero, colours.negative)
    return lambda values: [positive[round(min(1.0, v * inv) * STEPS)] if v >= 0
                           else negative[round(min(1.0, -v * inv) * STEPS)] for v in values]


def diverging(v: float, scale: float, colours: HeatColours = DARK) -> Style:
    """Negative towards `negative`, positive towards `positive`, stronger with magnitude."""
    a = max(-1.0, min(1.0, v / scale)) if scale > 0 else 0.0
    return _background(*blend(colours.zero, colours.positive if a >= 0 else colours.negative, abs(a)))


def sequential(v: float, scale: float = 1.0, colours: HeatColours = DARK) -> Style:
    """From `zero` to `high` for 0 to `scale`."""
    a = max(0.0, min(1.0, v / scale)) if scale > 0 else 0.0
    return _background(*blend(colours.zero, colours.high, a))


class MatrixWriter:
    """Appends labelled blocks of rows to one Text, `width` cells wide."""

    def __init__(self, width: int, colours: HeatColours = DARK) -> None:
        self.width = max(30, width)
        self.colours = colours  # the heatmap's, from the theme
        self.label_width = LABEL_WIDTH if self.width >= WIDE else 0
        self.lines: list[Line] = [Text()]  # kept line by line: the pane shows a window of them
        self.placed: dict[int, Run] = {}  # line -> its addressable cells

    @property
    def cells(self) -> int:
        return self.width - self.label_width - ROW_LABEL_WIDTH

    def fits(self, columns: int) -> bool:
        return columns * CELL <= self.cells

    @property
    def text(self) -> Text:
        """Everything written so far, as one Text."""
        return Text("\n", no_wrap=True, overflow="crop").join(self.lines_text(0, len(self.lines)))

    def lines_text(self, start: int, stop: int) -> list[Text]:
        """Lines start to stop (exclusive), building the heatmap rows among them."""
        lines = self.lines
        for i in range(start, stop):
            if callable(lines[i]):
                lines[i] = lines[i]()
        return lines[start:stop]  # type: ignore[return-value]

    def extend(self, other: MatrixWriter) -> None:
        """Append another writer's lines (and cells) from the current line on."""
        offset = len(self.lines) - 1
        self.lines[-1:] = other.lines
        self.placed.update({offset + line: run for line, run in other.placed.items()})

    def newline(self) -> None:
        self.lines.append(Text())

    def _append(self, content: str | Text, style: str = "") -> None:
        """Append to the current line; each newline in a str starts the next line."""
        if isinstance(content, Text):
            self.lines[-1].append_text(content)
            return
        first, *rest = content.split("\n")
        self.lines[-1].append(first, style)
        for part in rest:
            self.lines.append(Text(part, style) if part else Text())

    def line(self, label: str = "", row_label: str = "", body: Line | str = "", style: str = "",
             cells: Run | None = None) -> None:
        """cells: the addressable cells of body, x counted from the body's start."""
        if not self.label_width:  # narrow: the label on a line of its own
            if label:
                self._append(label, style or "bold")
                self.newline()
        else:
            self._append(f"{label:<{LABEL_WIDTH}}"[:LABEL_WIDTH], style or "bold")
        self._append(f"{row_label:<{ROW_LABEL_WIDTH}}"[:ROW_LABEL_WIDTH], "dim")
        if cells is not None:
            body_x = self.label_width + ROW_LABEL_WIDTH
            self.placed[len(self.lines) - 1] = cells._replace(x0=cells.x0 + body_x)
        if callable(body):
            prefix = self.lines[-1]
            # a copy: the same writer's lines may be spliced into several (extend)
            self.lines[-1] = lambda: prefix.copy().append_text(body())  # type: ignore[union-attr]
        else:
            self._append(body if isinstance(body, Text) else Text(body))
        self.newline()

    def heading(self, title: str | Sequence[str], style: str = "bold underline") -> None:
        """A title, wrapped between words: the pane crops its lines, and a cut heading
        misleads (`(step 1 │` at step 18,935). A sequence of parts: each part kept whole
        on one line where it fits (`t = 1 of 32` never splits), two spaces between them."""
        parts = [title] if isinstance(title, str) else list(title)
        lines: list[str] = []
        for part in parts:
            if lines and len(lines[-1]) + 2 + len(part) <= self.width:
                lines[-1] += "  " + part
            else:
                lines.extend(wrap_words(part, self.width))
        for line in lines:
            self._append(line, style)
            self.newline()

    def block(
        self,
        label: str,
        rows: Rows,
        *,
        kind: str = "diverging",
        header: Sequence[str] | None = None,
        highlight: Sequence[int | None] | None = None,
        small: bool = False,
        note: str = "",
        extent: Extent | None = None,
        cell: CellOf | None = None,
    ) -> None:
        """One matrix: a row per (row label, values). highlight[i] marks a column of row i.

        `note` (an equation) goes beside the label on a narrow pane, under the block on a wide one.
        `extent`: `rows` holds only the first rows of a bigger matrix (enough for a heatmap);
        extent says how many it has and its range. cell(i, j): what the value in row i,
        column j is (the pane's cursor addresses it).
        """
        if not rows:
            return
        if note and not self.label_width:
            self._append(label, "bold")
            if len(label) + 2 + len(note) <= self.width:
                self._append(f"  {note}\n", "dim italic")
            else:  # under the label, wrapped between words (the pane crops, it does not wrap)
                for part in wrap_words(note, self.width - 2):
                    self._append(f"\n  {part}", "dim italic")
                self._append("\n")
            label = ""
        elif note:
            self.block(label, rows, kind=kind, header=header, highlight=highlight, small=small,
                       extent=extent, cell=cell)
            self.line("", "", Text(note, "dim italic"))
            return
        columns = len(rows[0][1])
        if extent is not None:
            scale = extent.absmax or 1.0
        else:  # max and min over each row in C: a [4, 1024] block is 4096 values
            scale = max((max(max(values), -min(values)) for _, values in rows if values), default=1.0) or 1.0
        if kind == "sequential":
            scale = 1.0
        paint = painter("sequential" if kind == "sequential" else "diverging", scale, self.colours)
        if self.fits(columns):
            if header is not None:
                self.line(label, "", "".join(" " * (CELL - 1) + char_cell(h) for h in header))
                label = ""
            for i, (row_label, values) in enumerate(rows):
                body = Text()
                for j, v in enumerate(values):
                    marked = highlight is not None and highlight[i] == j
                    body.append(fmt(v, small), "bold reverse" if marked else "")
                placed = Run(0, CELL, len(values), i, 0, cell) if cell else None
                self.line(label, row_label, body, cells=placed)
                label = ""
            return
        # heatmap: one cell per value, wrapped at the pane's width
        width = max(1, self.cells)
        shown = rows[:MAX_HEATMAP_ROWS]
        for start in range(0, columns, width):
            stop = min(columns, start + width)
            if header is not None:
                self.line(label, "", "".join(char_cell(h) for h in header[start:stop]))
                label = ""
            elif columns > width:  # wrapped: say which units each part holds (seq 1 comes round again)
                self.line(label, "", Text(f"units {start + 1}…{stop}", "dim"))
                label = ""
            for i, (row_label, values) in enumerate(shown):
                mark = highlight[i] if highlight is not None else None
                placed = Run(0, 1, stop - start, i, start, cell) if cell else None
                self.line(label, row_label, partial(_heat_row, values[start:stop], mark - start
                                                    if mark is not None else None, paint), cells=placed)
                label = ""
        total = extent.rows if extent is not None else len(rows)
        if total > len(shown):
            self.line("", "", f"… {total - len(shown)} more rows", style="dim")
        if extent is not None:
            lo, hi = extent.lo, extent.hi
        else:
            lo = min(min(values) for _, values in rows if values)
            hi = max(max(values) for _, values in rows if values)
        self.line("", "", Text(f"heatmap, from {significant(lo)} to {significant(hi)}", "dim"))


def wrap_words(text: str, width: int) -> list[str]:
    """text in lines of at most `width` cells, broken between words (a longer word stays whole)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _heat_row(values: Sequence[float], mark: int | None, paint: Painter) -> Text:
    """One heatmap row: a coloured cell per value, ◆ on the marked one (if in this part)."""
    n = len(values)
    cells = " " * mark + "◆" + " " * (n - mark - 1) if mark is not None and 0 <= mark < n else " " * n
    return Text(cells, spans=_runs(paint(values)))


def _runs(styles: list[Style]) -> list[Span]:
    """One span per run of equal styles: what appending cell by cell gives, in far fewer spans."""
    spans: list[Span] = []
    start = 0
    for j in range(1, len(styles) + 1):
        if j == len(styles) or styles[j] is not styles[start]:
            spans.append(Span(start, j, styles[start]))
            start = j
    return spans
