"""Text from a user or a file is data: the app shows it literally (issue 16).

A path, a prime, a text, a preset or an error message quoting them may hold Textual
markup (`[/]`, `[b]`, `[@click=…]`, `$variables`) or control characters (ESC, BEL, C1,
bidi overrides). Markup read as markup ended the app with a MarkupError; control
characters written to the terminal would drive it. Every place that shows such text is
fuzzed here, and each assertion reads what the screen shows.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.content import Content
from textual.widgets import Input, Select, Static
from textual.widgets._toast import Toast

from gru_core import GRUError, TrainConfig
from gru_core.checkpoint import load_checkpoint, save_checkpoint
from gru_core.export import export_loss_csv
from gru_core.history import History
from gru_core.printable import visible
from gru_core.trainer import Trainer
from tui.app import GRUApp
from tui.screens.error_details import ErrorDetailsScreen
from tui.screens.path_dialog import PathDialog
from tui.widgets.config_form import ConfigForm, FileValidator
from tui.widgets.samples import SamplesPane
from tui.widgets.samples_log import SamplesLog
from tui.widgets.status import StatusBar

from .conftest import wait_ready, wait_rendered, wait_until
from .test_app_faults_and_stress import FUZZ, assert_healthy

SIZE = (120, 40)
MARKUP = st.lists(
    st.sampled_from(["[", "]", "[/]", "[b]", "[/b]", "[@click=app.quit]", "[@click=app.bell]x[/]",
                     "$accent", "$text-muted", "[red on $x]", "[link=x]", "\\", "x", "é", " ",
                     "\x1b]2;t\x07"]),
    min_size=1, max_size=6,
).map("".join)


FAILED_FILE_ACTIONS = (("ctrl+o", "not loaded"), ("ctrl+s", "not saved"), ("ctrl+e", "not exported"))


def squeezed(text: str) -> str:
    """Text without whitespace: a toast or a pane wraps long lines where it likes."""
    return "".join(str(text).split())


def rendered(widget) -> str:
    return str(widget.render())


def toasts(app: GRUApp) -> str:
    """Every notification as the screen draws it (render() parses markup if it is asked to)."""
    return "\n".join(rendered(toast) for toast in app.screen.query(Toast))


async def ask_path(pilot, key: str, path: str) -> None:
    app = pilot.app
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the path dialog")
    app.screen.query_one("#path-input", Input).value = path
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, PathDialog), what="the dialog to close")


async def test_a_path_with_markup_in_ctrl_o_is_shown_as_typed_not_a_crash(tmp_path):
    """The attack sweep's case: `missing[/]x.ckpt` in ctrl+o ended the app with MarkupError."""
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_ready(pilot)
        path = str(tmp_path / "missing[/]x.ckpt")
        await ask_path(pilot, "ctrl+o", path)
        await wait_until(pilot, lambda: app.file_message.startswith("not loaded"), what="the answer")
        await wait_until(pilot, lambda: "missing[/]x.ckpt" in toasts(app), what="the toast")
        assert app.is_running and app.session.alive


# One string with every piece MARKUP draws from: the app example below takes it through
# every dialog; hypothesis takes MARKUP's strings through the builders of what they show.
HOSTILE = ("[/]x[@click=app.quit]q[/] [b]$accent [red on $x][link=x]é\\ [@click=app.bell]x[/]"
           "\x1b]2;t\x07 $text-muted][")
PURE = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def as_shown(message: str) -> str:
    """A message as a toast or an error line draws it: GRUApp.notify and the panes pass
    visible(message) as plain Content/Text (never markup), so the screen reads this."""
    return Content(visible(message)).plain


def quotes(message: str, s: str) -> bool:
    """The message quotes s: as typed (controls as symbols), or escaped by a repr."""
    return any(q in squeezed(message) for q in (squeezed(visible(s)), squeezed(repr(s)[1:-1])))


_TRAINER: list[Trainer] = []


def trainer() -> Trainer:
    if not _TRAINER:
        _TRAINER.append(Trainer(TrainConfig.default()))
    return _TRAINER[0]


@PURE
@given(s=MARKUP)
def test_a_failed_load_save_or_export_quotes_the_path_literally(s, tmp_path):
    """What ctrl+o, ctrl+s and ctrl+e say (tui/file_actions.py: "not loaded: " and the
    GRUError) for a path in a folder that does not exist, as the toast shows it."""
    path = str(tmp_path / "no-such-folder" / f"{s}.ckpt")
    for prefix, act in (("not loaded", lambda: load_checkpoint(path)),
                        ("not saved", lambda: save_checkpoint(trainer(), History(), path)),
                        ("not exported", lambda: export_loss_csv(History([1.0]), f"{path}-loss.csv"))):
        with pytest.raises(GRUError) as refused:
            act()
        message = f"{prefix}: {refused.value}"
        assert quotes(message, s), message
        shown = as_shown(message)
        assert squeezed(visible(message)) == squeezed(shown)  # no markup read: the brackets stay
        assert "\x1b" not in shown and "\x07" not in shown


