"""Training throughput: gru_core's Trainer against torch.nn.GRU + nn.Linear, side by side.

For each size, five runners take turns (each round runs every one of them, in a rotated
order) and the figure is the median over rounds:

- gru_core, reset before/after x backward manual/autograd, through `Trainer.step()`: the
  whole step the app takes (forward, backward, gradient norm, finite checks, weight
  backup, Adam update with the gradient norm clipped at 5, as fitted runs train);
- torch.nn.GRU + nn.Linear: the loop a practitioner writes (zero_grad, forward, mean
  cross-entropy, backward, clip_grad_norm_ 5, Adam step), one-hot inputs, hidden state
  carried and detached.

Both sides run on gru_core's thread policy (gru_core.threads.training_threads: one torch
thread on a 1-2 core machine): torch's default of 2 spinning threads collapses beside any
other busy process, and the baseline did, which is how --quick once printed 51x and 60x.

A matmul of the recurrent shape at the large size, [64, 512] @ [512, 1536], is timed in
the same rounds: its GFLOP/s is "the matmul peak" (a big square matmul is shown too).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from gru_core.config import TrainConfig
from gru_core.threads import training_threads
from gru_core.trainer import Trainer

from .common import ARTICLE, LARGE, VOCAB65, Row, Size, median, random_text

SECTION = "training throughput"
VARIANTS = [(reset, backward) for reset in ("before", "after") for backward in ("manual", "autograd")]
PEAK_SHAPE = (64, 512, 3 * 512)  # M, K, N: h @ U at the large size
SQUARE = 1024


def _config(size: Size, reset: str, backward: str, batches: int = 4) -> TrainConfig:
    if size == ARTICLE:
        return TrainConfig.article(reset=reset, backward=backward)
    text = random_text(size.B * size.T * batches + 1)
    return TrainConfig(
        text=text, vocab=VOCAB65, hidden_size=size.H, seq_len=size.T, batch_size=size.B,
        optimizer="adam", lr=2e-3, momentum=0.0, clip=5.0, reset=reset, backward=backward,
        epochs=1_000_000,
    )


def gru_core_runner(size: Size, reset: str, backward: str) -> Callable[[], None]:
    trainer = Trainer(_config(size, reset, backward))

    def step() -> None:
        trainer.step()

    return step


def nn_gru_runner(size: Size) -> Callable[[], None]:
    """torch.nn.GRU + nn.Linear on the same batches as gru_core, Adam, clipped, mean cross-entropy."""
    trainer = Trainer(_config(size, "after", "manual"))  # only for its batches X, Y
    X, Y = trainer.X, trainer.Y  # [N, T, B]
    V, H, B = trainer.vocab.size, size.H, trainer.config.batch_size
    torch.manual_seed(0)
    gru, linear = torch.nn.GRU(V, H), torch.nn.Linear(H, V)
    params = list(gru.parameters()) + list(linear.parameters())
    optimizer = torch.optim.Adam(params, lr=2e-3)
    X_one_hot = torch.nn.functional.one_hot(X.long(), V).float()  # [N, T, B, V]
    state = {"i": 0, "h": torch.zeros(1, B, H)}

    def step() -> None:
        i = state["i"]
        optimizer.zero_grad(set_to_none=True)
        out, h_T = gru(X_one_hot[i], state["h"])  # [T, B, H]
        loss = torch.nn.functional.cross_entropy(linear(out).reshape(-1, V), Y[i].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
        state["h"] = h_T.detach()
        state["i"] = (i + 1) % X.shape[0]

    return step


def matmul_gflops(M: int, K: int, N: int, seconds: float = 0.05) -> float:
    a, b = torch.randn(M, K), torch.randn(K, N)
    out = torch.empty(M, N)
    torch.mm(a, b, out=out)
    n, t0 = 0, time.perf_counter()
    while True:
        torch.mm(a, b, out=out)
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return 2 * M * K * N * n / elapsed / 1e9


def measure_size(size: Size, rounds: int, target_s: float) -> list[Row]:
    torch.set_num_threads(training_threads())  # both sides: the policy users get
    runners: dict[str, Callable[[], None]] = {
        f"gru_core {reset}/{backward}": gru_core_runner(size, reset, backward)
        for reset, backward in VARIANTS
    }
    runners["torch.nn.GRU + Linear"] = nn_gru_runner(size)
    # Warm up (first touches of memory, lazy inits), then pick steps per turn so that one
    # turn takes about target_s: tiny sizes need many steps to be timed at all.
    steps_per_turn = {}
    for name, run in runners.items():
        run()
        t0 = time.perf_counter()
        run()
        one = time.perf_counter() - t0
        steps_per_turn[name] = max(1, min(10_000, math.ceil(target_s / max(one, 1e-6))))
    per_step: dict[str, list[float]] = {name: [] for name in runners}
    peak, square = [], []
    names = list(runners)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            k = steps_per_turn[name]
            t0 = time.perf_counter()
            for _ in range(k):
                runners[name]()
            per_step[name].append((time.perf_counter() - t0) / k)
        peak.append(matmul_gflops(*PEAK_SHAPE))
        square.append(matmul_gflops(SQUARE, SQUARE, SQUARE))
    peak_gflops = median(peak)
    chars = size.B * size.T
    ref = median(per_step["torch.nn.GRU + Linear"])
    rows = []
    for name in names:
        t = median(per_step[name])
        gflops = size.flops_per_step / t / 1e9
        ratio = ref / t
        rows.append(Row(
            SECTION, f"{size.name} {name}", chars / t, "chars/s",
            detail=dict(size=size.name, V=size.V, H=size.H, B=size.B, T=size.T, ratio_to_nn_gru=ratio,
                        gflops=gflops, fraction_of_peak=gflops / peak_gflops, seconds_per_step=t,
                        steps_timed=steps_per_turn[name] * rounds, rounds=rounds),
            note=f"{ratio:5.2f}x nn.GRU  {gflops:6.1f} GFLOP/s  {gflops / peak_gflops:4.2f} of peak",
        ))
    rows.append(Row(
        SECTION, f"{size.name} matmul peak {'x'.join(map(str, PEAK_SHAPE))}", peak_gflops, "GFLOP/s",
        detail=dict(size=size.name, shape=PEAK_SHAPE, square_gflops=median(square), rounds=rounds),
        note=f"(a {SQUARE}^3 matmul: {median(square):.0f} GFLOP/s)",
    ))
    return rows


def best_gru_core(rows: list[Row], size_name: str) -> Row:
    ours = [r for r in rows if r.name.startswith(f"{size_name} gru_core")]
    return max(ours, key=lambda r: r.value or 0.0)


def run(sizes: tuple[Size, ...], rounds: int, target_s: float) -> list[Row]:
    rows = []
    for size in sizes:
        rows.extend(measure_size(size, rounds, target_s))
    for size in sizes:
        best = best_gru_core(rows, size.name)
        rows.append(Row(
            SECTION, f"{size.name} best gru_core mode", best.detail["ratio_to_nn_gru"], "x nn.GRU",
            detail=dict(size=size.name, mode=best.name.split(" ", 2)[2],
                        fraction_of_peak=best.detail["fraction_of_peak"],
                        target_ratio=1.3 if size.H >= 256 else 1.2 if size.H <= 32 else None,
                        target_fraction=0.6 if size == LARGE else None),
            note=f"{best.name.split(' ', 2)[2]}, {best.detail['fraction_of_peak']:.2f} of peak",
        ))
    return rows
