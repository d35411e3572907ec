"""The app on real text: the best weights restored with b, what the status line says."""

from __future__ import annotations

from gru_core import TrainConfig
from gru_core.corpora import load_corpus
from tui.app import GRUApp
from tui.widgets.status import StatusBar

from .conftest import wait_ready, wait_rendered, wait_until

SIZE = (140, 40)


def status_text(app: GRUApp) -> str:
    return str(app.query_one(StatusBar).render())


async def test_b_restores_the_best_weights_and_the_status_line_says_so():
    text = load_corpus("stdlib")[:8000]
    app = GRUApp(TrainConfig.for_text(text, hidden_size=16, seq_len=16, batch_size=8))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("b")  # nothing validated yet: says why nothing came back
        await wait_until(pilot, lambda: "no best weights yet" in status_text(app), what="the refusal")
        await pilot.press("e")
        await wait_rendered(pilot, lambda s: s.epoch == 1 and s.state == "paused" and s.best_val is not None)
        best = app._latest.best_val
        await wait_until(pilot, lambda: f"best {best:.4f} @" in status_text(app), what="the best val")
        await pilot.press("b")
        await wait_until(pilot, lambda: f"restored the best weights: val {best:.4f}" in status_text(app),
                         what="the restore note")
