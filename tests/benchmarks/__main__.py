"""python -m tests.benchmarks [--quick] [--json PATH] [--only SECTION ...] [--write-docs [PATH]]

Prints one table and writes the same figures as JSON (default bench-results/latest.json);
a full run (no --quick, no --only), or any run given --write-docs, also writes them as
docs/performance.md (tests/benchmarks/page.py).
The full run takes a few minutes on a 2-core machine; --quick takes seconds and only
checks that every figure can be measured (tests/test_benchmark_smoke.py: its cheapest
sections in every run, the whole of it with `pytest -m bench`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import page
from .common import ARTICLE, LARGE, MEDIUM, MEMORY, QUICK_PROFILE, QUICK_SIZES, SMALL, Row, Size, machine

SECTIONS = ("throughput", "profile", "learning", "quality", "sampling", "memory", "threads", "app", "startup",
            "pane", "bigfile", "serve", "long")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__.split("\n\n")[1])
    p.add_argument("--quick", action="store_true", help="tiny sizes and few repeats: seconds, not minutes")
    p.add_argument("--json", default="bench-results/latest.json", help="where to write the figures")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    p.add_argument("--rounds", type=int, help="repeats per throughput figure (default 5, quick 2)")
    p.add_argument("--write-docs", nargs="?", const=str(page.DEFAULT_PAGE), metavar="PATH",
                   help="write the figures as a Markdown page (default the repository's docs/performance.md; "
                        "a full run writes it unasked)")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    from . import misc, throughput

    quick = args.quick
    # --quick leaves out, unless asked for, the large file (two app start-ups: ~40 s here),
    # serve (a server and four tabs) and the long runs (most of an hour on 2 cores)
    sections = args.only or tuple(s for s in SECTIONS if not (quick and s in ("bigfile", "serve", "long")))
    rows: list[Row] = []
    started = time.perf_counter()

    def say(what: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {what}", file=sys.stderr, flush=True)

    if "throughput" in sections:
        # the article and tiny sizes are where per-step overhead shows (issue 13's 1.2x target)
        sizes: tuple[Size, ...] = (ARTICLE, *QUICK_SIZES)
        if not quick:
            sizes += (SMALL, MEDIUM, LARGE)
        rounds = args.rounds or (2 if quick else 5)
        for size in sizes:
            say(f"training throughput, {size.name}")
            rows.extend(throughput.run((size,), rounds, target_s=0.02 if quick else 0.25))
    if "profile" in sections:
        from . import profile_step

        say("where a large step's time goes (torch.profiler)")
        rows.extend(profile_step.run(QUICK_PROFILE if quick else LARGE, steps=1 if quick else 3))
    if "learning" in sections:
        say("default preset")
        rows.append(misc.math_preset())
    if "quality" in sections:
        from . import quality

        say("time to quality on 1 MB of real text (two runs of 120 s)" if not quick else "time to quality")
        rows.extend(quality.run(chars=40_000, budgets=(0.5, 1.0), every_s=0.25, quick=True) if quick
                    else quality.run())
    if "sampling" in sections:
        say("sampling")
        rows.extend(misc.sampling(H=32 if quick else 256, n=100 if quick else 2000,
                                  repeats=1 if quick else 5))
    if "memory" in sections:
        say("memory")
        size, first, last = (QUICK_SIZES[0], 20, 100) if quick else (MEMORY, 1000, 10_000)
        rows.extend(misc.memory(size, first, last, timeout=120 if quick else 400))
    if "threads" in sections:
        from . import threads

        say("thread policies, quiet and beside a busy process")
        size = QUICK_SIZES[0] if quick else SMALL
        rows.extend(threads.run(size, seconds=0.3 if quick else 3.0, quick=quick))
    if "app" in sections or "startup" in sections:
        from . import app_cost

        if "startup" in sections:
            say("start-up")
            rows.extend(app_cost.startup(repeats=1 if quick else 3))
        if "app" in sections:
            say("in-app training")
            rows.extend(app_cost.in_app(SMALL if not quick else QUICK_SIZES[0],
                                        seconds=0.6 if quick else 6.0, rounds=1 if quick else 2))
    if "pane" in sections:
        from . import pane_cost

        say("matrices pane: cost of a frame at H=1024, V=200, T=200" if not quick else "matrices pane")
        rows.extend(pane_cost.run(frames=1, size=pane_cost.QUICK) if quick else pane_cost.run())
    if "bigfile" in sections:
        from . import bigfile

        say("a large file in the app: peak memory, UI stalls" + ("" if quick else " (50 MB)"))
        rows.extend(bigfile.run(megabytes=5 if quick else 50))
    if "serve" in sections:
        from . import serve_cost

        say("gru-tui serve: a tab's time to interactive and memory, a class of 20")
        rows.extend(serve_cost.run(tabs=2 if quick else 4, train_s=1.0 if quick else 5.0))
    if "long" in sections:
        from . import long_runs

        say("long runs: 4 real texts x 4 settings x 10 epochs, and a small text to its end")
        rows.extend(long_runs.run(quick=quick, say=say))
    say("done")
    return {
        "machine": machine(),
        "quick": quick,
        "seconds": time.perf_counter() - started,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "rows": [r.as_dict() for r in rows],
    }


def format_value(row: dict) -> str:
    v = row["value"]
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"


def table(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads), "
        f"Python {m['python']}, {m['system']}",
        f"run: {result['when']}, {result['seconds']:.0f} s{' (quick)' if result['quick'] else ''}",
        "",
    ]
    rows = result["rows"]
    w_name = max([len(r["name"]) for r in rows] + [10])
    w_val = max([len(format_value(r)) for r in rows] + [5])
    section = None
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            lines.append(f"## {section}")
        line = f"  {r['name']:<{w_name}}  {format_value(r):>{w_val}} {r['unit']:<13} {r['note']}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(table(result))
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"\nwritten to {path}")
    docs = args.write_docs or (None if args.quick or args.only else str(page.DEFAULT_PAGE))
    if docs:
        command = page.command_line(args.quick, args.only, args.rounds)
        print(f"written to {page.write(result, Path(docs), command, format_value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
