"""Where a large training step's time goes: matmuls, elementwise work, or the rest.

torch.profiler times every operator of a few `Trainer.step()` calls at the large size
(H=512, B=64, T=100, reset after, hand-derived backward); operators are grouped by kind
and each group's share of the operators' total self time is reported. It says what bounds
the step against the matmul peak: if matmuls are most of it, the rest is small change.
"""

from __future__ import annotations

from collections import defaultdict

from torch.profiler import ProfilerActivity, profile

from .common import LARGE, Row, Size
from .throughput import gru_core_runner

MATMUL = {"aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::addmm_", "aten::mv"}
GATHER = {"aten::index_select", "aten::index_add_", "aten::embedding", "aten::gather",
          "aten::scatter_add_", "aten::index"}
COPY = {"aten::copy_", "aten::clone", "aten::cat", "aten::stack", "aten::zeros_like", "aten::zero_",
        "aten::fill_", "aten::empty", "aten::empty_like", "aten::new_empty", "aten::to", "aten::_to_copy"}


def kind(name: str) -> str:
    if name in MATMUL:
        return "matmul"
    if name in GATHER:
        return "gather/scatter"
    if name in COPY:
        return "copies and allocation"
    return "elementwise and the rest"


def run(size: Size = LARGE, steps: int = 3) -> list[Row]:
    step = gru_core_runner(size, "after", "manual")
    step()  # warm up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    shares: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        if event.key.startswith("aten::"):
            shares[kind(event.key)] += event.self_cpu_time_total
    total = sum(shares.values()) or 1.0
    name = f"{size.name} step (H={size.H}, B={size.B}, T={size.T})"
    return [Row("where the time goes", f"{name}: {k}", 100 * v / total, "% of op time",
                detail=dict(size=size.name, steps=steps))
            for k, v in sorted(shares.items(), key=lambda kv: -kv[1])]


if __name__ == "__main__":
    for row in run():
        print(f"{row.name:<70} {row.value:5.1f} {row.unit}")
