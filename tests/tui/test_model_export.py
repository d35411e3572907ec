"""ctrl+t (and the palette's "Export the model"): safetensors and torch.nn.GRU files from the app."""

import io

import torch

from gru_core import TrainConfig
from gru_core.model_cli import sample_main
from tui.app import GRUApp

from .conftest import wait_ready, wait_rendered
from .test_real_text import SIZE, answer_dialog, notifications, wait_message


async def test_ctrl_t_writes_safetensors_and_an_nn_gru_for_reset_after(tmp_path):
    base = str(tmp_path / "model")
    app = GRUApp(TrainConfig.default(reset="after"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused")
        default = await answer_dialog(pilot, "ctrl+t", base)
        assert default == f"./gru-tui-step{app.shown.step}"
        message = await wait_message(pilot, "exported the model")
        assert f"{base}.safetensors" in message and f"{base}.pt" in message
        assert message in notifications(app)
    d = torch.load(f"{base}.pt", weights_only=True)
    gru = torch.nn.GRU(d["input_size"], d["hidden_size"])
    gru.load_state_dict(d["gru"])  # fits nn.GRU as it is
    out = io.StringIO()
    assert sample_main([f"{base}.safetensors", "--prime", "M", "--len", "5"], out=out) == 0
    assert out.getvalue().startswith("M")


async def test_ctrl_t_on_reset_before_says_why_there_is_no_pt(tmp_path):
    base = str(tmp_path / "model")
    app = GRUApp(TrainConfig.default())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await answer_dialog(pilot, "ctrl+t", base)
        message = await wait_message(pilot, "exported the model")
        assert "no torch.nn.GRU equivalent" in message
    assert (tmp_path / "model.safetensors").exists() and not (tmp_path / "model.pt").exists()
