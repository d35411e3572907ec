"""Text for the matrices pane: numbers when they fit, a coloured heatmap when they don't.

Pure formatting of plain Python lists (no torch): diverging colours for signed values
(h, h_tilde, gradients), sequential for values in [0, 1] (z, r, y_hat).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.color import Color
from rich.style import Style
from rich.text import Text

LABEL_WIDTH = 17  # "h_tilde [4,128]  ", when the pane is wide enough; else labels get a line
WIDE = 90
ROW_LABEL_WIDTH = 7  # "seq 1  "
CELL = 8  # " -0.3472"
MAX_HEATMAP_ROWS = 8

Rows = Sequence[tuple[str, Sequence[float]]]


def char_label(c: str) -> str:
    """A vocabulary character as one visible cell."""
    return {"\n": "⏎", " ": "␣", "\t": "⇥"}.get(c, c if c.isprintable() else "·")


def fmt(v: float, small: bool = False) -> str:
    return f"{v:{CELL}.1e}" if small else f"{v:{CELL}.4f}"


def diverging(v: float, scale: float) -> Style:
    """Blue for negative, red for positive, brighter with magnitude."""
    a = max(-1.0, min(1.0, v / scale)) if scale > 0 else 0.0
    k = int(40 + 200 * abs(a))
    rgb = (k, 40, 60) if a >= 0 else (40, 70, k)
    return Style(bgcolor=Color.from_rgb(*rgb))


def sequential(v: float, scale: float = 1.0) -> Style:
    """Dark to bright yellow for 0 to `scale`."""
    a = max(0.0, min(1.0, v / scale)) if scale > 0 else 0.0
    return Style(bgcolor=Color.from_rgb(int(30 + 225 * a), int(30 + 190 * a), 40))


class MatrixWriter:
    """Appends labelled blocks of rows to one Text, `width` cells wide."""

    def __init__(self, width: int) -> None:
        self.width = max(30, width)
        self.label_width = LABEL_WIDTH if self.width >= WIDE else 0
        self.text = Text(no_wrap=True, overflow="crop")

    @property
    def cells(self) -> int:
        return self.width - self.label_width - ROW_LABEL_WIDTH

    def fits(self, columns: int) -> bool:
        return columns * CELL <= self.cells

    def line(self, label: str = "", row_label: str = "", body: Text | str = "", style: str = "") -> None:
        if not self.label_width:  # narrow: the label on a line of its own
            if label:
                self.text.append(label, style or "bold")
                self.text.append("\n")
        else:
            self.text.append(f"{label:<{LABEL_WIDTH}}"[:LABEL_WIDTH], style or "bold")
        self.text.append(f"{row_label:<{ROW_LABEL_WIDTH}}"[:ROW_LABEL_WIDTH], "dim")
        self.text.append(body if isinstance(body, Text) else Text(body))
        self.text.append("\n")

    def heading(self, title: str, style: str = "bold underline") -> None:
        self.text.append(title, style)
        self.text.append("\n")

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
    ) -> None:
        """One matrix: a row per (row label, values). highlight[i] marks a column of row i.

        `note` (an equation) goes beside the label on a narrow pane, under the block on a wide one.
        """
        if not rows:
            return
        if note and not self.label_width:
            self.text.append(label, "bold")
            gap = "  " if len(label) + 2 + len(note) <= self.width else "\n  "
            self.text.append(f"{gap}{note}\n", "dim italic")
            label = ""
        elif note:
            self.block(label, rows, kind=kind, header=header, highlight=highlight, small=small)
            self.line("", "", Text(note, "dim italic"))
            return
        columns = len(rows[0][1])
        scale = max((abs(v) for _, values in rows for v in values), default=1.0) or 1.0
        if kind == "sequential":
            scale = 1.0
        paint = (lambda v: sequential(v, scale)) if kind == "sequential" else (
            lambda v: diverging(v, scale))
        if self.fits(columns):
            if header is not None:
                self.line(label, "", "".join(f"{char_label(h):>{CELL}}" for h in header))
                label = ""
            for i, (row_label, values) in enumerate(rows):
                body = Text()
                for j, v in enumerate(values):
                    marked = highlight is not None and highlight[i] == j
                    body.append(fmt(v, small), "bold reverse" if marked else "")
                self.line(label, row_label, body)
                label = ""
            return
        # heatmap: one cell per value, wrapped at the pane's width
        width = max(1, self.cells)
        shown = rows[:MAX_HEATMAP_ROWS]
        for start in range(0, columns, width):
            stop = min(columns, start + width)
            if header is not None:
                self.line(label, "", "".join(char_label(h) for h in header[start:stop]))
                label = ""
            for i, (row_label, values) in enumerate(shown):
                body = Text()
                for j in range(start, stop):
                    marked = highlight is not None and highlight[i] == j
                    body.append("◆" if marked else " ", paint(values[j]))
                self.line(label, row_label, body)
                label = ""
        if len(rows) > len(shown):
            self.line("", "", f"… {len(rows) - len(shown)} more rows", style="dim")
        lo = min(v for _, values in rows for v in values)
        hi = max(v for _, values in rows for v in values)
        self.line("", "", Text(f"heatmap, from {lo:.3g} to {hi:.3g}", "dim"))
