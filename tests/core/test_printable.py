"""visible(): text from data never drives the terminal, and keeps its length."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from gru_core.printable import BIDI_CONTROLS, visible

HOSTILE = ("\x1b]2;pwned\x07"  # OSC: set the window title
           "\x1b[31m\x1b[?1049h\x1b[?25l"  # CSI: colour, alternate screen, hide the cursor
           "\x9b31m\x9d0;x\x9c"  # C1 CSI / OSC / ST
           "\u202eevil\u202c\u2066\u2069"  # bidi overrides and isolates
           "\x00\x7f\u2028\u2029\ud800")


def test_every_control_becomes_a_visible_symbol_of_one_character():
    shown = visible(HOSTILE)
    assert len(shown) == len(HOSTILE)
    assert shown.isprintable()
    assert shown.startswith("␛]2;pwned␇␛[31m")
    assert "\u202e" not in shown and "\x9b" not in shown


def test_plain_text_is_unchanged_and_newlines_can_stay():
    assert visible("Math, the study of structure. é 🙂") == "Math, the study of structure. é 🙂"
    assert visible("a\nb\tc") == "a⏎b⇥c"
    assert visible("a\nb\x1b", keep_newlines=True) == "a\nb␛"


def harmless(text: str) -> bool:
    """No control, surrogate, line separator or bidi control: nothing a terminal acts on."""
    return not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in BIDI_CONTROLS for c in text)


@given(st.text())
def test_any_text_comes_out_harmless_and_as_long(text):
    shown = visible(text)
    assert len(shown) == len(text) and harmless(shown)
    kept = visible(text, keep_newlines=True)
    assert harmless(kept.replace("\n", "")) and kept.count("\n") == text.count("\n")
