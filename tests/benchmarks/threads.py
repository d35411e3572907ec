"""Thread policies side by side, on a quiet machine and beside one busy process.

Each policy trains the small size in a fresh process (OpenMP reads its wait policy once,
when torch loads), for a fixed wall time, and reports characters per second. "Loaded"
runs the same with one CPU-bound Python process beside it, as a user's compile job or
browser tab would be. The policy the app uses by default must not be the catastrophic one
when loaded.

    python -m tests.benchmarks.threads run THREADS WAIT SECONDS   (one measurement, JSON)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from .common import SMALL, Row, Size

# (label, threads, OMP_WAIT_POLICY): the policies a 2-core machine can choose between;
# threads 0 is a Trainer made as a library user makes one (threads="auto": gru_core's policy,
# gru_core.threads.training_threads), OpenMP's wait policy left as torch's default.
POLICIES = (
    ("2 threads, OpenMP spin-waits", 2, "ACTIVE"),
    ("2 threads, passive wait", 2, "PASSIVE"),
    ("1 thread", 1, "PASSIVE"),
    ("Trainer(config), gru_core's thread policy", 0, "ACTIVE"),
)
TRAINER_LOADED_TARGET = 0.8  # a Trainer beside one busy process keeps this share of its quiet speed
CLI_TARGET = 0.95  # `gru-tui train`'s default speed against --threads 1


def _measure(size: Size, threads: int, wait: str, seconds: float) -> float:
    env = dict(os.environ, OMP_WAIT_POLICY=wait)
    if threads == 0:  # as a library user runs it: whatever OpenMP's default is
        env.pop("OMP_WAIT_POLICY")
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.threads", "run", str(threads), wait, str(seconds),
         str(size.H), str(size.B), str(size.T)],
        env=env, capture_output=True, text=True, timeout=seconds * 10 + 60, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["chars_per_s"]


def _busy() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run(size: Size = SMALL, seconds: float = 3.0, quick: bool = False) -> list[Row]:
    """Every policy quiet and loaded; quick: only the app's default (each run loads torch)."""
    rows = []
    figures: dict[tuple[str, bool], float] = {}
    policies = POLICIES[-2:] if quick else POLICIES
    for loaded in (False, True):
        busy = _busy() if loaded else None
        try:
            for label, threads, wait in policies:
                figures[label, loaded] = _measure(size, threads, wait, seconds)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    best_quiet = max(figures[label, False] for label, _, _ in policies)
    for label, threads, wait in policies:
        quiet, loaded = figures[label, False], figures[label, True]
        met = "met" if loaded / quiet >= TRAINER_LOADED_TARGET else "MISSED"
        target = f" (target {TRAINER_LOADED_TARGET}: {met})" if threads == 0 else ""
        rows.append(Row(
            "threads", f"{label}, loaded", loaded, "chars/s",
            detail=dict(threads=threads, wait=wait, quiet=quiet, loaded=loaded, H=size.H),
            note=f"quiet {quiet:,.0f} ({quiet / best_quiet:.2f}x best quiet); loaded/quiet "
                 f"{loaded / quiet:.2f}{target}",
        ))
    rows.append(cli_default_against_one_thread(quick))
    return rows


def _cli_rate(text_path: str, threads: int | None) -> float:
    """`gru-tui train --file F --epochs 1` (fitted settings), its own characters/s line."""
    flags = [] if threads is None else ["--threads", str(threads)]
    out = subprocess.run(
        [sys.executable, "-m", "tui", "train", "--file", text_path, "--epochs", "1", "--val", "0",
         "--sample-len", "0", *flags], capture_output=True, text=True, timeout=900, check=True,
        env={k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"},
    )
    done = next(line for line in out.stdout.splitlines() if line.startswith("done: "))
    return float(done.split(" steps, ")[1].split(" characters/s")[0].replace(",", ""))


def cli_default_against_one_thread(quick: bool = False) -> Row:
    """The headless command as users run it (no --threads) against --threads 1, at the fitted
    size (H 128, T 32, B 16), alternating, medians of 3 (quick: 1) of each."""
    import tempfile

    from .common import median, random_text

    chars = 20_000 if quick else 300_000
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "text.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(random_text(chars, seed=3))
        default, one = [], []
        for _ in range(1 if quick else 3):
            default.append(_cli_rate(path, None))
            one.append(_cli_rate(path, 1))
    ratio = median(default) / median(one)
    return Row("threads", "gru-tui train, default threads / --threads 1", ratio, "x",
               detail=dict(default=default, one_thread=one, chars=chars),
               note=f"{median(default):,.0f} against {median(one):,.0f} chars/s at H 128, T 32, B 16 "
                    f"(target {CLI_TARGET}: {'met' if ratio >= CLI_TARGET else 'MISSED'})")


def _one(threads: int, seconds: float, H: int, B: int, T: int) -> None:
    import torch

    from gru_core.config import TrainConfig
    from gru_core.trainer import Trainer

    from .common import VOCAB65, random_text

    if threads:
        torch.set_num_threads(threads)
    trainer = Trainer(TrainConfig(text=random_text(B * T * 4 + 1), vocab=VOCAB65, hidden_size=H,
                                  seq_len=T, batch_size=B, optimizer="adam", lr=2e-3, clip=5.0,
                                  epochs=1_000_000), threads=threads or "auto")
    trainer.step()  # warm up
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        trainer.step()
        steps += 1
    elapsed = time.perf_counter() - t0
    print(json.dumps({"chars_per_s": steps * B * T / elapsed}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"]:
        threads, _wait, seconds, H, B, T = sys.argv[2:8]
        _one(int(threads), float(seconds), int(H), int(B), int(T))
    else:
        for row in run():
            print(f"{row.name:<45} {row.value:>10,.0f} {row.unit}  {row.note}")
