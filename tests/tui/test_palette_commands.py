"""The palette's dynamic commands: open it, type, pick, and see the effect on screen."""

from __future__ import annotations

import asyncio

from textual.command import CommandPalette
from textual.widgets import Input, OptionList

from gru_core import TrainConfig
from gru_core.corpora import load_corpus
from tui.app import GRUApp
from tui.widgets.samples import SamplesPane
from tui.widgets.status import StatusBar

from .conftest import screen_text, wait_ready, wait_rendered, wait_until

SIZE = (120, 40)


def options(app: GRUApp) -> list[str]:
    found = app.screen.query_one(OptionList)
    return [str(found.get_option_at_index(i).prompt) for i in range(found.option_count)]


async def pick(pilot, query: str, title: str) -> None:
    """ctrl+p, type the query, wait for `title` among the hits, move to it, Enter."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
    await pilot.press(*["space" if ch == " " else ch for ch in query])
    await wait_until(pilot, lambda: any(title in option for option in options(app)), what=f"{title!r}")
    found = app.screen.query_one(OptionList)

    def on_title() -> bool:
        k = found.highlighted
        return k is not None and k < found.option_count and title in str(found.get_option_at_index(k).prompt)

    for _ in range(200):  # hits may still arrive and reorder: look again after each move
        if on_title():
            break
        await pilot.press("down")
        await pilot.pause()
    assert on_title(), (title, found.highlighted, options(app))
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette), what="the palette to close")


async def test_the_palette_colours_the_sample_by_a_unit_picked_by_number(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("slash", "M", "a", "enter")
        pane = article_app.query_one(SamplesPane)
        await wait_until(pilot, lambda: pane.sample_reading is not None and not pane.unit_view.streaming,
                         what="the prime's sample")
        assert "unit 2 of 2" not in screen_text(article_app)
        await pick(pilot, "hidden unit 2", "Colour by hidden unit 2")
        await wait_until(pilot, lambda: "unit 2 of 2 range [" in screen_text(article_app),
                         what="the legend of unit 1")


async def test_the_palette_switches_to_a_built_in_corpus(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pick(pilot, "corpus to zen", "Switch corpus to zen")
        await wait_until(pilot, lambda: "applied:" in screen_text(article_app), 60, "Apply's message")
        await wait_rendered(pilot, lambda s: s.config.source == "corpus:zen")
        # Apply's whole message scrolls into view, and the config pane's source follows (above
        # it: scrolled back up, the pane shows it)
        article_app.query_one("#cfg-message").scroll_visible(animate=False)
        await wait_until(pilot, lambda: "model reset" in screen_text(article_app), 30, "the whole message")
        article_app.query_one("#cfg-source").scroll_visible(animate=False)
        await wait_until(pilot, lambda: "corpus: zen" in screen_text(article_app), 30, "the source")


async def test_the_palette_restores_the_best_weights_it_names():
    text = load_corpus("stdlib")[:8000]
    app = GRUApp(TrainConfig.for_text(text, hidden_size=16, seq_len=16, batch_size=8))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused" and s.best_val is not None)
        best, step = app.shown.best_val, app.shown.best_step
        title = f"Restore the best weights: val {best:.4f} from step {step}"
        await pick(pilot, "restore the best", title)
        status = lambda: str(app.query_one(StatusBar).render())  # noqa: E731
        note = f"restored the best weights: val {best:.4f} from step {step}"
        await wait_until(pilot, lambda: note in status(), what="the restore note")


async def test_a_pick_that_arrives_after_escape_closed_the_palette_does_nothing(article_app):
    """Key storm seed 1: Enter then Escape in one burst; the palette was gone when its list's
    OptionSelected arrived, and its dismiss popped the app's own screen (ScreenStackError,
    the app ended). Escape won: the pick is dropped, no command runs, the app stays."""
    from textual.command import CommandList

    app = article_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*["space" if ch == " " else ch for ch in "train one step"])
        await wait_until(pilot, lambda: "Train one step" in " ".join(options(app)), what="the hit")
        palette = app.screen
        found = palette.query_one(CommandList)
        found.highlighted = next(k for k, o in enumerate(options(app)) if "Train one step" in o)
        found.action_select()  # Enter on a hit: its OptionSelected is queued for the palette
        palette._action_escape()  # Escape, in the same turn: the palette is gone first
        await wait_until(pilot, lambda: len(app.screen_stack) == 1, what="the palette closed")
        for _ in range(5):
            await pilot.pause()
        assert app.is_running and len(app.screen_stack) == 1 and app.session.alive
        assert app.session.snapshot().step == 0 and app.shown.step == 0  # the pick ran nothing
        palette.dismiss()  # a second dismiss of a closed palette pops nothing either
        await pilot.pause()
        assert app.is_running and len(app.screen_stack) == 1


async def test_a_palette_closed_while_it_searches_ends_nothing(article_app):
    """Key storm seeds 26 and 29: the palette's search worker was still gathering hits when
    the palette's widgets were gone (a closing screen loses its children first, its workers
    after), and showing the hits, or 'busy', queried the list: NoMatches ended the app."""
    from textual.command import CommandList

    app = article_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        for turns in range(0, 24, 2):
            await pilot.press("ctrl+p")
            await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
            palette = app.screen
            palette.query_one(Input).value = "r"
            await wait_until(pilot, lambda palette=palette: palette._list_visible, what="hits listed")
            palette.query_one(Input).value = "[nr["  # a search with no hits starts: the list will hide
            for _ in range(turns):  # part of it has run
                await asyncio.sleep(0)
            await palette.query_one(CommandList).remove()  # the first of its widgets to go
            await palette.workers.wait_for_complete()
            await pilot.pause()
            assert app.is_running, turns
            app.pop_screen()
            await wait_until(pilot, lambda palette=palette: not palette.is_attached, what="the palette gone")
            assert app.is_running and len(app.screen_stack) == 1
