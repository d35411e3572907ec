"""SamplesLog: the epoch-end samples, newest last, scrolling (PageUp/PageDown, the wheel).

On Textual's Line API (a ScrollView with `render_line`): only the visible lines are
rendered, and a new sample changes the scrollable height without a layout pass. The
`virtual_size` reactive asks for one (a Static that grows does too), and a layout pass
re-arranges and re-renders the whole screen: 15-45 ms of the event loop, while training
shares the GIL with it. Here the height is set without it and the scrollbar is told
directly, as a layout pass would tell it.

Like a terminal, the lines sit at the bottom of the pane until they fill it, and the
view follows the newest until the user scrolls back; scrolling to the end follows again.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class SamplesLog(ScrollView, can_focus=False):
    """Lines of text, the last in view unless scrolled back."""

    DEFAULT_CSS = """
    SamplesLog {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: list[Text] = []
        self._strips: dict[int, Strip] = {}  # line -> its strip, built when first seen
        self._following = True  # the newest line stays in view

    @property
    def plain(self) -> str:
        """The text, every line of it (not only those in view)."""
        return "\n".join(line.plain for line in self._lines)

    @property
    def wrap_width(self) -> int | None:
        """The width a caller should wrap lines to: the pane's, less a column for the
        scrollbar (the same with or without it, so a bar appearing re-wraps nothing)."""
        width = self.region.width
        return width - 1 if width > 1 else None

    def show(self, text: Text) -> None:
        """Replace the lines with `text`'s, wrapped to the pane as the Text allows (a text with
        no_wrap is cut with an ellipsis: wrap it to `wrap_width` first to keep every character)."""
        room = self.size.width
        self._lines = list(text.wrap(self.app.console, room)) if room else text.split("\n", allow_blank=True)
        if not text.no_wrap:
            for line in self._lines:
                line.rstrip()  # the space a word-wrap broke at (Static drops it too)
        self._strips.clear()
        widest = max((line.cell_len for line in self._lines), default=0)
        self.set_reactive(SamplesLog.virtual_size, Size(widest, len(self._lines)))
        self._scroll_update(self.virtual_size)  # scrollbar and scroll limits, as a layout pass does
        if self._following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._following = new_value >= self.max_scroll_y

    def on_resize(self) -> None:
        if self._following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width, height = self.size
        index = scroll_y + y - max(0, height - len(self._lines))  # fewer lines than rows: at the bottom
        base = self.rich_style
        if not 0 <= index < len(self._lines):
            return Strip.blank(width, base)
        strip = self._strips.get(index)
        if strip is None:
            strip = self._strips[index] = self._build_strip(self._lines[index], base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _build_strip(self, line: Text, base: Style) -> Strip:
        console = self.app.console
        # Text.render leaves out the Text's own style (the placeholder's "dim"): under the spans
        segments = Segment.apply_style(line.render(console), base + console.get_style(line.style))
        return Strip(segments, line.cell_len)
