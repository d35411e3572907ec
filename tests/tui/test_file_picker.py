"""ctrl+o / ctrl+s's path dialog browses with textual-fspicker: pick a file, and it loads."""

from __future__ import annotations

import asyncio

from textual.widgets import Input
from textual_fspicker import FileOpen, FileSave, Filters

from gru_core import TrainConfig
from gru_core.checkpoint import save_checkpoint
from gru_core.history import History
from tui.screens.path_dialog import PathDialog
from tui.widgets.status import StatusBar

from .conftest import screen_text, wait_ready, wait_rendered, wait_until
from .test_app_faults_and_stress import type_fast

SIZE = (120, 40)


async def test_browse_from_ctrl_o_to_a_checkpoint_and_load_it(article_app, tmp_path):
    from gru_core.trainer import Trainer

    trainer, history = Trainer(TrainConfig.article()), History()
    for _ in range(5):
        history.add_step(trainer.step().loss)
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    save_checkpoint(trainer, history, str(tmp_path / "run.ckpt"))
    app = article_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the path dialog")
        assert "ctrl+b: browse" in screen_text(app) and "Browse…" in screen_text(app)
        app.screen.query_one("#path-input", Input).value = f"{tmp_path}/"
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: isinstance(app.screen, FileOpen), what="the file picker")
        await wait_until(pilot, lambda: "run.ckpt" in screen_text(app), what="the folder's listing")
        assert "notes.txt" not in screen_text(app)  # the .ckpt filter comes first
        await pilot.press("down")  # the listing has the keyboard: .. then run.ckpt
        await wait_until(pilot, lambda: app.screen.query_one(Input).value == "", 1, "nothing chosen yet")
        for _ in range(5):  # to run.ckpt, whatever entries come before it
            await pilot.press("enter")
            await pilot.pause()
            if app.screen.query_one(Input).value == "run.ckpt":
                break
            await pilot.press("down")
        assert app.screen.query_one(Input).value == "run.ckpt"
        await pilot.press("enter")  # open it
        await wait_rendered(pilot, lambda s: s.step == 5)
        loaded = f"loaded {tmp_path / 'run.ckpt'}"
        await wait_until(pilot, lambda: loaded in app.file_message, what="the load")
        assert "step 5" in str(app.query_one(StatusBar).render())


async def test_ctrl_s_browses_with_a_save_dialog(article_app, tmp_path):
    app = article_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the path dialog")
        app.screen.query_one("#path-input", Input).value = f"{tmp_path}/mine.ckpt"
        await pilot.click("#path-browse")
        await wait_until(pilot, lambda: isinstance(app.screen, FileSave), what="the save picker")
        assert app.screen.query_one(Input).value == "mine.ckpt"  # the typed name, in the typed folder
        await pilot.click("#select")  # the picker's Save button
        await wait_until(pilot, lambda: "saved checkpoint" in app.file_message, what="the save")
        assert (tmp_path / "mine.ckpt").is_file()


async def test_enter_pressed_twice_in_the_save_picker_saves_once_and_keeps_the_app(article_app, tmp_path):
    """The key storm's case: ctrl+s, ctrl+b, Enter Enter in one burst. The picker's second
    confirm popped the path dialog, then the app's own screen (ScreenStackError)."""
    app = article_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the path dialog")
        app.screen.query_one("#path-input", Input).value = f"{tmp_path}/twice.ckpt"
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: isinstance(app.screen, FileSave), what="the save picker")
        app.screen.query_one(Input).focus()  # its file name, "twice.ckpt": Enter there confirms
        await pilot.pause()
        await type_fast(pilot, ["enter", "enter", "enter"])
        await wait_until(pilot, lambda: "saved checkpoint" in app.file_message, what="the save")
        assert app.is_running and len(app.screen_stack) == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["twice.ckpt"]


def _mounted_share(picker) -> float:
    """The share of the picker's widgets (composed so far) that have mounted."""
    widgets = list(picker.walk_children(with_self=False))
    return sum(widget.is_mounted for widget in widgets) / len(widgets) if widgets else 0.0


# The stages of a picker's mount a dismiss can land in, each reached (or passed) after some
# turns of the event loop. Before the fix the first three ended the app (NoMatches); the
# others are where the fix's waiting must give way to an ordinary dismiss.
MOUNT_STAGES = (
    ("just pushed", lambda picker: True),
    ("composed, nothing mounted", lambda picker: bool(picker.children)),
    ("its first widgets mounted", lambda picker: _mounted_share(picker) > 0),
    ("half its widgets mounted", lambda picker: _mounted_share(picker) >= 0.5),
    ("every widget mounted, the screen not yet", lambda picker: _mounted_share(picker) == 1),
    ("mounted", lambda picker: picker.is_mounted),
)


async def test_a_picker_dismissed_before_its_widgets_have_mounted_waits_for_them(article_app, tmp_path):
    """Key storm seed 4 in CI, twice: ctrl+b then escape in one burst dismissed the picker
    while its widgets were still mounting; their Mount handlers (textual-fspicker's filter
    Select queries its overlay, the picker its DirectoryNavigation) found them gone and
    NoMatches ended the app. Now a dismiss that comes first waits for the mount.

    (It swept 40 turns of the loop for each picker; the stages those turns fall in are
    the ones that differ, so each stage is dismissed in once.)"""
    from tui.screens.path_dialog import _once

    (tmp_path / "a.ckpt").write_text("x")
    app = article_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        for kind in (FileSave, FileOpen):
            for stage, reached in MOUNT_STAGES:
                filters = Filters(("ckpt files", lambda p: p.suffix == ".ckpt"),
                                  ("all files", lambda p: True))
                picker = _once(kind)(str(tmp_path), "pick", filters=filters, default_file="x.ckpt")
                answers = []
                app.push_screen(picker, answers.append)
                for _ in range(1000):  # turns of the loop, until the stage (each is a few)
                    if reached(picker):
                        break
                    await asyncio.sleep(0)
                assert reached(picker), (kind.__name__, stage)
                assert app.screen is picker
                picker.dismiss(None)
                await wait_until(pilot, lambda answers=answers: answers == [None], what=f"answer, {stage}")
                await wait_until(pilot, lambda: len(app.screen_stack) == 1, what=f"the picker gone ({stage})")
                assert app.is_running, (kind.__name__, stage)
        await pilot.pause()
        assert app.is_running


async def test_an_answer_the_path_dialog_gets_under_its_picker_leaves_the_picker_open(article_app, tmp_path):
    """Key storm seed 15: Enter then ctrl+b in one burst; the dialog's Enter was handled once
    the picker was pushed, and its dismiss popped the top screen, the picker, mid-mount
    (NoMatches ended the app). The picker the user asked for stays and answers instead."""
    app = article_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the path dialog")
        dialog = app.screen
        dialog.query_one("#path-input", Input).value = f"{tmp_path}/"
        dialog.action_browse()  # ctrl+b: the picker is pushed
        dialog.answer(str(tmp_path / "typed.ckpt"))  # the Enter typed before it, handled now
        await wait_until(pilot, lambda: isinstance(app.screen, FileOpen), what="the file picker")
        await wait_until(pilot, lambda: app.screen.is_mounted, what="the picker mounted")
        for _ in range(3):
            await pilot.pause()
        assert app.is_running and isinstance(app.screen, FileOpen) and app.screen_stack[-2] is dialog
        assert not dialog.answered
        await pilot.press("escape")  # the picker, cancelled: back in the dialog, which still answers
        await wait_until(pilot, lambda: app.screen is dialog, what="the dialog again")
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(app.screen_stack) == 1, what="the dialog closed")
        assert app.is_running
