"""The attack sweep's cases as tests: each one a file or a command that once lost data, hung
or ate memory (issue 26). The summary line counts them, so a run says at a glance whether
every attack holds."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
import torch

from gru_core.checkpoint import save_checkpoint
from gru_core.config import TrainConfig
from gru_core.history import History
from gru_core.trainer import Trainer

_outcomes: dict[str, int] = {"hold": 0, "fail": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.failed):
        _outcomes["hold" if report.passed else "fail"] += report.passed or report.failed


def pytest_terminal_summary(terminalreporter) -> None:
    total = _outcomes["hold"] + _outcomes["fail"]
    if total:
        terminalreporter.write_line(f"attack sweep: {total} cases, {_outcomes['hold']} hold, "
                                    f"{_outcomes['fail']} fail")


def answers_within(seconds: float, call: Callable[[], Any]) -> Any:
    """call()'s result or exception, or a failure when it takes longer than `seconds` (it is
    left running in a daemon thread: a hang fails the test instead of the whole run)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"no answer within {seconds} s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.fixture(scope="session")
def good_run(tmp_path_factory) -> dict[str, Any]:
    """A small reset-after run one epoch in (so Adam has its moments), saved; its dict."""
    folder = tmp_path_factory.mktemp("good")
    trainer = Trainer(TrainConfig.article(reset="after", optimizer="adam"))
    history = History()
    for k, record in enumerate(records := trainer.run_epoch()):
        history.add_step(record.loss, epoch_end=k == len(records) - 1)
    path = str(folder / "good.ckpt")
    save_checkpoint(trainer, history, path)
    return {"path": path, "data": torch.load(path, weights_only=True), "folder": folder}


def crafted(folder, name: str, data: dict) -> str:
    path = os.path.join(str(folder), name)
    torch.save(data, path)
    return path
