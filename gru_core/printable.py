"""Text from data made safe to show: control characters become visible symbols.

A training text, a checkpoint's stored text or vocabulary, a prime or a path may hold
ESC, BEL, CSI/OSC sequences, C1 controls or bidi overrides. Written to a terminal as they
are, they would drive it (set its title, change colours, switch modes, reorder a line).
`visible` replaces each such character with one printable symbol, so the text shows
literally and keeps its length (one character in, one out: colours and columns that
follow the characters stay aligned).

    ESC -> ␛   BEL -> ␇   other C0 -> U+2400 + code   DEL -> ␡   newline -> ⏎   tab -> ⇥
    C1 controls, bidi controls, line/paragraph separators, lone surrogates -> �
"""

from __future__ import annotations

NEWLINE = "⏎"
TAB = "⇥"
REPLACEMENT = "\ufffd"
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_SEPARATORS = frozenset("\u2028\u2029\x85")


def visible_char(c: str, keep_newlines: bool = False) -> str:
    """One character as it may be shown on a terminal (itself when it is harmless)."""
    code = ord(c)
    if c == "\n":
        return c if keep_newlines else NEWLINE
    if c == "\t":
        return TAB
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control pictures": ␀ ␁ … ␛ …
    if code == 0x7F:
        return "\u2421"  # ␡
    if 0x80 <= code < 0xA0 or c in BIDI_CONTROLS or c in LINE_SEPARATORS or 0xD800 <= code < 0xE000:
        return REPLACEMENT
    return c


def visible(text: str, keep_newlines: bool = False) -> str:
    """`text` with every control character shown as a symbol (same length as `text`).

    keep_newlines: leave "\\n" as a line break (a pane that shows lines), else ⏎.
    """
    if text.isprintable():  # no control, format or separator character: the common case
        return text  # the common case, without a loop in Python
    return "".join(visible_char(c, keep_newlines) for c in text)
