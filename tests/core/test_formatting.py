"""One formatter per kind of value: a number reads the same in the grid, the explanation
under it, the status line, the CLI and a file name (one ASCII minus, never -0), and a
vocabulary character takes one visible cell that cannot drive the terminal."""

from __future__ import annotations

import math
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from gru_core.formatting import (
    CELL_WIDTH,
    cell_number,
    char_cell,
    char_quoted,
    chars_quoted,
    count,
    duration,
    fixed,
    operand,
    precise,
    setting,
    signed,
    significant,
    small_number,
    term,
    whole,
)
from gru_core.printable import visible
from tui.render.matrix_text import CELL, fmt

finite = st.floats(allow_nan=False, allow_infinity=False)
readable = st.floats(-1e300, 1e300)  # rounding near the largest float would read back as inf
NUMBER_FORMS = (fixed, cell_number, small_number, significant, setting, precise, operand, signed, whole)


def last_digit(text: str) -> float:
    """The value of one unit in the last digit printed: 0.0001 for 2.3281, 1e-5 for 1.2e-4."""
    mantissa, _, power = text.partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(power or 0) - decimals)


def reads_back(text: str, v: float) -> bool:
    """`text` is `v` rounded to the digits it prints."""
    return abs(float(text) - v) <= 0.5 * last_digit(text) * (1 + 1e-9) + abs(v) * 1e-15


def is_negative_zero(text: str) -> bool:
    number = text.strip("()").replace(",", "")
    return number.startswith("-") and float(number) == 0


@given(finite)
def test_one_ascii_minus_and_never_minus_zero(v):
    for form in NUMBER_FORMS:
        shown = form(v)
        assert "−" not in shown and shown.isascii(), (form.__name__, v, shown)
        assert not is_negative_zero(shown), (form.__name__, v, shown)
        assert shown.count("-") <= 1 + ("e-" in shown), (form.__name__, v, shown)


def test_zero_from_below_shows_as_zero():
    # 0·log(y_hat) is -0.0; a learnt text's loss a hair below 0
    for v in (-0.0, -1e-9, -4e-5):
        assert fixed(v) == "0.0000" and fixed(v, 2) == "0.00"
        assert cell_number(v) == "0.0000"
    assert small_number(-0.0) == significant(-0.0) == setting(-0.0) == "0"
    assert precise(-0.0) == "0.0000" and term(-0.0) == "+ 0.0000" and signed(-0.0) == "+0.00"


@given(finite)
def test_fixed_round_trips_within_its_rounding(v):
    for places in (2, 3, 4):
        assert reads_back(fixed(v, places), v)


@given(readable)
def test_significant_and_precise_round_trip_within_their_rounding(v):
    assert reads_back(significant(v), v) and reads_back(setting(v), v) and reads_back(precise(v), v)
    assert math.isclose(float(significant(v)), v, rel_tol=5e-3)  # 3 significant digits
    if v != 0 and abs(v) < 1e-3:
        assert math.isclose(float(precise(v)), v, rel_tol=5e-4)  # 4 significant digits
    else:
        assert precise(v) == fixed(v)


@given(readable)
def test_a_matrix_cell_keeps_its_width_and_a_blank_before_it(v):
    for small in (False, True):
        shown = fmt(v, small)
        assert len(shown) == CELL and shown[0] == " ", (v, small, shown)
        number = shown.strip()
        assert len(number) <= CELL_WIDTH
        assert reads_back(number, v) or small and number == "0" and v == 0


def test_the_forms_as_they_show():
    assert fixed(2.32814) == "2.3281" and fixed(-0.34721) == "-0.3472" and fixed(1.5, 3) == "1.500"
    assert [cell_number(v) for v in (-0.34721, -12.34567, 1234.56, -1.23e7)] == [
        "-0.3472", "-12.346", "1234.56", "-1.23e7"]
    assert [small_number(v) for v in (-2e-4, 3e-12, -3e-12, 0.0)] == ["-2.0e-4", "3.0e-12", "-3e-12", "0"]
    assert [significant(v) for v in (0.00123456, 1.55e-5, 4.0123, 3e-4)] == [
        "0.00123", "1.55e-5", "4.01", "0.0003"]
    assert significant(1.375, 4) == "1.375"  # an axis tick that 3 digits would show as 1.38
    assert [setting(v) for v in (0.002, 5.0, 1e-5, 0.8)] == ["0.002", "5", "1e-5", "0.8"]
    assert [precise(v) for v in (0.12344, -1.2345e-4, 0.0)] == ["0.1234", "-1.234e-4", "0.0000"]
    assert operand(-0.6) == "(-0.6000)" and operand(0.6) == "0.6000"
    assert term(-0.1234) == "- 0.1234" and term(0.1234) == "+ 0.1234"
    assert signed(0.123) == "+0.12" and signed(-0.987) == "-0.99"
    assert [whole(v) for v in (12345.4, 999.5, -0.2)] == ["12,345", "1,000", "0"]
    assert [count(n) for n in (900, 35_149, 5_242_880, 12_000_000)] == ["900", "35k", "5.2M", "12M"]
    assert [duration(s) for s in (0.2, 42, 450, 7560, math.inf)] == ["<1 s", "42 s", "7.5 min", "2.1 h", "?"]


def test_an_explanation_and_the_grid_print_the_same_number():
    # the issue: -0.3472 in the grid, −0.3472 in the explanation under it
    for v in (-0.34721, 0.5, -0.0, -0.99999):
        assert fmt(v).strip() == precise(v)


@given(st.characters())
def test_a_vocabulary_character_is_one_visible_cell_that_cannot_drive_the_terminal(c):
    shown = char_cell(c)
    assert shown.isprintable() and visible(shown) == shown
    if len(shown) == 2:  # a combining mark, drawn on ◌
        assert shown[0] == "◌" and unicodedata.combining(shown[1]) or unicodedata.category(shown[1])[0] == "M"
    else:
        assert len(shown) == 1
    assert char_quoted(c) == f"'{shown}'"


def test_the_symbols_for_whitespace_and_controls():
    assert [char_cell(c) for c in " \n\t\x1b\x07\x7f"] == ["␣", "⏎", "⇥", "␛", "␇", "␡"]
    assert [char_cell(c) for c in "a\u202e\u200b"] == ["a", "\ufffd", "\ufffd"]
    assert char_quoted("\n") == "'⏎'"


def test_a_checkpoint_name_stays_ascii_and_never_says_val_minus_zero():
    from gru_core.checkpoint import checkpoint_name

    # a perfectly learnt text's val loss comes out a hair below zero
    assert checkpoint_name(900, -1e-9) == "gru-tui-step900-val0.00.ckpt"
    assert checkpoint_name(900, 2.8049) == "gru-tui-step900-val2.80.ckpt"


def test_a_prime_is_quoted_one_visible_cell_a_character():
    assert chars_quoted("Ma") == "'Ma'"
    assert chars_quoted("\n") == "'⏎'" and chars_quoted("a b\x1b") == "'a␣b␛'"