@PURE
@given(s=MARKUP)
def test_the_file_field_and_a_prime_quote_hostile_text_literally(s):
    result = FileValidator().validate(s)
    if s.strip():
        assert not result.is_valid
        shown = as_shown("; ".join(result.failure_descriptions))  # the #cfg-file-error line
        assert squeezed(visible(repr(s.strip()))) in squeezed(shown)
    if set(s) - set(trainer().config.vocab_chars):
        with pytest.raises(GRUError) as refused:
            trainer().sample(s, 1)
        shown = as_shown(str(refused.value))  # the #prime-error line
        assert shown and "\x1b" not in shown and "\x07" not in shown


@pytest.mark.slow
async def test_markup_and_controls_in_paths_primes_and_fields_show_literally(tmp_path):
    """One hostile string through each dialog (ctrl+o, ctrl+s, ctrl+e), the file field and
    a prime, read from the screen: the app's own glue around the builders above."""
    app = GRUApp(TrainConfig.default(epochs=1000))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_ready(pilot)
        pane = app.query_one(SamplesPane)
        s = HOSTILE
        shown: dict[str, str] = {}
        for key, prefix in FAILED_FILE_ACTIONS:
            app.file_message = ""
            await ask_path(pilot, key, str(tmp_path / "no-such-folder" / f"{s}.ckpt"))
            await wait_until(pilot, lambda p=prefix: app.file_message.startswith(p), what=prefix)
            shown[key] = app.file_message
        await wait_until(pilot, lambda: len(app.screen.query(Toast)) == 3, 60, "three toasts")
        shown["toasts"] = toasts(app)
        field = app.query_one("#cfg-file", Input)  # the config pane's file field: its error quotes the path
        field.value = s
        await pilot.pause()
        shown["file error"] = rendered(app.query_one("#cfg-file-error", Static))
        field.value = ""
        pane.prime_error = ""  # a prime with characters the model does not know: the error quotes them
        await pilot.press("slash")
        app.query_one("#prime", Input).value = s
        await pilot.press("enter")
        await wait_until(pilot, lambda: pane.prime_error or pane.result, 20, "a sample or a message")
        shown["prime error"] = rendered(app.query_one("#prime-error", Static))

        for key in ("ctrl+o", "ctrl+s", "ctrl+e"):
            assert quotes(shown[key], s), (key, shown[key])
            assert squeezed(visible(shown[key])) in squeezed(shown["toasts"]), shown["toasts"]
        assert "\x1b" not in shown["toasts"] and "\x07" not in shown["toasts"]
        assert squeezed(visible(repr(s.strip()))) in squeezed(shown["file error"])
        assert shown["prime error"] and "\x1b" not in shown["prime error"]
        assert_healthy(app)


@given(s=MARKUP)
@FUZZ
def test_visible_keeps_markup_characters_as_they_are(s):
    assert visible(s).replace("␛", "\x1b").replace("␇", "\x07") == s


async def test_a_text_and_a_preset_with_markup_and_controls_show_literally():
    """A checkpoint's text, preset and samples reach the status bar, the form and the samples pane."""
    hostile = "[b]x[/] [@click=app.quit]q[/] $accent \x1b]2;pwned\x07 \u202eevil\x9b31m "
    config = TrainConfig.default(text=hostile * 4, epochs=1000).replace(preset="[/]custom\x1b[31m")
    app = GRUApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        status = rendered(app.query_one(StatusBar))
        assert "preset [/]custom␛[31m" in status
        select = app.query_one("#cfg-preset", Select)
        assert select.value == config.preset
        assert "[/]custom␛[31m" in squeezed(rendered(select.query_one("#label", Static)))
        text_field = app.query_one("#cfg-text", Input)
        assert text_field.value == visible(config.text)  # its controls as symbols; Apply keeps the text
        app.query_one(ConfigForm).request_apply()  # the field as it was filled in: the text is kept
        await wait_until(pilot, lambda: str(app.query_one("#cfg-message").render()).startswith("applied"))
        assert app.session.config.text == config.text
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.samples)
        log = app.query_one(SamplesLog).plain
        assert "\x1b" not in log and "\x07" not in log and "\u202e" not in log and "\x9b" not in log
        sample = app.shown.samples[-1].text
        assert visible(sample)[:8] in log
        assert app.is_running and app.session.alive


async def test_error_details_show_a_hostile_message_literally():
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        app.worker_error = ("bad [/] value \x1b]2;t\x07", "Traceback\n  line [b]1[/b]\x1b[31m\n")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorDetailsScreen), what="the details")
        message = rendered(app.screen.query_one("#error-message", Static))
        detail = rendered(app.screen.query_one("#error-detail", Static))
        assert "bad [/] value ␛]2;t␇" in message
        assert "line [b]1[/b]␛[31m" in detail and detail.count("\n") >= 1


async def test_a_text_with_line_breaks_edited_in_the_field_keeps_them():
    app = GRUApp(TrainConfig.default(text="ab\ncd\tab\ncd\n"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        field = app.query_one("#cfg-text", Input)
        assert field.value == "ab⏎cd⇥ab⏎cd⏎"
        field.value += "dc"
        app.query_one(ConfigForm).request_apply()
        await wait_rendered(pilot, lambda s: s.config.text.endswith("dc"))
        assert app.session.config.text == "ab\ncd\tab\ncd\ndc"
