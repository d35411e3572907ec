"""Time to quality on real text: held-out bits/char after fixed training-time budgets.

What a user waits for is a good held-out loss, not characters per second. The text is
about 1 MB of the Python standard library's own sources (every machine with this Python
has them), split 90/10. Both runners use the settings gru_core fits to that text
(`TrainConfig.for_text` where it exists): hidden size, sequence length, batch, Adam's
learning rate and clipping, on the same batches in the same order.

- gru_core: `Trainer.step()`, the step the app and `gru-tui train` take.
- torch.nn.GRU + nn.Linear: the loop a practitioner writes (one-hot inputs, Adam,
  clip_grad_norm_, hidden state carried and detached).
- gru_core in the app: GRUApp under `run_test` at 120x40 (every pane drawn, its own
  validation checks and samples included), training in its worker thread with the
  app's torch thread setting; the clock is wall time while it trains.

The clock counts training only. The two headless loops train in turns, a slice of a few
seconds each, so that on a shared machine both meet the same load; after each slice
each is scored on the held-out text by the same code (the nn.GRU weights are copied into
a reset-after GRUModel, which equals it to 1e-6, and scored by `Trainer.evaluate`).
The figure of merit is how long gru_core takes to reach the held-out loss nn.GRU has at
the end of the longest budget.
"""

from __future__ import annotations

import asyncio
import math
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

import torch

from gru_core.config import TrainConfig
from gru_core.trainer import Trainer

from ..torch_twin import from_torch
from .common import Row

SECTION = "time to quality"


def stdlib_text(chars: int) -> str:
    """The first `chars` characters of the standard library's top-level modules, by name."""
    parts, total = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(text)
        total += len(text)
        if total >= chars:
            break
    return "".join(parts)[:chars]


def fitted_config(text: str) -> TrainConfig:
    """The settings gru_core fits to this text (a fixed Adam setting before for_text existed)."""
    for_text = getattr(TrainConfig, "for_text", None)
    if for_text is not None:
        return for_text(text, val_fraction=0.1, epochs=1_000)
    return TrainConfig.default(text=text, hidden_size=256, seq_len=64, batch_size=32,
                               optimizer="adam", lr=2e-3, clip=5.0, val_fraction=0.1, epochs=1_000,
                               init="uniform")


class Clocked:
    """A training loop whose clock counts its steps only; scored after each slice of training."""

    def __init__(self, step: Callable[[], None], evaluate: Callable[[], float]) -> None:
        self.step, self.evaluate = step, evaluate
        self.trained, self.steps = 0.0, 0
        self.curve = [(0.0, evaluate())]  # [(training seconds, held-out loss)]

    def train_for(self, seconds: float) -> None:
        end = self.trained + seconds
        while self.trained < end:
            t0 = time.perf_counter()
            self.step()
            self.trained += time.perf_counter() - t0
            self.steps += 1
        self.curve.append((self.trained, self.evaluate()))


def train_in_turns(runners: list[Clocked], budget_s: float, every_s: float) -> None:
    """Slices of every_s in turn, so that each runner meets the same load on a shared machine."""
    while any(r.trained < budget_s for r in runners):
        for r in runners:
            if r.trained < budget_s:
                r.train_for(min(every_s, budget_s - r.trained))


def gru_core_runner(config: TrainConfig) -> Clocked:
    trainer = Trainer(config)
    return Clocked(trainer.step, trainer.evaluate)


def nn_gru_runner(config: TrainConfig) -> Clocked:
    scorer = Trainer(config.replace(reset="after"))  # its batches, held-out text and evaluate()
    X, Y = scorer.X, scorer.Y  # [N, T, B]
    V, H, B = scorer.vocab.size, config.hidden_size, config.batch_size
    torch.manual_seed(config.seed)
    gru, linear = torch.nn.GRU(V, H), torch.nn.Linear(H, V)
    params = list(gru.parameters()) + list(linear.parameters())
    optimizer = torch.optim.Adam(params, lr=config.lr)
    state = {"i": 0, "h": torch.zeros(1, B, H)}

    def step() -> None:
        i = state["i"]
        if i == 0:
            state["h"] = torch.zeros(1, B, H)
        optimizer.zero_grad(set_to_none=True)
        x = torch.nn.functional.one_hot(X[i].long(), V).float()  # [T, B, V]
        out, h_T = gru(x, state["h"])
        loss = torch.nn.functional.cross_entropy(linear(out).reshape(-1, V), Y[i].reshape(-1))
        loss.backward()
        if config.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, config.clip)
        optimizer.step()
        state["h"] = h_T.detach()
        state["i"] = (i + 1) % X.shape[0]

    def evaluate() -> float:
        scorer.model = from_torch(gru, linear)
        return scorer.evaluate()

    return Clocked(step, evaluate)


Curve = list[tuple[float, float]]  # [(training seconds, held-out loss)]


