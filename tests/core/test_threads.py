"""The thread policy: OpenMP threads that sleep while waiting, chosen before torch loads."""

from __future__ import annotations

import os
import subprocess
import sys

from gru_core.threads import ui_torch_threads

PROBE = (
    "import os, sys, io, contextlib\n"
    "from tui.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    main(['train', '--list-corpora'])\n"
    "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)\n"
)


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_gru_tui_asks_openmp_to_wait_passively_before_torch_loads():
    # spinning OpenMP threads ran at 0.04x beside one busy process (tests/benchmarks/threads.py)
    assert _probe() == "PASSIVE False"


def test_a_wait_policy_the_user_set_wins():
    assert _probe(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE False"


def test_the_app_trains_on_one_thread_on_small_machines_and_leaves_a_core_on_big_ones():
    assert [ui_torch_threads(c) for c in (1, 2, 3, 8)] == [1, 1, 2, 7]
