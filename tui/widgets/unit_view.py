"""UnitView: a text coloured character by character by what the model made of it.

As in Karpathy, Johnson and Fei-Fei (2015), "Visualizing and Understanding Recurrent
Networks". Three colourings (`u` cycles them):

    plain        the text as it is
    confidence   the probability the model gave each character: red 0 ... green 1
    unit         one hidden unit's activation h[unit] after reading each character:
                 blue -1 ... dark 0 ... red +1 (`[`/`]` pick the unit, `j` the most responsive)

A Reading holds one text and, per character, the probability (None where the model
did not predict it, e.g. a prime) and the row of the hidden state after reading it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, NamedTuple

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static

from gru_core.formatting import fixed, signed
from gru_core.printable import visible

from ..keys import key_for
from ..render.matrix_text import RGB, blend

if TYPE_CHECKING:
    from torch import Tensor

    from gru_core.sampling import Sample

MODES = ("plain", "confidence", "unit")
NEWLINE = " "  # a newline is drawn as one coloured cell (its colour), then a line break


@dataclass(frozen=True)
class Reading:
    """A text and what the model made of each character.

    probs[i]: the probability given to text[i] (None: not predicted).
    hidden: [n, H] rows; row j is the hidden state after reading text[j + hidden_offset].
    """

    text: str
    probs: Sequence[float | None]
    hidden: Tensor | None
    hidden_offset: int = 0
    label: str = ""
    prime_len: int = 0  # the first prime_len characters are shown dim (given, not generated)
    suffix: str = ""  # shown dim after the text, e.g. "(T=1)"
    ranked: list[int] = field(default_factory=list)  # units, the most responsive first

    @property
    def hidden_size(self) -> int:
        return 0 if self.hidden is None or self.hidden.dim() != 2 else int(self.hidden.shape[1])

    def unit_values(self, unit: int) -> list[float | None]:
        """h[unit] after each character of text (None where not known)."""
        out: list[float | None] = [None] * len(self.text)
        if self.hidden is None or not 0 <= unit < self.hidden_size:
            return out
        for j, value in enumerate(self.hidden[:, unit].tolist()):
            i = j + self.hidden_offset
            if 0 <= i < len(out):
                out[i] = value
        return out


def reading_from_sample(sample: Sample, label: str = "", suffix: str = "") -> Reading:
    """A Sample as a Reading.

    sample.hidden[i] is the state after reading generated[i]'s input, the character
    before it: text[len(prime) - 1 + i] (see gru_core.inspect_units).
    """
    p = len(sample.prime)
    probs: list[float | None] = [None] * p + [float(v) for v in sample.probs.tolist()]
    return Reading(sample.text, probs, sample.hidden, hidden_offset=p - 1, label=label, prime_len=p,
                   suffix=suffix)


class UnitColours(NamedTuple):
    """The colours of the two colourings, from the theme (UnitView's component classes)."""

    zero: RGB  # an activation of 0: the pane's background
    unlikely: RGB  # p(char) 0: red in the default theme
    middle: RGB  # p(char) 0.5: yellow
    likely: RGB  # p(char) 1: green
    negative: RGB  # h[unit] -1: blue
    positive: RGB  # h[unit] +1: red


DARK_UNITS = UnitColours(zero=(40, 40, 40), unlikely=(255, 0, 60), middle=(255, 255, 60), likely=(0, 255, 60),
                         negative=(40, 120, 255), positive=(255, 40, 40))


@lru_cache(maxsize=1024)
def _cell(rgb: RGB) -> Style:
    """A background and a text colour that reads on it (dark on light, light on dark)."""
    light = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140
    return Style(color="black" if light else "white", bgcolor=Color.from_rgb(*rgb))


def confidence_style(p: float, colours: UnitColours = DARK_UNITS) -> Style:
    """Unlikely (red) for an improbable character, through the middle (yellow), to likely (green)."""
    p = min(1.0, max(0.0, p))
    if p < 0.5:
        return _cell(blend(colours.unlikely, colours.middle, 2 * p))
    return _cell(blend(colours.middle, colours.likely, 2 * p - 1))


def activation_style(v: float, colours: UnitColours = DARK_UNITS) -> Style:
    """Negative (blue) for -1, the background for 0, positive (red) for +1, as the matrices' heatmap."""
    if not math.isfinite(v):
        return Style(color="white", bgcolor="magenta")
    v = min(1.0, max(-1.0, v))
    return _cell(blend(colours.zero, colours.positive if v >= 0 else colours.negative, abs(v)))


class UnitView(Vertical):
    """The coloured text (#unit-text), and a legend line below it: what the colours mean, the unit's range."""

    # the colourings' colours, from the theme (a light theme works)
    COMPONENT_CLASSES = {"unit-view--unlikely", "unit-view--middle", "unit-view--likely",
                         "unit-view--negative", "unit-view--positive"}
    DEFAULT_CSS = """
    UnitView {
        height: auto;
    }
    UnitView > .unit-view--unlikely { background: $error; }
    UnitView > .unit-view--middle { background: $warning; }
    UnitView > .unit-view--likely { background: $success; }
    UnitView > .unit-view--negative { background: $primary; }
    UnitView > .unit-view--positive { background: $error; }
    UnitView #unit-text {
        height: auto;
        max-height: 6;
    }
    UnitView #unit-legend {
        height: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    reading: reactive[Reading | None] = reactive(None, always_update=True)
    streaming: reactive[str] = reactive("")  # characters so far of a sample being drawn
    mode: reactive[str] = reactive("plain")
    unit: reactive[int] = reactive(0)
    rank: reactive[int | None] = reactive(None)  # position of `unit` among reading.ranked

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._drawn_colours: UnitColours | None = None  # the colours the text was last coloured with

    def watch_reading(self) -> None:
        self.rank = None  # a rank belongs to the reading it was taken from
        self._redraw()

    def watch_streaming(self) -> None:
        self._redraw()

    def watch_mode(self) -> None:
        self._redraw()

    def watch_unit(self) -> None:
        self._redraw()

    def compose(self) -> ComposeResult:
        yield Static("", id="unit-text")
        yield Static("", id="unit-legend")

    def on_mount(self) -> None:
        self._redraw()

    # ------------------------------------------------------------- commands
    def cycle_mode(self) -> str:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        return self.mode

    def move_unit(self, delta: int) -> None:
        H = self.reading.hidden_size if self.reading else 0
        if H:
            self.rank = None
            self.unit = (self.unit + delta) % H
            self.mode = "unit"

    def show_unit(self, unit: int) -> None:
        """Colour by hidden unit `unit` (the palette's "Colour by hidden unit N")."""
        if self.reading is not None and 0 <= unit < self.reading.hidden_size:
            self.rank = None
            self.unit = unit
            self.mode = "unit"

    def next_top_unit(self) -> None:
        """The next of the most responsive units (by their swing over the text shown)."""
        reading = self.reading
        if reading is None or not reading.ranked:
            return
        k = 0 if self.rank is None else (self.rank + 1) % min(len(reading.ranked), 10)
        self.rank = k
        self.unit = reading.ranked[k]
        self.mode = "unit"

    # ------------------------------------------------------------- drawing
    @property
    def legend(self) -> str:
        """The whole legend, as a wide pane shows it."""
        forms = self.legend_forms()
        return forms[0] if forms else ""

    def legend_for(self, width: int) -> str:
        """The fullest legend that fits `width` cells: the where, the key hints and the
        colour scale go first; the unit, its range and the mean stay (80x24 cut the range)."""
        forms = self.legend_forms()
        if not forms:
            return ""
        return next((form for form in forms if len(form) <= width), forms[-1])

    def legend_forms(self) -> list[str]:
        """The legend from its fullest form to its shortest."""
        reading = self.reading
        if self.streaming or reading is None:
            return []
        where = f"{reading.label}: " if reading.label else ""
        if self.mode == "confidence":
            known = [p for p in reading.probs if p is not None]
            mean = f", mean {fixed(sum(known) / len(known), 2)}" if known else ""
            scale = f"confidence p(char): red 0 … green 1{mean}"
            return [f"{where}{scale} ({key_for('colour_mode')})", scale, f"p(char){mean}: red 0 … green 1",
                    f"p(char){mean}"]
        if self.mode == "unit":
            H = reading.hidden_size
            if not H:
                return [f"{where}no hidden states to show", "no hidden states to show"]
            values = [v for v in reading.unit_values(self.unit) if v is not None]
            bounds = f"[{signed(min(values))}, {signed(max(values))}]" if values else ""
            span = f"range {bounds}" if values else "no values"
            rank = f" (#{self.rank + 1} by swing)" if self.rank is not None else ""
            unit = f"unit {self.unit + 1} of {H}"  # from 1, as the matrices' h1, h2 and the explanations
            keys = f"{key_for('unit', ' ')} {key_for('top_unit')}"
            return [f"{where}{unit}{rank} {span}; blue -1 … red +1 ({keys})",
                    f"{unit}{rank} {span}; blue -1 … red +1",
                    f"{unit}{rank} {span}", f"{unit} {span}", f"{unit} {bounds or span}"]
        colour = key_for("colour_mode")
        plain = f"plain ({colour}: colour by confidence or a unit)"
        return [f"{where}{plain}", plain, f"plain ({colour}: colour)"]

    @property
    def text_shown(self) -> str:
        return str(self.query_one("#unit-text", Static).render())

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        text, legend = self.query_one("#unit-text", Static), self.query_one("#unit-legend", Static)
        reading = self.reading
        self.display = bool(self.streaming) or reading is not None
        if self.streaming:
            text.update(Text(visible(self.streaming, keep_newlines=True) + "▌"))
            legend.update("drawing the sample…")
            return
        text.update(self.coloured() if reading is not None else "")
        legend.update(Text(self.legend_for(legend.size.width or self.size.width or 80), "italic"))

    def on_resize(self) -> None:
        self._redraw()  # the legend is fitted to the width

    @property
    def colours(self) -> UnitColours:
        """The theme's colours for the colourings (its component classes; 0 on the background)."""
        def rgb(name: str) -> RGB:
            colour = self.get_component_styles(name).background
            return (colour.r, colour.g, colour.b)

        zero = self.background_colors[1]
        return UnitColours((zero.r, zero.g, zero.b), rgb("unit-view--unlikely"), rgb("unit-view--middle"),
                           rgb("unit-view--likely"), rgb("unit-view--negative"), rgb("unit-view--positive"))

    def notify_style_update(self) -> None:
        """The theme changed: colour the text again, with its colours."""
        super().notify_style_update()
        if self.is_mounted:
            self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        if self.is_mounted and self._drawn_colours is not None and self._drawn_colours != self.colours:
            self._redraw()

    def coloured(self) -> Text:
        """The reading's text, each character styled by the current mode."""
        reading = self.reading
        text = Text()
        if reading is None:
            return text
        shown = visible(reading.text, keep_newlines=True)  # one symbol a character: colours stay aligned
        values: Sequence[Any]
        colours = self._drawn_colours = self.colours
        if self.mode == "confidence":
            values, style_of = reading.probs, partial(confidence_style, colours=colours)
        elif self.mode == "unit":
            values, style_of = reading.unit_values(self.unit), partial(activation_style, colours=colours)
        else:
            values, style_of = [None] * len(shown), None
        for i, ch in enumerate(shown):
            value = values[i] if i < len(values) else None
            cell = NEWLINE if ch == "\n" else ch
            if value is not None and style_of is not None:
                text.append(cell, style_of(value))
            elif i < reading.prime_len:
                text.append(cell, "dim")
            else:
                text.append(cell)
            if ch == "\n":
                text.append("\n")
        if reading.suffix:
            text.append(f"  {reading.suffix}", "dim")
        return text
