"""The default preset's time to learn, sampling speed, and memory over many steps.

Memory runs in a fresh process (`python -m tests.benchmarks.misc memory ...`), so what
the other sections allocated does not blur its resident-set figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import torch

from gru_core.config import TrainConfig
from gru_core.trainer import Trainer

from .common import SMALL, VOCAB65, Row, Size, median, random_text


def math_preset(max_epochs: int | None = None) -> Row:
    """Seconds of training (sampling excluded) until TrainConfig.default() writes MathMathMath."""
    trainer = Trainer(TrainConfig.default())
    epochs = max_epochs or trainer.config.epochs
    trained = 0.0
    learned_at = None
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        trainer.run_epoch()
        trained += time.perf_counter() - t0
        if trainer.sample("Ma", 10, temperature=0) == "MathMathMath":
            learned_at = epoch
            break
    if learned_at is None:
        return Row("learning", "default preset learns MathMathMath", None, "s",
                   detail=dict(epochs=epochs, seconds=trained),
                   note=f"not learned in {epochs} epochs ({trained:.2f} s)")
    return Row("learning", "default preset learns MathMathMath", trained, "s of training",
               detail=dict(epochs=learned_at, steps=trainer.step_count, target_s=0.5),
               note=f"after {learned_at} epochs, {trainer.step_count} steps (target <= 0.5 s)")


SAMPLE_TARGET = 30_000  # chars/s at H=256 (issue 13)


def _sample_seconds(trainer: Trainer, n: int, repeats: int, on_char=None) -> tuple[float, float]:
    """Median wall seconds, and median CPU seconds of this thread (what a busy machine's other
    work does not stretch: the sampler runs on the caller's thread alone)."""
    walls, cpus = [], []
    for seed in range(repeats):
        generator = torch.Generator().manual_seed(seed)
        t0, c0 = time.perf_counter(), time.thread_time()
        trainer.sample("a", n, temperature=1.0, generator=generator, on_char=on_char)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.thread_time() - c0)
    return median(walls), median(cpus)


def sampling(H: int, n: int, repeats: int) -> list[Row]:
    """Characters per second for an n-character sample (temperature 1) at hidden size H, and
    the time of one streamed the way the app and `gru-tui sample` stream (a call per char)."""
    text = random_text(2000)
    trainer = Trainer(TrainConfig(text=text, vocab=VOCAB65, hidden_size=H, seq_len=20, batch_size=4))
    trainer.sample("a", 10)  # warm up
    t, cpu = _sample_seconds(trainer, n, repeats)
    shown: list[str] = []
    t_streamed, _ = _sample_seconds(trainer, n, repeats, on_char=shown.append)
    detail = dict(H=H, n=n, seconds=t, cpu_seconds=cpu, streamed_seconds=t_streamed, repeats=repeats,
                  target=SAMPLE_TARGET)
    return [
        Row("sampling", f"sample {n} chars at H={H}", n / t, "chars/s", detail=detail,
            note=f"target >= {SAMPLE_TARGET:,} chars/s ({t:.3f} s for the sample; "
                 f"{n / cpu:,.0f} chars per CPU-second)"),
        Row("sampling", f"streamed {n:,}-char sample at H={H}", t_streamed, "s", detail=detail,
            note=f"target well under 1 s ({n / SAMPLE_TARGET:.3f} s at {SAMPLE_TARGET:,} chars/s)"),
    ]


def _rss_bytes() -> int:
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_in_this_process(size: Size, first: int, last: int) -> dict:
    text = random_text(size.B * size.T * 8 + 1)
    trainer = Trainer(TrainConfig(
        text=text, vocab=VOCAB65, hidden_size=size.H, seq_len=size.T, batch_size=size.B,
        optimizer="sgd", lr=0.01, clip=5.0, epochs=1_000_000,
    ))
    t0 = time.perf_counter()
    for _ in range(first):
        trainer.step()
    rss_first = _rss_bytes()
    for _ in range(last - first):
        trainer.step()
    rss_last = _rss_bytes()
    return dict(first=first, last=last, rss_first=rss_first, rss_last=rss_last,
                seconds=time.perf_counter() - t0, H=size.H, B=size.B, T=size.T, V=size.V)


def memory(size: Size, first: int, last: int, timeout: float) -> list[Row]:
    """RSS after `first` and after `last` steps of `size`, in a fresh process."""
    args = [sys.executable, "-m", "tests.benchmarks.misc", "memory",
            str(size.H), str(size.B), str(size.T), str(first), str(last)]
    name = f"{size.name} (H={size.H}, B={size.B}, T={size.T})"
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        return [Row("memory", f"RSS growth, {name}", None, "%", note=f"not measured: {exc}")]
    m = json.loads(done.stdout.strip().splitlines()[-1])
    growth = (m["rss_last"] - m["rss_first"]) / m["rss_first"] * 100
    mib = 1024 * 1024
    return [
        Row("memory", f"RSS after {first} steps, {name}", m["rss_first"] / mib, "MiB", detail=m),
        Row("memory", f"RSS after {last} steps, {name}", m["rss_last"] / mib, "MiB", detail=m),
        Row("memory", f"RSS growth {first} -> {last} steps", growth, "%", detail=m,
            note=f"target <= 2% ({m['seconds']:.0f} s of training)"),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "memory":
        H, B, T, first, last = map(int, sys.argv[2:])
        size = Size("memory", SMALL.V, H, B, T)
        print(json.dumps(memory_in_this_process(size, first, last)))
    else:
        sys.exit("usage: python -m tests.benchmarks.misc memory H B T FIRST LAST")