async def _app_curve(config: TrainConfig, budget_s: float, every_s: float) -> tuple[Curve, int]:
    from gru_core.threads import ui_torch_threads
    from tui.app import GRUApp

    app = GRUApp(config, torch_threads=ui_torch_threads())
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 120
        while not app.ready:
            if app.return_code is not None:
                raise RuntimeError(f"the app exited with code {app.return_code} before it was ready")
            if time.monotonic() > deadline:
                raise TimeoutError("the app was not ready within 120 s")
            await pilot.pause(0.05)
        session = app.session
        assert session is not None

        async def evaluate() -> float:
            # on the worker between steps, training held (and the clock stopped); the
            # event loop goes on drawing meanwhile
            return await asyncio.to_thread(session.with_trainer, lambda trainer, _: trainer.evaluate())

        curve = [(0.0, await evaluate())]
        trained = 0.0
        session.start()
        while trained < budget_s:
            t0 = time.perf_counter()
            await pilot.pause(min(every_s, budget_s - trained))
            trained += time.perf_counter() - t0
            curve.append((trained, await evaluate()))
        session.pause()
        steps = session.snapshot().step
    return curve, steps


def app_curve(config: TrainConfig, budget_s: float, every_s: float) -> tuple[Curve, int]:
    """gru_core trained inside the running app (headless driver, everything drawn), and its steps."""
    return asyncio.run(_app_curve(config, budget_s, every_s))


def loss_at(curve: list[tuple[float, float]], seconds: float) -> float:
    """The held-out loss of the last evaluation at or before `seconds` of training."""
    return [loss for t, loss in curve if t <= seconds + 1e-9][-1]


def time_to_reach(curve: list[tuple[float, float]], target: float) -> float | None:
    """Training seconds until the held-out loss first reaches `target` (linear between scores)."""
    for (t0, l0), (t1, l1) in zip(curve, curve[1:]):
        if l1 <= target:
            if l0 <= target:
                return t0
            return t0 + (t1 - t0) * (l0 - target) / (l0 - l1)
    return None


def _ratio_row(who: str, curve: list[tuple[float, float]], target: float, longest: float) -> Row:
    reached = time_to_reach(curve, target)
    ratio = None if reached is None else reached / longest
    return Row(
        SECTION, f"{who}: time to reach nn.GRU's {longest:g} s loss, as a fraction", ratio, "of its time",
        detail=dict(target_loss=target, seconds=reached),
        note=("not reached within the budget (target <= 0.75)" if reached is None
              else f"{reached:.1f} s against {longest:g} s (target <= 0.75)"),
    )


def run(chars: int = 1_000_000, budgets: tuple[float, ...] = (30.0, 120.0), every_s: float = 10.0,
        quick: bool = False) -> list[Row]:
    text = stdlib_text(chars)
    config = fitted_config(text)
    if quick:  # only that every figure can be measured
        config = config.replace(hidden_size=32, seq_len=16, batch_size=8)
    longest = max(budgets)
    from gru_core.threads import ui_torch_threads

    runners = [gru_core_runner(config), nn_gru_runner(config)]
    train_in_turns(runners, longest, every_s)
    ours, ref = runners[0].curve, runners[1].curve
    bits = 1 / math.log(2)
    setting = (f"{len(text):,} chars of stdlib source, H {config.hidden_size}, T {config.seq_len}, "
               f"B {config.batch_size}, {config.optimizer} {config.lr:g}, clip {config.clip:g}; torch "
               f"threads headless {torch.get_num_threads()}, in the app {ui_torch_threads()}")
    rows = []
    for budget in budgets:
        a, b = loss_at(ours, budget), loss_at(ref, budget)
        note = setting if budget == budgets[0] else ""
        rows.append(Row(SECTION, f"held-out after {budget:g} s, gru_core", a * bits, "bits/char",
                        detail=dict(curve=ours, steps=runners[0].steps, setting=setting), note=note))
        rows.append(Row(SECTION, f"held-out after {budget:g} s, torch.nn.GRU", b * bits, "bits/char",
                        detail=dict(curve=ref, steps=runners[1].steps)))
    target = loss_at(ref, longest)
    rows.append(_ratio_row("gru_core headless", ours, target, longest))
    try:
        import tui.app  # noqa: F401

        in_app, app_steps = app_curve(config, longest, every_s)
    except Exception as exc:  # the app is someone else's work in progress: say why, go on
        name = f"gru_core in the app: time to reach nn.GRU's {longest:g} s loss, as a fraction"
        rows.append(Row(SECTION, name, None, "of its time",
                        note=f"not measured: {type(exc).__name__}: {exc}"))
        return rows
    for budget in budgets:
        name = f"held-out after {budget:g} s, gru_core in the app"
        rows.append(Row(SECTION, name, loss_at(in_app, budget) * bits, "bits/char",
                        detail=dict(curve=in_app, steps=app_steps)))
    rows.append(_ratio_row("gru_core in the app", in_app, target, longest))
    return rows


if __name__ == "__main__":
    for row in run():
        value = "-" if row.value is None else f"{row.value:.3f}"
        print(f"{row.name:<65} {value:>8} {row.unit}  {row.note}")
