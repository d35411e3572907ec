"""The app patches private Textual methods (tui/textual_fixes.py, tui/screens/path_dialog.py):
a Textual they were not tested on fails here, saying what to do, rather than in a user's
key storm."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import OptionList

from tui.textual_fixes import TESTED_TEXTUAL

ROOT = Path(__file__).resolve().parents[2]


def release(text: str) -> tuple[int, ...]:
    """'8.2.8' -> (8, 2, 8); a pre-release or local suffix is left out."""
    found = re.match(r"\d+(\.\d+)*", text)
    assert found, text
    return tuple(int(part) for part in found.group().split("."))


def test_the_installed_textual_is_one_the_patches_were_tested_on():
    installed = version("textual")
    low, high = TESTED_TEXTUAL
    assert release(low) <= release(installed) < release(high), (
        f"textual {installed} is installed, but tui/textual_fixes.py and tui/screens/path_dialog.py "
        f"patch its private methods and were tested on textual>={low},<{high}. Install that "
        f"(pip install 'textual>={low},<{high}'), or run the palette, file picker and storm tests "
        f"(tests/tui/test_palette_commands.py, test_file_picker.py, pytest -m storm) on {installed} "
        f"and widen TESTED_TEXTUAL in tui/textual_fixes.py and the pin in pyproject.toml together.")


def test_pyproject_pins_the_tested_range():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [d.split("#")[0].replace(" ", "") for d in project["dependencies"] if re.match(r"textual[<>=]", d)]
    low, high = TESTED_TEXTUAL
    assert pins == [f"textual>={low},<{high}"], pins


@pytest.mark.parametrize("owner, name", [
    (OptionList, "_move_page"), (OptionList, "_index_to_line"),  # _index_to_line: set in __init__
    (CommandPalette, "_gather_commands"), (CommandPalette, "_GATHER_COMMANDS_GROUP"),
    (CommandPalette, "_on_message"), (CommandPalette, "_watch__list_visible"),
    (CommandPalette, "_watch__show_busy"), (Screen, "_post_mount"),
])
def test_the_private_names_the_patches_replace_are_there(owner, name):
    where = owner if name != "_index_to_line" else OptionList()
    assert hasattr(where, name), f"{owner.__name__}.{name} is gone from textual {version('textual')}"
