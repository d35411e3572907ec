"""The app's keys, in one table: bindings, palette commands, the help screen and README's table.

Add a key here and it is bound (GRUApp.BINDINGS), offered in the command palette
(ctrl+p, by its title), listed on the help screen and in README's key table (a test
keeps README in step: `python -m tui.keys` prints the table to paste). Every message that
names a key takes it from here (key_for("restore_best") is "b"; a test scans tui for keys
typed by hand), and check_action disables the keys flagged needs_session while torch loads.

    ROWS        one row per line of the help: how the keys are shown, what they do
      Key       one Textual key: its name, the App action it runs, its palette title,
                its footer label ("" keeps it out of the footer), whether it needs a session
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App, SystemCommand
    from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    """One key as Textual binds it."""

    key: str  # Textual's key name: "space", "less_than_sign", "ctrl+s"
    action: str  # an App action with its arguments: "time_step(-1)"
    title: str  # the command palette's name for it (searched as you type); "" keeps it out
    footer: str = ""  # its label in the footer; "" keeps it out of the footer
    needs_session: bool = False  # disabled (footer, palette) until torch is loaded and training exists


@dataclass(frozen=True)
class KeyRow:
    """One line of the help: keys shown together ("t / T") and what they do."""

    shown: str
    does: str
    keys: tuple[Key, ...] = ()  # none: the key is Textual's own (ctrl+p)


ROWS: tuple[KeyRow, ...] = (
    KeyRow("space", "train / pause (a finished run: as many epochs again; the status says how many)", (
        Key("space", "toggle", "Train / pause", "Train", needs_session=True),)),
    KeyRow("n", "train one batch (one step; then pause)", (
        Key("n", "step", "Train one step (one batch)", "Step", needs_session=True),)),
    KeyRow("e", "train to the end of the epoch (then pause)", (
        Key("e", "epoch", "Finish the epoch", "Epoch", needs_session=True),)),
    KeyRow("r", "reset: new weights from the seed, same config", (
        Key("r", "reset", "Reset the model", "Reset", needs_session=True),)),
    KeyRow("← / →", "previous / next time step t in the matrices pane", (
        Key("left", "time_step(-1)", "Previous time step t (matrices)"),
        Key("right", "time_step(1)", "Next time step t (matrices)"))),
    KeyRow("x", "explain a number: a cell cursor in the matrices pane (arrows move it, the mouse too; "
                "x or escape leaves); the panel below shows its equation with this batch's numbers", (
        Key("x", "explain", "Explain a number (cell cursor in the matrices)"),)),
    KeyRow("/", "type a prime in the samples pane; Enter samples from it", (
        Key("slash", "focus_prime", "Sample from a prime", "Prime"),)),
    KeyRow("t / T", "lower / raise the sampling temperature", (
        Key("t", "temperature(-1)", "Lower temperature"),
        Key("T", "temperature(1)", "Raise temperature"))),
    KeyRow("< / >", "shorter / longer prime samples (20 … 2000 characters, streamed as drawn)", (
        Key("less_than_sign", "sample_length(-1)", "Shorter sample length"),
        Key("greater_than_sign", "sample_length(1)", "Longer sample length"))),
    KeyRow("k / K", "lower / raise top-k: draw only from the k likeliest characters (off: all)", (
        Key("k", "top_k(-1)", "Lower top-k (fewer characters to draw from)"),
        Key("K", "top_k(1)", "Raise top-k (more characters to draw from)"))),
    KeyRow("PageUp / PageDown", "scroll the epoch samples (the wheel too)", (
        Key("pageup", "scroll_samples(-1)", "Scroll the samples up (older)"),
        Key("pagedown", "scroll_samples(1)", "Scroll the samples down (newer)"))),
    KeyRow("u", "colour the sample: plain, by confidence p(char), by a hidden unit's activation", (
        Key("u", "colour_mode", "Colour the sample"),)),
    KeyRow("[ / ]", "previous / next hidden unit to colour by", (
        Key("left_square_bracket", "unit(-1)", "Previous hidden unit"),
        Key("right_square_bracket", "unit(1)", "Next hidden unit"))),
    KeyRow("j", "next of the most responsive units (largest swing over the text shown)", (
        Key("j", "top_unit", "Most responsive unit"),)),
    KeyRow("v", "the coloured view over a stretch of validation text / back to the sample", (
        Key("v", "validation_view", "Validation text view", needs_session=True),)),
    KeyRow("b", "restore the weights of the best validation loss (a copy is kept at each check)", (
        Key("b", "restore_best", "Restore the best weights (validation)"),)),
    KeyRow("ctrl+s", "save a checkpoint (asks for the path; training goes on)", (
        Key("ctrl+s", "save", "Save a checkpoint", needs_session=True),)),
    KeyRow("ctrl+o", "load a checkpoint: resume that run, paused (a bad file changes nothing)", (
        Key("ctrl+o", "load", "Load a checkpoint", needs_session=True),)),
    KeyRow("ctrl+e", "export the loss history (CSV) and the batch on screen (JSON)", (
        Key("ctrl+e", "export", "Export loss and matrices", needs_session=True),)),
    KeyRow("ctrl+t", "export the model: safetensors, and torch.nn.GRU's .pt for reset after", (
        Key("ctrl+t", "export_model", "Export the model (safetensors, torch.nn.GRU)", needs_session=True),)),
    KeyRow("l", "loss chart: toggle a log y axis", (
        Key("l", "log_scale", "Toggle log scale (loss chart)", "Log y"),)),
    KeyRow("c", "show / hide the config pane", (
        Key("c", "toggle_config", "Toggle config pane"),)),
    KeyRow("escape", "leave a text field (keys act on training again)", (
        Key("escape", "leave_field", ""),)),
    KeyRow("ctrl+p", "command palette: the same actions by name"),
    KeyRow("?", "this help (arrows, PageUp/PageDown scroll it)", (
        Key("question_mark", "help", "Help: keys and matrices explained", "Help"),)),
    KeyRow("d", "error details: the whole message and its traceback, when an error shows", (
        Key("d", "error_details", "Error details"),)),
    KeyRow("q", "quit (stops training at once)", (
        Key("q", "quit", "Quit (stops training at once)", "Quit"),)),
)


def all_keys() -> Iterable[tuple[KeyRow, Key]]:
    for row in ROWS:
        for key in row.keys:
            yield row, key


def row_of(action: str) -> KeyRow:
    """The help's row for a key's action (the palette's dynamic commands cite its keys)."""
    return next(row for row, key in all_keys() if key.action == action)


def _row_and_key(action: str) -> tuple[KeyRow, Key]:
    """The row and key of an action, named with or without its arguments ("unit" or "unit(1)")."""
    for row, key in all_keys():
        if action in (key.action, key.action.split("(")[0]):
            return row, key
    raise KeyError(f"no key in tui/keys.py runs the action {action!r}")


# The path dialog's own key (a dialog binds it, not the app), named here because a message
# elsewhere cites it (tui/confine.py: a refused path says which key lists what may be opened).
BROWSE_KEY = "ctrl+b"


def key_for(action: str, joiner: str = " / ") -> str:
    """The key of an action as the screen shows it: "b", "ctrl+s", and for a pair on one row
    ("t / T") both, joined by `joiner` ("" gives the compact "tT" of a crowded line)."""
    return joiner.join(_row_and_key(action)[0].shown.split(" / "))


def textual_key(action: str) -> str:
    """Textual's name for an action's key ("space"), as its bindings map holds it."""
    return _row_and_key(action)[1].key


def needs_session() -> frozenset[str]:
    """The actions (without arguments) that wait for a training session: check_action disables them."""
    return frozenset(key.action.split("(")[0] for _, key in all_keys() if key.needs_session)


def bindings() -> list[Binding]:
    """GRUApp.BINDINGS: every key; those with a footer label are shown in the footer."""
    from textual.binding import Binding  # here: the flags' help (tui/launch.py) names keys without textual

    return [Binding(key.key, key.action, key.footer or key.title, show=bool(key.footer))
            for _, key in all_keys()]


def palette_commands(app: App) -> Iterable[SystemCommand]:
    """A palette command for every key with a title; choosing one runs the key's action."""
    from textual.app import SystemCommand

    for row, key in all_keys():
        # a key that cannot act now (check_action: disabled) is left out, as the footer dims it
        if key.title and app.check_action(key.action.split("(")[0], ()) is True:
            yield SystemCommand(key.title, f"{row.does} ({row.shown})",
                                lambda action=key.action: app.run_action(action))


def keys_markdown() -> str:
    """The table the help screen shows and README carries."""
    rows = "\n".join(f"| `{row.shown}` | {row.does} |" for row in ROWS)
    return f"| key | does |\n|---|---|\n{rows}\n"


if __name__ == "__main__":
    print(keys_markdown(), end="")
