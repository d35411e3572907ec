"""Settings every test shares, and the short key storm's seed."""

from __future__ import annotations

import os
import random

import pytest

STORM_SEED_ENV = "GRU_STORM_SEED"


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The tests' matrices are tiny: one intra-op thread is several times faster than two
    fighting over a 2-core machine's shared cores, and no result depends on the count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--storm-seed", type=int, default=None,
                     help=f"replay the short key storm with this seed (or set {STORM_SEED_ENV}); "
                          "by default a new seed each run, printed at the end")


def pytest_configure(config: pytest.Config) -> None:
    """One seed a run, chosen here: pytest-xdist's workers start after this and inherit the
    environment, so every worker storms with the seed the summary prints."""
    seed = config.getoption("--storm-seed")
    if seed is None:
        seed = int(os.environ.get(STORM_SEED_ENV) or random.SystemRandom().randrange(1, 100_000))
    os.environ[STORM_SEED_ENV] = str(seed)


def storm_seed() -> int:
    return int(os.environ[STORM_SEED_ENV])


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    ran = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])
           if getattr(r, "when", "") == "call" and "short_storm" in r.nodeid]
    if ran:
        seed = storm_seed()
        terminalreporter.write_line(f"short key storm: seed {seed} (replay: --storm-seed {seed} "
                                    f"or {STORM_SEED_ENV}={seed})")
