"""What the app remembers between runs: a small JSON file in the user's config folder.

    $GRU_TUI_CONFIG_DIR/settings.json   when set (tests point it at a temporary folder)
    $XDG_CONFIG_HOME/gru-tui/settings.json, else ~/.config/gru-tui/settings.json

Only the theme for now. Remembering is a convenience: a file that cannot be read (absent,
not JSON, not an object) is as if empty, and one that cannot be written is left as it was
(the app says so once, and goes on).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gru_core.atomic import write_atomically
from gru_core.errors import GRUError

SETTINGS_FILE = "settings.json"


def settings_path() -> Path:
    folder = os.environ.get("GRU_TUI_CONFIG_DIR")
    if not folder:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        folder = os.path.join(base, "gru-tui")
    return Path(folder) / SETTINGS_FILE


def load_settings() -> dict[str, Any]:
    """The settings saved last time; {} when there are none or they cannot be read."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(**changes: Any) -> None:
    """Merge changes into the settings file (written atomically); GRUError if it cannot be."""
    data = load_settings() | changes
    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GRUError(f"could not remember the settings in {str(path.parent)!r}: {exc.strerror}") from None
    payload = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")
    write_atomically(str(path), lambda f: f.write(payload), what="settings file")
