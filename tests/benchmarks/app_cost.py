"""What the app costs: training speed inside the running app against headless, the event
loop's lag while it trains, and start-up time (process start to first frame, to ready).

In-app: GRUApp under `run_test` (headless driver, but everything is composed, rendered
and refreshed as on a terminal) trains at full speed; a 20 ms interval timer records how
late each of its callbacks runs. Headless: a TrainingSession with the same config and
thread setting, nothing drawing. The two take turns; the figures are medians.

Start-up runs `python -m tests.benchmarks.startup_probe` in a fresh process: it opens
the app (headless driver) and reports when the first frame is done and when the app is
ready (torch loaded, the session's first snapshot on screen).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

from gru_core.config import TrainConfig

from .common import VOCAB65, Row, Size, median, random_text

LAG_INTERVAL = 0.02


def _config(size: Size) -> TrainConfig:
    """What `gru-tui --preset default` with these sizes and a text file would train."""
    text = random_text(size.B * size.T * 16 + 1)
    return TrainConfig.default(
        text=text, vocab=VOCAB65, hidden_size=size.H, seq_len=size.T, batch_size=size.B,
        optimizer="sgd", lr=0.01, clip=5.0, epochs=1_000_000, sample_len=100,
    )


def _rate(s0, s1, chars_per_step: int) -> float:
    return (s1.step - s0.step) * chars_per_step / max(s1.time - s0.time, 1e-9)


def headless_rate(config: TrainConfig, seconds: float, torch_threads: int | None) -> float:
    from gru_core.session import TrainingSession

    with TrainingSession(config, torch_threads=torch_threads) as session:
        session.start()
        s0 = session.wait_for(lambda s: s.step >= 2, timeout=60)
        time.sleep(seconds)
        s1 = session.snapshot()
    return _rate(s0, s1, config.batch_size * config.seq_len)


async def _app_rate(
    config: TrainConfig, seconds: float, torch_threads: int | None
) -> tuple[float, list[float], float]:
    """(in-app chars/s, event-loop lags, event-loop thread CPU as a share of one core)."""
    from tui.app import GRUApp

    app = GRUApp(config, torch_threads=torch_threads)
    lags: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:  # every pane visible, as the targets say
        deadline = time.monotonic() + 60
        while not app.ready:
            if app.return_code is not None:
                raise RuntimeError(f"the app exited with code {app.return_code} before it was ready")
            if time.monotonic() > deadline:
                raise TimeoutError("the app was not ready within 60 s")
            await pilot.pause(0.05)
        session = app.session
        assert session is not None
        session.start()
        while session.snapshot().step < 2:
            await pilot.pause(0.02)
        last = time.perf_counter()

        def tick() -> None:
            nonlocal last
            now = time.perf_counter()
            lags.append(max(0.0, now - last - LAG_INTERVAL))
            last = now

        timer = app.set_interval(LAG_INTERVAL, tick)
        s0 = session.snapshot()
        # This coroutine runs on the event loop's thread: its CPU time is the UI's cost
        # (wall time would also count the waits for the GIL that training holds).
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        await pilot.pause(seconds)
        cpu1, wall1 = time.thread_time(), time.perf_counter()
        s1 = session.snapshot()
        timer.stop()
        session.pause()
    return _rate(s0, s1, config.batch_size * config.seq_len), lags, (cpu1 - cpu0) / (wall1 - wall0)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def in_app(size: Size, seconds: float, rounds: int) -> list[Row]:
    try:
        import tui.app  # noqa: F401
    except ImportError as exc:
        return [Row("in-app", "in-app / headless training", None, "x", note=f"not measured: {exc}")]
    from gru_core.threads import ui_torch_threads

    config = _config(size)
    # Each side runs as it would for a user: `gru-tui train` leaves torch's thread count alone
    # (all cores); the app keeps a core for its event loop (`ui_torch_threads()`).
    app_threads = ui_torch_threads()
    headless, same_threads, app, lags, ui_cpu = [], [], [], [], []
    try:
        for _ in range(rounds):
            headless.append(headless_rate(config, seconds, None))
            # headless on the app's thread count too: what the UI itself costs, apart from
            # the thread policy (one torch thread alone is slower than two on a quiet machine)
            same_threads.append(headless_rate(config, seconds, app_threads))
            rate, round_lags, cpu = asyncio.run(_app_rate(config, seconds, app_threads))
            app.append(rate)
            lags.extend(round_lags)
            ui_cpu.append(cpu)
    except Exception as exc:  # the app is someone else's work in progress: say why, go on
        return [Row("in-app", "in-app / headless training", None, "x",
                    note=f"not measured: {type(exc).__name__}: {exc}")]
    name = f"{size.name} (H={size.H}, B={size.B}, T={size.T})"
    h, a, h1 = median(headless), median(app), median(same_threads)
    detail = dict(size=size.name, headless=headless, headless_app_threads=same_threads, app=app,
                  seconds=seconds, rounds=rounds,
                  app_torch_threads=app_threads, lag_samples=len(lags), ui_cpu=ui_cpu)
    ms = [x * 1000 for x in lags] or [float("nan")]
    return [
        Row("in-app", f"headless training, {name}", h, "chars/s", detail=detail),
        Row("in-app", f"in-app training, {name}", a, "chars/s", detail=detail),
        Row("in-app", "in-app / headless", a / h, "x", detail=detail, note="target >= 0.95"),
        Row("in-app", f"in-app / headless, both on {app_threads} torch thread(s)", a / h1, "x", detail=detail,
            note=f"headless at the app's thread count: {h1:,.0f} chars/s"),
        Row("in-app", "event-loop thread CPU while training", 100 * median(ui_cpu), "% of a core",
            detail=detail, note="target <= 5%"),
        Row("in-app", "event-loop lag p50", _percentile(ms, 0.5), "ms", detail=detail),
        Row("in-app", "event-loop lag p95", _percentile(ms, 0.95), "ms", detail=detail,
            note="target <= 30 ms"),
        Row("in-app", "event-loop lag max", max(ms), "ms", detail=detail, note="target <= 100 ms"),
    ]


def startup(repeats: int) -> list[Row]:
    first, ready = [], []
    for _ in range(repeats):
        t_spawn = time.time()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "tests.benchmarks.startup_probe", repr(t_spawn)],
                capture_output=True, text=True, timeout=120, check=True,
            )
            m = json.loads(done.stdout.strip().splitlines()[-1])
        except (subprocess.SubprocessError, OSError, ValueError, IndexError) as exc:
            detail = getattr(exc, "stderr", "") or ""
            return [Row("start-up", "process start to first frame", None, "s",
                        note=f"not measured: {type(exc).__name__}: {str(detail).strip()[-200:] or exc}")]
        first.append(m["first_frame"])
        ready.append(m["ready"])
    return [
        Row("start-up", "process start to first frame", median(first), "s",
            detail=dict(values=first), note="target <= 0.5 s"),
        Row("start-up", "process start to ready (torch loaded)", median(ready), "s",
            detail=dict(values=ready)),
    ]
