"""The key table (tui/keys.py): every key is bound, in the palette, on the help screen and in README."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import Markdown, OptionList

from tui.app import GRUApp
from tui.keys import ROWS, all_keys, keys_markdown
from tui.screens.help import HelpScreen

from .conftest import wait_palette_searched, wait_ready, wait_rendered, wait_until

SIZE = (120, 40)
README = Path(__file__).parents[2] / "README.md"


def palette_options(app: GRUApp) -> list[str]:
    options = app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def search_palette(pilot, query: str) -> list[str]:
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), what="the palette")
    await pilot.press(*query)
    await wait_until(pilot, lambda: len(palette_options(pilot.app)) > 0, what=f"hits for {query!r}")
    await wait_palette_searched(pilot)  # the palette gathers hits from every provider
    return palette_options(pilot.app)


def test_readme_carries_the_key_table():
    readme = README.read_text(encoding="utf-8")
    assert keys_markdown() in readme, "README's key table differs: paste `python -m tui.keys`"


async def test_every_bound_key_is_in_the_help_and_the_palette():
    bound = {binding.key for binding in GRUApp.BINDINGS}
    assert bound == {key.key for _, key in all_keys()}
    table = keys_markdown()
    for row in ROWS:
        assert f"| `{row.shown}` |" in table
    app = GRUApp()
    async with app.run_test(size=SIZE):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        # a key that cannot act now is left out of the palette (the footer dims it)
        enabled = {key.key for _, key in all_keys() if app.check_action(key.action.split("(")[0], ()) is True}
    for _, key in all_keys():
        if key.key != "escape":  # escape leaves a field; the palette itself takes escape
            assert (key.title in titles) == (key.key in enabled), f"{key.key}: palette, check_action differ"
    assert "Help: keys and matrices explained" in titles


async def test_palette_finds_length_and_step_and_runs_the_key(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        hits = await search_palette(pilot, "length")
        assert any("sample length" in hit.lower() for hit in hits), hits
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(article_app.screen, CommandPalette))
        hits = await search_palette(pilot, "step")
        assert any("Train one step" in hit for hit in hits), hits
        assert any("time step" in hit for hit in hits), hits
        first = hits.index(next(hit for hit in hits if "Train one step" in hit))
        options = article_app.screen.query_one(OptionList)
        options.highlighted = first
        await pilot.press("enter")
        await wait_rendered(pilot, lambda s: s.step == 1)


async def test_palette_keys_opens_the_help_and_escape_closes_it(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        chart_width = article_app.query_one("#chart").size.width
        hits = await search_palette(pilot, "Keys")
        assert hits[0].startswith("Keys")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(article_app.screen, HelpScreen), what="the help")
        assert "`space`" in article_app.screen.query_one(Markdown).source
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(article_app.screen, HelpScreen))
        assert article_app.query_one("#chart").size.width == chart_width  # no side panel


async def test_help_scrolls_with_arrows_and_page_down_without_tab(article_app):
    async with article_app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(article_app.screen, HelpScreen), what="the help")
        body = article_app.screen.query_one("#help-body")
        await pilot.pause()
        await pilot.press("down", "down")
        await wait_until(pilot, lambda: body.scroll_y > 0, 5, "down to scroll")
        top = body.scroll_y
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: body.scroll_y > top + 5, 5, "pagedown to scroll a page")


async def test_footer_labels_come_from_the_table(article_app):
    async with article_app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        footer = " ".join(str(w.render()) for w in article_app.query("FooterKey"))
        for _, key in all_keys():
            if key.footer:
                assert key.footer in footer


async def test_help_says_how_many_threads_train():
    from gru_core import TrainConfig

    app = GRUApp(TrainConfig.article(), torch_threads=1)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        source = app.screen.query_one(Markdown).source
        assert "Training runs on **1 thread**" in source and "--threads N" in source
