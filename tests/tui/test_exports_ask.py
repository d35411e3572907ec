"""ctrl+e and ctrl+t ask before replacing files already there, as ctrl+s does (issue 26:
both replaced X-loss.csv, X-batch.json, X.safetensors and X.pt without a word)."""

from __future__ import annotations

from gru_core import TrainConfig
from tui.app import GRUApp
from tui.screens.path_dialog import ReplaceDialog

from .conftest import wait_ready, wait_rendered, wait_until
from .test_real_text import SIZE, answer_dialog, wait_message


async def test_ctrl_e_and_ctrl_t_ask_before_replacing_and_keep_the_files_on_n(tmp_path):
    base = str(tmp_path / "X")
    olds = {f"{base}{end}": b"mine" for end in ("-loss.csv", "-batch.json", ".safetensors", ".pt")}
    for path, data in olds.items():
        with open(path, "wb") as f:
            f.write(data)
    app = GRUApp(TrainConfig.default(reset="after"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused")
        for key, names in (("ctrl+e", ("X-loss.csv", "X-batch.json")), ("ctrl+t", ("X.safetensors", "X.pt"))):
            app.file_message = ""
            await answer_dialog(pilot, key, base)
            await wait_until(pilot, lambda: isinstance(app.screen, ReplaceDialog), what="the question")
            question = str(app.screen.query_one("#replace-question").render())
            assert all(name in question for name in names) and "replace them?" in question, question
            await pilot.press("n")
            message = await wait_message(pilot, "not exported")
            assert "kept as they were" in message
        for path, data in olds.items():
            assert open(path, "rb").read() == data, path

        await answer_dialog(pilot, "ctrl+t", base)
        await wait_until(pilot, lambda: isinstance(app.screen, ReplaceDialog), what="the question")
        await pilot.press("y")
        await wait_message(pilot, "exported the model")
    assert open(f"{base}.safetensors", "rb").read() != b"mine"
    assert open(f"{base}.pt", "rb").read() != b"mine"
