"""How a value is shown to a person: one formatter per kind of value, used by every pane,
the explanations, the CLI and the file names, so the same value reads the same everywhere.

Numbers, each with one rule:

    fixed(v, places=4)        losses, fixed-point figures: 4 decimals    2.3281   -0.3472
    cell_number(v)            a matrix cell: 4 decimals in 7 columns     -0.3472  -12.346
    small_number(v)           a cell of a block whose values are tiny    -2.0e-4
    significant(v, digits=3)  rates, norms, ranges: 3 significant digits 0.00123  1.55e-5
    setting(v)                a setting as given (lr, clip, temperature) 0.002    1e-5
    precise(v)                an explanation's number: 4 decimals, and 4 significant digits
                              where 4 decimals would show 0.0000         0.1234   1.234e-4
    operand(v)                a number after an operator: (-0.6000) in parentheses
    term(v)                   a signed term of a sum: "+ 0.1234", "- 0.1234"
    signed(v, places=2)       a bound with its sign always shown: +0.12
    whole(v)                  a rate in whole units, thousands apart     12,345
    count(n)                  a length in a few cells: 35k, 5.2M
    duration(seconds)         a time left: <1 s, 42 s, 7.5 min, 2.1 h

One minus sign, ASCII `-`: a number copied from the screen pastes into Python, and a file
name stays ASCII (the explanations once printed `−` beside the grid's `-`). 0 is never
shown as -0 (y = 0's 0·log(y_hat) is -0.0 in floating point; a perfectly learnt text's loss
comes out a hair below zero). One exponent spelling, `e-5` (not `e-05`), which Python reads.

A vocabulary character: char_cell(c) shows it in one cell (space ␣, newline ⏎, tab ⇥,
controls as their Unicode pictures, from printable.visible_char, so data never drives the
terminal); char_quoted(c) is the same in quotes, as the explanations and row labels write it.
"""

from __future__ import annotations

import math
import unicodedata

from .printable import REPLACEMENT, visible_char

SPACE = "␣"
CELL_WIDTH = 7  # a matrix cell's number at most; the grid adds a blank to part it from the next
DOTTED_CIRCLE = "◌"  # what a combining mark is drawn on, alone, so it keeps a cell of its own


# ------------------------------------------------------------------------------ numbers


def _exponent(text: str) -> str:
    """`1.5e-05` -> `1.5e-5`, `2e+03` -> `2e3`: one exponent spelling, two cells shorter."""
    if "e" not in text:
        return text
    mantissa, power = text.split("e")
    return f"{mantissa}e{int(power)}"


def fixed(v: float, places: int = 4) -> str:
    """`v` with `places` decimals: 2.3281, -0.3472; 0.0000 for a value that rounds to zero
    from below, never -0.0000."""
    shown = f"{v:.{places}f}"
    return shown[1:] if shown[0] == "-" and not shown.strip("-0.") else shown


def cell_number(v: float) -> str:
    """A matrix cell's number in CELL_WIDTH columns at most: 4 decimals (-0.3472), fewer for a
    number too big for them (-12.346, 1234.6), 3 significant digits beyond (-1.23e7)."""
    for places in (4, 3, 2, 1):
        shown = fixed(v, places)
        if len(shown) <= CELL_WIDTH:
            return shown
    shown = fixed(v, 0)
    for digits in (2, 1, 0):  # -1.23e7, -1.2e12, -1e123
        if len(shown) <= CELL_WIDTH:
            break
        shown = _exponent(f"{v:.{digits}e}")
    return shown


def small_number(v: float) -> str:
    """A value of a block whose values are all under 0.01 (4 decimals would show zeros), in
    CELL_WIDTH columns at most: -2.0e-4, -3e-12, and 0 for zero."""
    v += 0.0  # -0.0 + 0.0 is 0.0
    if v == 0:
        return "0"
    text = _exponent(f"{v:.1e}")
    # an exponent of two digits: one digit fewer in the mantissa
    return text if len(text) <= CELL_WIDTH else _exponent(f"{v:.0e}")


def significant(v: float, digits: int = 3) -> str:
    """`digits` significant digits, 3 unless more are needed to tell values apart: a learning
    rate, a gradient's norm, a heatmap's range, an axis tick. 0.00123, 1.55e-5, 4.01; 0 for
    zero (never -0)."""
    return _exponent(f"{v + 0.0:.{digits}g}")


def setting(v: float) -> str:
    """A setting as it was given (up to 6 significant digits, no trailing zeros): lr 0.002,
    clip 5, temperature 0.8, lr 1e-5."""
    return _exponent(f"{v + 0.0:g}")


def precise(v: float) -> str:
    """A number of an explanation, whose sums a reader checks: 4 decimals, and 4 significant
    digits in exponent form where 4 decimals would print 0.0000 for a number that is not 0."""
    v += 0.0
    if v != 0 and abs(v) < 1e-3:
        return _exponent(f"{v:.3e}")
    return fixed(v)


def operand(v: float) -> str:
    """A number after an operator, in parentheses when negative (`+ -0.6000` read as a typo)."""
    shown = precise(v)
    return f"({shown})" if shown.startswith("-") else shown


def term(v: float) -> str:
    """A signed term of a sum: '+ 0.1234' or '- 0.1234'."""
    return f"{'-' if v < 0 else '+'} {precise(abs(v))}"


def signed(v: float, places: int = 2) -> str:
    """A number with its sign always shown (a range's bounds): +0.12, -0.98, +0.00 for zero."""
    shown = fixed(v, places)
    return shown if shown[0] == "-" else "+" + shown


def whole(v: float) -> str:
    """A rate in whole units with thousands separators: 12,345 (characters a second)."""
    shown = f"{v:,.0f}"
    return "0" if shown == "-0" else shown


def count(n: int) -> str:
    """A count in a few cells: 35149 -> 35k, 5_242_880 -> 5.2M, 900 -> 900."""
    for scale, unit in ((1_000_000, "M"), (1_000, "k")):
        if n >= scale:
            value = n / scale
            shown = f"{value:.1f}".removesuffix(".0") if value < 10 else f"{value:.0f}"
            return shown + unit
    return str(n)


def duration(seconds: float) -> str:
    """An estimate read at a glance: 42 s, 7.5 min, 2.1 h; "<1 s" for less ("0 s left" read
    as no time at all while the epoch still runs); "?" when unknown."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 0.5:
        return "<1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------- characters


def char_cell(c: str) -> str:
    """A vocabulary character as one visible cell: ␣ for a space, ⏎ a newline, ⇥ a tab, ␛ and
    the other control pictures for controls, � for what has no glyph of its own (bidi and
    format controls, separators), a combining mark on ◌; any other character itself."""
    if c == " ":
        return SPACE
    shown = visible_char(c)
    if not shown.isprintable():  # a format character (zero width space, soft hyphen…)
        return REPLACEMENT
    if unicodedata.combining(shown) or unicodedata.category(shown) in ("Mn", "Me"):
        return DOTTED_CIRCLE + shown
    return shown


def char_quoted(c: str) -> str:
    """A vocabulary character quoted, as one visible cell: '⏎', 'a', '␣'."""
    return f"'{char_cell(c)}'"


def chars_quoted(text: str) -> str:
    """A few vocabulary characters (a prime) quoted, each in one visible cell: 'Ma', '⏎'."""
    return "'" + "".join(map(char_cell, text)) + "'"
