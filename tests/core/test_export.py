"""Exports parse back to exactly the numbers the run holds and the app shows."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
import torch

from gru_core import GRUError, TrainConfig, Trainer
from gru_core.cli import train_main
from gru_core.export import (
    CSV_COLUMNS,
    TRACE_MATRICES,
    export_loss_csv,
    export_snapshot_json,
    export_trace_json,
    matrix,
)
from gru_core.history import History
from gru_core.session import TrainingSession

from ..export_reader import tensor_from

TEXT = "the cat sat on the mat. the dog sat on the log. " * 3



def config(**changes) -> TrainConfig:
    base = dict(text=TEXT, hidden_size=10, seq_len=5, batch_size=3, sample_prime="t",
                val_fraction=0.15, epochs=3)
    base.update(changes)
    return TrainConfig.default(**base)


def run(trainer: Trainer, epochs: int, history: History | None = None) -> History:
    history = history or History()
    for _ in range(epochs):
        for record in trainer.run_epoch():
            history.add_step(record.loss, epoch_end=record.batch == trainer.num_batches - 1)
        history.add_val(trainer.step_count, trainer.evaluate())
    return history


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- CSV
def test_loss_csv_parses_back_to_the_history(tmp_path):
    trainer = Trainer(config())
    history = run(trainer, 3)
    path = tmp_path / "loss.csv"
    export_loss_csv(history, str(path))
    rows = read_csv(path)
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(r["step"]) for r in rows] == list(range(1, len(history.losses) + 1))
    assert [float(r["loss"]) for r in rows] == history.losses  # exact, not approximately
    epoch_rows = [(int(r["step"]), float(r["epoch_mean"])) for r in rows if r["epoch_mean"]]
    n = trainer.num_batches
    assert epoch_rows == [((e + 1) * n, m) for e, m in enumerate(history.epoch_losses)]
    val_rows = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    assert val_rows == history.val_losses


def test_epoch_means_sit_on_the_step_that_ended_them_also_after_a_resume_mid_epoch(tmp_path):
    # 5 steps of an epoch of 2 batches, then a run that goes on with epochs of 3 batches
    # (another text): the steps are recorded, not guessed from a fixed epoch length
    history = History()
    for k, loss in enumerate([4.0, 2.0, 3.0, 1.0, 9.0], start=1):
        history.add_step(loss, epoch_end=k in (2, 4))
    for k, loss in enumerate([1.0, 2.0, 3.0], start=1):
        history.add_step(loss, epoch_end=k == 3)
    path = tmp_path / "loss.csv"
    export_loss_csv(history, str(path))
    epoch_rows = [(int(r["step"]), float(r["epoch_mean"])) for r in read_csv(path) if r["epoch_mean"]]
    assert epoch_rows == [(2, 3.0), (4, 2.0), (8, 15.0 / 4)]  # the third epoch: steps 5-8


def test_a_history_whose_epoch_ends_do_not_fit_its_steps_is_refused():
    with pytest.raises(ValueError, match="2 epoch means do not fit"):
        History.from_dict({"losses": [1.0, 2.0], "epoch_losses": [1.5, 1.0], "epoch_steps": [1, 3]})
    # a history saved before epoch ends were kept: each epoch as long as the run's
    old = History.from_dict({"losses": [1.0, 2.0, 3.0, 4.0], "epoch_losses": [1.5, 3.5]}, steps_per_epoch=2)
    assert old.epoch_steps == [2, 4]


def test_empty_history_is_a_header_only_csv(tmp_path):
    path = tmp_path / "empty.csv"
    export_loss_csv(History(), str(path))
    assert path.read_text() == "step,loss,epoch_mean,val_loss\n"


def test_export_to_a_directory_is_a_gruerror(tmp_path):
    with pytest.raises(GRUError, match="is a directory"):
        export_loss_csv(History(losses=[1.0]), str(tmp_path))


# ---------------------------------------------------------------- JSON
def load_json(path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def assert_trace_matches(data: dict, trace, vocab: str) -> None:
    assert data["vocab"] == list(vocab)
    for name in TRACE_MATRICES:
        got = tensor_from(data["matrices"][name], getattr(trace, name).dtype)
        assert torch.equal(got, getattr(trace, name)), name
    T, B = trace.x.shape
    assert data["inputs"] == [[vocab[int(trace.x[t, b])] for b in range(B)] for t in range(T)]
    assert data["targets"] == [[vocab[int(trace.y[t, b])] for b in range(B)] for t in range(T)]
    assert data["loss"] == float(trace.loss)


def test_trace_json_at_an_epoch_start_is_forward_batch_0(tmp_path):
    trainer = Trainer(config())
    run(trainer, 1)
    path = tmp_path / "trace.json"
    export_trace_json(trainer, str(path))
    data = load_json(path)
    assert (data["step"], data["epoch"], data["batch"]) == (trainer.step_count, 1, 0)
    assert_trace_matches(data, trainer.forward_batch(0), trainer.vocab.chars)
    V, H = trainer.vocab.size, 10
    assert data["matrices"]["z"]["shape"] == [5, 3, H]
    assert data["matrices"]["y_hat"]["shape"] == [5, 3, V]
    assert set(data["gradients"]) == set(trainer.last_grads)
    for name, grad in trainer.last_grads.items():
        assert torch.equal(tensor_from(data["gradients"][name]), grad), name
    assert torch.equal(tensor_from(data["weights"]["Uh"]), trainer.model.Uh.detach())


def test_trace_json_mid_epoch_runs_from_the_carried_hidden_state(tmp_path):
    trainer = Trainer(config())
    for _ in range(2):
        trainer.step()
    path = tmp_path / "trace.json"
    export_trace_json(trainer, str(path))
    data = load_json(path)
    assert data["batch"] == 2
    expected = trainer.forward_batch(2, trainer.h)
    assert_trace_matches(data, expected, trainer.vocab.chars)
    assert not torch.equal(expected.h, trainer.forward_batch(2).h)  # the carried state matters
    # The exported loss is the loss the next step will report.
    assert data["loss"] == pytest.approx(trainer.step().loss, rel=1e-6)


def test_snapshot_json_is_what_the_app_shows(tmp_path):
    path = tmp_path / "snap.json"
    with TrainingSession(config(), max_rate=1000) as session:
        session.step()
        snap = session.wait_for(lambda s: s.step == 1, timeout=20)
    export_snapshot_json(snap, str(path))
    data = load_json(path)
    assert data["step"] == 1 and data["batch"] == snap.trace_batch == snap.batch
    assert_trace_matches(data, snap.trace, snap.vocab)
    # the gradients and weights the matrices pane explains: the ones the next step applies
    assert all(torch.equal(tensor_from(data["gradients"][k]), g) for k, g in snap.detail.applied.items())
    assert all(torch.equal(tensor_from(data["weights"][k]), w) for k, w in snap.detail.weights.items())


def test_non_finite_numbers_are_strict_json_and_read_back():
    t = torch.tensor([[1.5, math.inf], [-math.inf, math.nan]])
    entry = json.loads(json.dumps(matrix(t), allow_nan=False))
    assert entry["data"] == [[1.5, "Infinity"], ["-Infinity", "NaN"]]
    back = tensor_from(entry)
    assert torch.equal(back[~back.isnan()], t[~t.isnan()]) and bool(back[1, 1].isnan())


# ---------------------------------------------------------------- the CLI, end to end
def test_cli_save_load_resume_and_exports_match_an_uninterrupted_run(tmp_path):
    flags = ["--text", TEXT, "--hidden", "8", "--seq-len", "5", "--batch", "3", "--val", "0.15",
             "--every", "1"]
    ck, csv_resumed, csv_straight = (str(tmp_path / n) for n in ("ck.pt", "a.csv", "b.csv"))
    json_resumed, json_straight = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    out = io.StringIO()
    assert train_main([*flags, "--epochs", "2", "--save", ck], out=out) == 0
    assert train_main(["--load", ck, "--epochs", "4", "--every", "1", "--export-csv", csv_resumed,
                       "--export-json", json_resumed], out=out) == 0
    assert train_main([*flags, "--epochs", "4", "--export-csv", csv_straight,
                       "--export-json", json_straight], out=out) == 0
    with open(csv_resumed) as a, open(csv_straight) as b:
        assert a.read() == b.read()
    assert load_json(json_resumed) == load_json(json_straight)
    rows = read_csv(csv_straight)
    assert sum(1 for r in rows if r["epoch_mean"]) == 4
    config = TrainConfig(text=TEXT, hidden_size=8, seq_len=5, batch_size=3, val_fraction=0.15, epochs=4)
    checks = -(-Trainer(config).num_batches // config.check_every(Trainer(config).num_batches))
    assert sum(1 for r in rows if r["val_loss"]) == 4 * checks  # the loop's checks, counted in steps
