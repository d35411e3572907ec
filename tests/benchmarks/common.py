"""What every section shares: sizes, random text, rows of the results table, timing."""

from __future__ import annotations

import os
import platform
import statistics
import string
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# 65 characters, as many as tiny-shakespeare has: the sizes below are in its terms.
VOCAB65 = (string.ascii_letters + string.digits + " .,\n")[:65]
assert len(VOCAB65) == 65 and len(set(VOCAB65)) == 65


@dataclass(frozen=True)
class Size:
    name: str
    V: int
    H: int
    B: int
    T: int

    @property
    def flops_per_step(self) -> float:
        """3 * (3 * 2 B H^2 T) for the recurrent matmuls (forward, two in the backward)
        plus 3 * (2 T B H V) for the output layer (forward, dWy, dh)."""
        B, H, T, V = self.B, self.H, self.T, self.V
        return 3 * (3 * 2 * B * H * H * T) + 3 * (2 * T * B * H * V)


ARTICLE = Size("article", 4, 2, 2, 3)
SMALL = Size("small", 65, 128, 32, 64)
MEDIUM = Size("medium", 65, 256, 64, 100)
LARGE = Size("large", 65, 512, 64, 100)
QUICK_SIZES = (Size("tiny", 65, 32, 8, 16),)
# --quick's torch.profiler look: the smallest size whose step runs in torch (smaller CPU
# models run the numpy kernel, gru_core/bptt_numpy.py, which torch.profiler does not see).
QUICK_PROFILE = Size("quick profile", 65, 64, 32, 16)
# 10,000 steps of SMALL take 5-8 minutes here, over the 10-minute budget with the rest:
# the memory figure uses the small hidden size with shorter, narrower batches.
MEMORY = Size("small H", 65, 128, 16, 32)


def random_text(n: int, seed: int = 0) -> str:
    """n characters drawn uniformly from VOCAB65 (every one of them present)."""
    import random

    rng = random.Random(seed)
    body = "".join(rng.choice(VOCAB65) for _ in range(max(0, n - len(VOCAB65))))
    return VOCAB65 + body


@dataclass
class Row:
    """One figure of the results table."""

    section: str
    name: str
    value: float | None
    unit: str
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # shown after the value ("1.35x nn.GRU", "not measured: ...")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def median(values: list[float]) -> float:
    return statistics.median(values)


def time_call(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def machine() -> dict[str, Any]:
    """The machine in words, for the table and docs/performance.md."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": cores,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }
