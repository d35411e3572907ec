"""`gru-tui train` as char-rnn users expect: the best weights saved, checkpoints every N steps,
a progress line on a terminal, and Ctrl-C that says what it kept."""

from __future__ import annotations

import io
import re

import pytest

from gru_core.checkpoint import load_checkpoint
from gru_core.cli import train_main
from gru_core.loop import TrainingLoop

TEXT = "".join(f"line {k}: the cat sat on the mat, the dog sat on the log.\n" for k in range(400))
FLAGS = ["--text", TEXT, "--preset", "fitted", "--hidden", "16"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_save_every_writes_checkpoints_named_by_step_and_their_own_val(tmp_path):
    out = io.StringIO()
    assert train_main([*FLAGS, "--epochs", "1", "--save-every", "7", "--save", str(tmp_path)], out) == 0
    by_step = {int(re.match(r"gru-tui-step(\d+)-val\d+\.\d\d\.ckpt$", p.name).group(1)): p
               for p in tmp_path.iterdir()}
    last = max(by_step)  # the run's end, saved into the folder by --save
    assert sorted(by_step) == [*range(7, last, 7), last]
    first = by_step[7]
    trainer, history = load_checkpoint(str(first))
    val = float(re.search(r"-val(\d+\.\d\d)\.ckpt", first.name).group(1))
    assert trainer.step_count == 7 and trainer.evaluate() == pytest.approx(val, abs=0.006)
    assert f"saved checkpoint to {first}" in out.getvalue()


@pytest.mark.parametrize("columns", [120, 80, 60, 40])
def test_a_terminal_sees_a_progress_line_with_rate_and_time_left(columns, monkeypatch):
    """However wide the terminal, the line ends in its time left: a narrower one gets a shorter
    bar, then none, then no batch, then no rate (at 80 columns the line was cut to `<1 s l`)."""
    monkeypatch.setenv("COLUMNS", str(columns))
    out = Terminal()
    assert train_main([*FLAGS, "--epochs", "1", "--sample-len", "0"], out) == 0
    text = out.getvalue()
    progress = [chunk for chunk in text.split("\r\x1b[2K") if chunk.startswith(("[", "epoch"))]
    assert progress, text[:500]
    for line in progress:
        assert len(line) < columns and re.search(
            r"epoch 1/1 (batch \d+/\d+ )?loss \d+\.\d{4} ([\d,]+ chars/s )?"
            r"(<1 s|\d+ s|\d+\.\d (min|h)) left$",
            line), line  # the status bar's forms, whole
    if columns >= 100:
        assert progress[-1].startswith("[####################] epoch 1/1 batch ")
    assert "done: " in text.splitlines()[-1]  # the progress line is cleared before the last lines


def test_ctrl_c_says_the_best_and_saves_it(tmp_path, monkeypatch, capsys):
    real = TrainingLoop.step

    def step(self):
        if self.trainer.step_count == 40:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(TrainingLoop, "step", step)
    path = tmp_path / "run.ckpt"
    code = train_main([*FLAGS, "--epochs", "5", "--save", str(path)], io.StringIO())
    err = capsys.readouterr().err
    assert code == 130
    line = err.strip().splitlines()[-1]
    assert re.fullmatch(r"gru-tui: interrupted at step 40: best val \d\.\d{4} at step \d+; saved .+ to "
                        + re.escape(str(path)), line), line
    trainer, _ = load_checkpoint(str(path))
    best = float(re.search(r"best val (\d\.\d{4})", line).group(1))
    assert trainer.evaluate() == pytest.approx(best, abs=1e-4)  # the best weights, not the last


def test_ctrl_c_without_save_says_nothing_was_saved(monkeypatch, capsys):
    def step(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(TrainingLoop, "step", step)
    assert train_main([*FLAGS, "--epochs", "5"], io.StringIO()) == 130
    assert capsys.readouterr().err.strip().endswith("nothing saved (no --save)")


def test_save_last_keeps_the_last_weights(tmp_path):
    out = io.StringIO()
    path = tmp_path / "last.ckpt"
    assert train_main([*FLAGS, "--epochs", "3", "--save-last", "--save", str(path)], out) == 0
    assert "ended on the best weights" not in out.getvalue()
    trainer, history = load_checkpoint(str(path))
    assert trainer.step_count == history.val_losses[-1][0]
    assert trainer.evaluate() == pytest.approx(history.val_losses[-1][1], abs=1e-5)


def test_train_prints_the_advice_once_in_its_own_words(monkeypatch):
    """A run going wrong is named on the epoch lines, its remedy in flags (no app key), and said
    once until the advice changes, not on every epoch line."""
    import gru_core.cli as cli
    from gru_core.advice import LOWER_LR, Advice

    advice = Advice("not learning", "training loss 5.00 is above ln V = 4.33", {"lr": 0.0125, "lr_now": 0.05},
                    LOWER_LR, "try lr 0.0125 (now 0.05)")
    monkeypatch.setattr(cli, "training_advice", lambda *args: advice)
    out = io.StringIO()
    assert train_main([*FLAGS, "--epochs", "3", "--every", "1"], out) == 0
    lines = [line for line in out.getvalue().splitlines() if line.startswith("not learning")]
    assert lines == ["not learning: training loss 5.00 is above ln V = 4.33; try --lr 0.0125"]
