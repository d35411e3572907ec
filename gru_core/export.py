"""Exports: the loss history as CSV, and the current batch's matrices as JSON.

Both are written atomically (a temporary file renamed over the destination), and both
round-trip exactly: every number is written with Python's shortest repr, which reads
back to the same float, so a float32 tensor rebuilt from the JSON equals the original.

CSV columns (one row per optimizer step; empty where there is nothing):

    step        1-based step number; losses[step - 1] is its loss
    loss        the training loss of that step's batch (nats)
    epoch_mean  on the step that ended an epoch: the mean loss of that epoch
    val_loss    on a step after which validation was measured: the validation loss

JSON layout ("gru-tui-trace", version 1): step, epoch, batch, loss, vocab (list of
characters, index order), inputs / targets ([T][B] characters), and three dictionaries
of named matrices, each {"shape": [...], "data": nested lists}:

    matrices    x, y [T, B] indices; h_prev, z, r, h_tilde, h [T, B, H]; logits, y_hat,
                term1 [T, B, V]; term2 [T, B]; term3 [T]
    gradients   by article name (Wz [V, H], ..., by [V]): the last step's from a Trainer; from
                a Snapshot, the gradients of the batch's own loss, as the matrices pane shows
    weights     the weights by article name (from a Snapshot: those the batch was traced with)

A number that is not finite is written as the string "NaN", "Infinity" or "-Infinity"
(strict JSON has no such numbers).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .atomic import write_atomically
from .errors import GRUError
from .forward import Trace
from .history import History

if TYPE_CHECKING:
    from .session import Snapshot
    from .trainer import Trainer

TRACE_FORMAT = "gru-tui-trace"
TRACE_VERSION = 1
TRACE_MATRICES = ("x", "y", "h_prev", "z", "r", "h_tilde", "h", "logits", "y_hat",
                  "term1", "term2", "term3")
CSV_COLUMNS = ("step", "loss", "epoch_mean", "val_loss")


# ====================================================================== CSV
def loss_csv_text(history: History) -> str:
    """The CSV export as a string (see the module docstring for its columns)."""
    epoch_at = dict(zip(history.epoch_steps, history.epoch_losses))
    val_at = {int(step): float(loss) for step, loss in history.val_losses}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    if 0 in val_at:  # validated before the first step: a row without a training loss
        writer.writerow([0, "", "", _num(val_at[0])])
    for k, loss in enumerate(history.losses, start=1):
        writer.writerow([k, _num(loss), _num(epoch_at.get(k)), _num(val_at.get(k))])
    return out.getvalue()


def export_loss_csv(history: History, path: str) -> None:
    """Write the loss history as CSV, atomically; each epoch mean on the step that ended it."""
    text = loss_csv_text(history)
    write_atomically(path, lambda f: f.write(text.encode("utf-8")), what="loss history")


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


# ====================================================================== JSON
def export_trace_json(trainer: "Trainer", path: str, *, batch: int | None = None) -> None:
    """Write the current batch's matrices (all B sequences) as JSON, atomically.

    The current batch is the one the next step will train (trainer.batch_index), run
    from the hidden state carried into it, as the app shows it. `batch` picks another
    batch of the epoch, run from a zero hidden state.
    """
    data = trace_dict_from_trainer(trainer, batch=batch)
    _write_json(data, path)


def export_snapshot_json(snapshot: "Snapshot", path: str) -> None:
    """Write what a Snapshot shows as JSON, atomically: its traced sequences, with the step and
    batch they were traced at, and the gradients the matrices pane shows (the ones the next
    step applies: the whole batch's, clipped as the step clips them, with the weights it
    was traced with; the last step's when a snapshot has no detail)."""
    if snapshot.trace is None:
        raise GRUError("there is no batch to export yet; train a step first")
    meta = {"step": snapshot.trace_step, "epoch": snapshot.epoch, "batch": snapshot.trace_batch}
    detail = snapshot.detail
    grads = snapshot.grads if detail is None else (detail.applied or detail.grads)
    weights = detail.weights if detail is not None else None
    data = trace_dict(snapshot.trace, snapshot.vocab, grads, weights=weights, meta=meta)
    _write_json(data, path)


@torch.no_grad()
def trace_dict_from_trainer(trainer: "Trainer", *, batch: int | None = None) -> dict[str, Any]:
    i = trainer.batch_index if batch is None else batch
    carried = batch is None or batch == trainer.batch_index
    h0 = trainer.h if carried and i != 0 else None
    trace = trainer.forward_batch(i, h0)
    meta = {"step": trainer.step_count, "epoch": trainer.epoch, "batch": i}
    weights = {k: v.detach() for k, v in trainer.model.named_tensors().items()}
    return trace_dict(trace, trainer.vocab.chars, trainer.last_grads, weights=weights, meta=meta)


def trace_dict(
    trace: Trace, vocab: str, grads: dict[str, Tensor], *,
    weights: dict[str, Tensor] | None = None, meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Trace and its gradients as plain JSON-ready types (see the module docstring)."""
    chars = list(vocab)
    out: dict[str, Any] = {"format": TRACE_FORMAT, "version": TRACE_VERSION}
    out.update(meta or {})
    out["loss"] = _finite_or_name(float(trace.loss))
    out["vocab"] = chars
    out["inputs"] = [[chars[int(i)] for i in row] for row in trace.x]
    out["targets"] = [[chars[int(i)] for i in row] for row in trace.y]
    out["matrices"] = {name: matrix(getattr(trace, name)) for name in TRACE_MATRICES}
    out["gradients"] = {name: matrix(g) for name, g in grads.items()}
    if weights is not None:
        out["weights"] = {name: matrix(w) for name, w in weights.items()}
    return out


def matrix(t: Tensor) -> dict[str, Any]:
    """{"shape": [...], "data": nested lists}; exact floats, non-finite ones as names."""
    t = t.detach().cpu()
    data = t.tolist()
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        data = _names_for_nonfinite(data)
    return {"shape": list(t.shape), "data": data}


def _finite_or_name(x: float) -> float | str:
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _names_for_nonfinite(data: Any) -> Any:
    if isinstance(data, list):
        return [_names_for_nonfinite(v) for v in data]
    return _finite_or_name(data) if isinstance(data, float) else data


def _write_json(data: dict[str, Any], path: str) -> None:
    text = json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    write_atomically(path, lambda f: f.write(text.encode("utf-8")), what="matrices")
