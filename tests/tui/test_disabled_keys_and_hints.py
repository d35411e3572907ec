"""Textual's conventions: keys that cannot act now are shown disabled (check_action)."""

from textual.command import CommandList
from textual.widgets._footer import FooterKey

from gru_core import TrainConfig
from tui.app import GRUApp

from .conftest import wait_palette_searched, wait_ready, wait_rendered, wait_until
from .test_real_text import SIZE, notifications


def footer_key(app: GRUApp, key: str) -> FooterKey:
    [found] = [k for k in app.screen.query(FooterKey) if k.key == key]
    return found


async def test_step_shows_disabled_while_training_and_enabled_when_paused():
    app = GRUApp(TrainConfig.default(epochs=100_000))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert not footer_key(app, "n").has_class("-disabled")
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "running")
        await wait_until(pilot, lambda: footer_key(app, "n").has_class("-disabled"), what="Step disabled")
        assert app.check_action("step", ()) is None and app.check_action("epoch", ()) is None
        before = len(notifications(app))
        await pilot.press("n")  # ignored, and no notice about it
        assert len(notifications(app)) == before
        await pilot.press("space")
        await wait_rendered(pilot, lambda s: s.state == "paused")
        await wait_until(pilot, lambda: not footer_key(app, "n").has_class("-disabled"), what="Step enabled")
        step = app.shown.step
        await pilot.press("n")
        await wait_rendered(pilot, lambda s: s.step == step + 1)


async def test_training_and_file_keys_are_disabled_until_torch_has_loaded():
    app = GRUApp(TrainConfig.default())
    assert app.session is None  # torch loads after the first frame
    for action in ("toggle", "step", "epoch", "reset", "save", "load", "export", "export_model"):
        assert app.check_action(action, ()) is None, action
    assert app.check_action("help", ()) is True


async def test_every_config_field_and_the_status_line_explain_themselves_on_hover():
    from textual.widgets import Static

    from tui.widgets.config_form import TOOLTIPS
    from tui.widgets.status import StatusBar

    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE, tooltips=True) as pilot:
        await wait_ready(pilot)
        for name in ("hidden_size", "seq_len", "batch_size", "lr", "epochs", "seed", "clip",
                     "val_fraction", "optimizer", "reset", "backward", "preset", "source", "text", "file"):
            assert app.query_one(f"#cfg-{name}").tooltip == TOOLTIPS[name], name
        await pilot.hover(StatusBar)

        def tooltip_shown() -> str:
            return " ".join(str(t.render()) for t in app.screen.query("#textual-tooltip").results(Static)
                            if t.display)

        await wait_until(pilot, lambda: "bits per character" in tooltip_shown(), what="the status tooltip")


async def test_palette_sets_a_temperature_by_value():
    from textual.command import CommandPalette

    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        settings = lambda: str(app.query_one("#sample-settings").render()).replace("\xa0", " ")  # noqa: E731
        for query in ("temperature to 0.5",):
            await pilot.press("ctrl+p")
            await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
            for ch in query:
                await pilot.press("space" if ch == " " else ch)
            await wait_until(pilot, lambda: app.screen.query_one(CommandList).option_count > 0, what="hits")
            await wait_palette_searched(pilot)
            await pilot.press("enter")
            await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette), what="it to close")
        assert "temp 0.5 " in settings() and app.session.sample_temperature == 0.5
