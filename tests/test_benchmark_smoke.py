"""The benchmark's quick run, so `python -m tests.benchmarks` cannot rot unnoticed.

No timing thresholds (the machines are shared): only that every figure is measured and
sane, the table names each one, and the JSON holds the same rows.

The default run takes the real command through its cheapest sections (throughput at the
article and tiny sizes, one round, the default preset, sampling): the arguments, each
section's rows, the table and the JSON, in ~10 s. The whole `--quick` run (its profile,
time to quality, memory, threads, start-up and in-app sections: ~100 s here) is checked
with the benchmarks' other long checks, `pytest -m bench`.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_benchmarks(out: Path, *args: str, timeout: float) -> tuple[str, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks", "--quick", "--json", str(out), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, json.loads(out.read_text())


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[str, dict]:
    # ~160 s on a loaded 2-core machine
    return run_benchmarks(tmp_path_factory.mktemp("bench") / "quick.json", timeout=300)


def rows_by_name(result: dict) -> dict[str, dict]:
    return {r["name"]: r for r in result["rows"]}


def test_the_cheapest_sections_run_through_the_command_the_table_and_the_json(tmp_path):
    stdout, result = run_benchmarks(tmp_path / "smoke.json", "--only", "throughput", "learning", "sampling",
                                    "--rounds", "1", timeout=120)
    assert_training_figures(result)
    rows = rows_by_name(result)
    assert_learning_and_sampling(rows)
    assert result["quick"] and result["seconds"] > 0
    assert {r["section"] for r in result["rows"]} == {"training throughput", "learning", "sampling"}
    assert "machine:" in stdout and "cores" in stdout and "(quick)" in stdout
    for row in result["rows"]:
        assert row["name"] in stdout
    assert [line for line in stdout.splitlines() if line.startswith("## ")] == [
        "## training throughput", "## learning", "## sampling"]


@pytest.mark.slow
@pytest.mark.bench
def test_every_training_figure_is_measured_side_by_side_with_nn_gru(quick_run):
    _, result = quick_run
    assert_training_figures(result)


def assert_learning_and_sampling(rows: dict[str, dict]) -> None:
    learned = rows["default preset learns MathMathMath"]
    assert learned["value"] is not None and 0 < learned["value"] < 30, learned["note"]
    sampling = rows["sample 100 chars at H=32"]
    assert sampling["value"] > 0 and "target >= 30,000 chars/s" in sampling["note"]
    assert rows["streamed 100-char sample at H=32"]["value"] > 0


def assert_training_figures(result: dict) -> None:
    rows = rows_by_name(result)
    for size in ("article", "tiny"):
        ref = rows[f"{size} torch.nn.GRU + Linear"]
        assert ref["value"] > 0 and ref["detail"]["ratio_to_nn_gru"] == pytest.approx(1.0)
        for reset in ("before", "after"):
            for backward in ("manual", "autograd"):
                row = rows[f"{size} gru_core {reset}/{backward}"]
                assert row["unit"] == "chars/s" and row["value"] > 0
                d = row["detail"]
                # the ratio is the two medians' quotient, the GFLOP/s the FLOP formula over the time
                assert d["ratio_to_nn_gru"] == pytest.approx(row["value"] / ref["value"], rel=1e-9)
                assert 0 < d["fraction_of_peak"] < 5
        peak = next(r for r in result["rows"] if r["name"].startswith(f"{size} matmul peak"))
        assert peak["unit"] == "GFLOP/s" and peak["value"] > 0.1
    best = rows["tiny best gru_core mode"]
    assert best["detail"]["mode"] in {"before/manual", "before/autograd", "after/manual", "after/autograd"}


@pytest.mark.slow
@pytest.mark.bench
def test_learning_sampling_memory_startup_and_app_rows_are_there(quick_run):
    stdout, result = quick_run
    rows = rows_by_name(result)
    assert_learning_and_sampling(rows)
    growth = rows["RSS growth 20 -> 100 steps"]
    assert growth["value"] is not None and math.isfinite(growth["value"]), growth["note"]
    assert rows["RSS after 100 steps, tiny (H=32, B=8, T=16)"]["value"] > 10  # MiB: torch is loaded
    # The app's figures: measured, or a row that says why not (never silently missing).
    for name in ("process start to first frame", "in-app / headless"):
        matching = [r for r in result["rows"] if r["name"].startswith(name)]
        assert matching, name
        row = matching[0]
        assert row["value"] is not None or row["note"].startswith("not measured:")
    first_frame = rows["process start to first frame"]
    if first_frame["value"] is not None:
        assert 0 < first_frame["value"] < rows["process start to ready (torch loaded)"]["value"]
    lag = [r for r in result["rows"] if r["name"].startswith("event-loop lag")]
    if rows["in-app / headless"]["value"] is not None:
        assert [r["name"] for r in lag] == ["event-loop lag p50", "event-loop lag p95", "event-loop lag max"]
        assert lag[0]["value"] <= lag[1]["value"] <= lag[2]["value"]
        ui_cpu = rows["event-loop thread CPU while training"]
        assert ui_cpu["unit"] == "% of a core" and 0 < ui_cpu["value"] <= 100
    # time to quality: each runner scored in bits/char at every budget, and the ratios
    in_app = rows["gru_core in the app: time to reach nn.GRU's 1 s loss, as a fraction"]
    runners = ("gru_core", "torch.nn.GRU") + (() if in_app["note"].startswith("not measured:") else
                                              ("gru_core in the app",))
    for budget in ("0.5", "1"):
        for who in runners:
            row = rows[f"held-out after {budget} s, {who}"]
            assert row["unit"] == "bits/char" and 0 < row["value"] < 10
    for who in ("gru_core headless", "gru_core in the app"):
        ratio = rows[f"{who}: time to reach nn.GRU's 1 s loss, as a fraction"]
        assert "target <= 0.75" in ratio["note"] or ratio["note"].startswith("not measured:")
        assert ratio["value"] is not None or "not" in ratio["note"]
    # where the time goes: shares of the operators' time that add up to the whole
    shares = [r for r in result["rows"] if r["section"] == "where the time goes"]
    assert any(r["name"].endswith(": matmul") for r in shares)
    assert any(r["name"].endswith(": outside any operator (Python, dispatch)") for r in shares)
    assert sum(r["value"] for r in shares) == pytest.approx(100.0)
    # thread policy: the app's default measured quiet and beside a busy process
    threads = rows["1 thread, loaded"]
    assert threads["value"] > 0 and threads["detail"]["quiet"] > 0
    # the printed table shows every row and the machine it ran on
    assert "machine:" in stdout and "cores" in stdout
    for row in result["rows"]:
        assert row["name"] in stdout
