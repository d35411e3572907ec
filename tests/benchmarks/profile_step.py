"""Where a large training step's time goes: matmuls, elementwise work, or the rest.

torch.profiler times every operator of a few `Trainer.step()` calls at the large size
(H=512, B=64, T=100, reset after, hand-derived backward); operators are grouped by kind,
and each group's share of the step is reported, the step timed without the profiler:
what is left is time outside any operator (Python, dispatch). The matmuls' own speed
(their FLOPs over their time) is set against the matmul peak measured alongside. Together
they say what bounds the step: a step at 0.7 of the peak whose matmuls run at 0.9 of it
loses the rest to the elementwise work and the overhead, in the shares shown.
"""

from __future__ import annotations

import time
from collections import defaultdict

from torch.profiler import ProfilerActivity, profile

from .common import LARGE, Row, Size, median
from .throughput import PEAK_SHAPE, gru_core_runner, matmul_gflops

SECTION = "where the time goes"
OUTSIDE = "outside any operator (Python, dispatch)"

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
    walls = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        walls.append(time.perf_counter() - t0)
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for _ in range(steps):
            step()
    peak = matmul_gflops(*PEAK_SHAPE)
    op_us: dict[str, float] = defaultdict(float)
    matmul_flops = 0.0
    for event in prof.key_averages():
        if event.key.startswith("aten::"):
            op_us[kind(event.key)] += event.self_cpu_time_total
            if kind(event.key) == "matmul":
                matmul_flops += event.flops or 0
    in_ops = sum(op_us.values())
    whole = max(median(walls) * steps * 1e6, in_ops)  # the profiler's own cost is not the step's
    shares = dict(op_us)
    shares[OUTSIDE] = whole - in_ops
    name = f"{size.name} step (H={size.H}, B={size.B}, T={size.T})"
    detail = dict(size=size.name, steps=steps, step_s=whole / steps / 1e6, peak_gflops=peak)
    rows = [Row(SECTION, f"{name}: {k}", 100 * v / whole, "% of the step", detail=detail)
            for k, v in sorted(shares.items(), key=lambda kv: -kv[1])]
    matmul_s = op_us["matmul"] / 1e6
    if matmul_s > 0 and matmul_flops > 0:
        speed = matmul_flops / matmul_s / 1e9
        rows.append(Row("matmul speed", f"{name}: the matmuls' own speed", speed, "GFLOP/s", detail=detail,
                        note=f"{speed / peak:.2f} of the matmul peak ({peak:.0f} GFLOP/s, measured now)"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row.name:<80} {row.value:6.1f} {row.unit}  {row.note}")
