"""Real text out of the box: settings fitted to the text, validation over every held-out
character, the best weights kept and restorable, patience."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch

from gru_core import TrainConfig, Trainer
from gru_core.cli import train_main
from gru_core.corpora import load_corpus

LICENCES = Path("/usr/share/common-licenses")
needs_licences = pytest.mark.skipif(not (LICENCES / "GPL-3").is_file(),
                                    reason="Debian's licence texts are not installed")


def licence(name: str) -> str:
    return (LICENCES / name).read_text()


# ------------------------------------------------------------------ fitted settings
@needs_licences
def test_a_licence_gets_the_char_rnn_settings_and_one_line_saying_so():
    config = TrainConfig.for_text(licence("GPL-3"))
    assert (config.hidden_size, config.seq_len, config.batch_size) == (128, 32, 16)
    assert (config.optimizer, config.lr, config.clip, config.val_fraction) == ("adam", 1e-2, 5.0, 0.1)
    assert config.fitted == "fitted to 35,149 chars (V 76): H 128, T 32, B 16, adam 1e-2, val 10%"
    assert config.sample_len >= 200 and config.sample_prime == "\n"


def test_flags_the_user_gives_win_and_the_line_says_which():
    text = load_corpus("stdlib")
    config = TrainConfig.for_text(text, hidden_size=64, lr=1e-2)
    assert (config.hidden_size, config.lr) == (64, 1e-2)
    assert config.fitted.endswith("; yours: H, lr")
    short = TrainConfig.for_text(text[:1500])  # short text: shorter sequences, no validation
    assert short.val_fraction == 0 and short.seq_len < 32 and "no val" in short.fitted


def test_the_cli_fits_a_file_but_not_text_or_a_preset(tmp_path):
    path = tmp_path / "code.txt"
    path.write_text(load_corpus("stdlib")[:20_000])
    out = io.StringIO()
    assert train_main(["--file", str(path), "--epochs", "1", "--hidden", "16", "--every", "1"], out) == 0
    first = out.getvalue().splitlines()[0]
    assert first.startswith("fitted to 20,000 chars") and "H 16" in first and "yours: H, epochs" in first
    out = io.StringIO()
    assert train_main(["--text", "MathMathMath", "--epochs", "1"], out) == 0
    assert "fitted" not in out.getvalue()  # --text keeps the default preset
    out = io.StringIO()
    assert train_main(["--file", str(path), "--preset", "default", "--epochs", "1", "--seq-len", "64",
                       "--batch", "16"], out) == 0
    assert "fitted" not in out.getvalue() and "hidden 16," in out.getvalue()


def test_the_article_preset_does_not_move():
    config = TrainConfig.article()
    assert (config.hidden_size, config.seq_len, config.batch_size, config.lr, config.fitted) == (
        2, 3, 2, 0.01, "")


# ------------------------------------------------------------------ validation
def independent_val_loss(trainer: Trainer) -> float:
    """The definition in docs/guide.md, computed on its own: the held-out text cut into
    S = min(256, (n - 1) // 256) contiguous streams of ceil((n - 1) / S) predictions,
    each read one character at a time through gru_step from a zero state, in float64."""
    config = trainer.config
    held_out = config.text[config.train_chars:]
    idx = trainer.vocab.encode(held_out)
    n_pred = len(held_out) - 1
    S = max(1, min(256, n_pred // 256))
    L = math.ceil(n_pred / S)
    model = trainer.model.detached_copy()
    for p in model.parameters():
        p.data = p.data.double()
    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(S):
            h = torch.zeros(1, config.hidden_size, dtype=torch.float64)
            for i in range(s * L, min((s + 1) * L, n_pred)):
                h = model.gru_step(idx[i:i + 1], h).h
                log_p = torch.log_softmax(model.output(h), dim=-1)
                total -= float(log_p[0, idx[i + 1]])
                count += 1
    assert count == n_pred  # every held-out character after the first is predicted
    return total / count


@needs_licences
def test_validation_scores_every_held_out_character_and_equals_an_independent_count():
    text = licence("GPL-3")
    trainer = Trainer(TrainConfig.for_text(text, hidden_size=32))
    for _ in range(20):
        trainer.step()
    assert trainer.val_chars == len(text) - trainer.config.train_chars - 1
    assert trainer.evaluate() == pytest.approx(independent_val_loss(trainer), abs=1e-4)


# ------------------------------------------------------------------ best weights, patience
def test_the_best_weights_are_kept_and_come_back():
    text = load_corpus("zen")
    trainer = Trainer(TrainConfig.for_text(text, hidden_size=32, val_fraction=0.2))
    for _ in range(30):
        trainer.step()
    best = trainer.validate()
    assert trainer.best_val == best and trainer.best_step == 30
    with torch.no_grad():  # ruin the weights: validation gets worse, not a new best
        trainer.model.W.mul_(0).add_(5.0)
    worse = trainer.validate()
    assert worse > best and trainer.best_val == best and trainer.checks_since_best == 1
    assert trainer.restore_best() == 30
    assert trainer.evaluate() == pytest.approx(best, abs=1e-6)


def test_patience_stops_the_cli_after_checks_without_improvement(tmp_path):
    path = tmp_path / "code.txt"
    path.write_text(load_corpus("stdlib")[:6000])
    out = io.StringIO()
    # lr 0.5 is far too high: validation soon stops improving, and 2 checks later it ends
    code = train_main(["--file", str(path), "--hidden", "16", "--lr", "0.5", "--epochs", "100",
                       "--patience", "2", "--every", "1", "--val-every", "1000",  # checks at epoch ends
                           "--save", str(tmp_path / "run.pt")], out)
    lines = out.getvalue().splitlines()
    assert code == 0
    stop = next(i for i, line in enumerate(lines) if line.startswith("stopped: 2 validation checks"))
    epochs_run = sum(line.startswith("Epoch:") for line in lines)
    assert epochs_run < 100
    vals = [float(line.split("val ")[1]) for line in lines[:stop] if line.startswith("Loss:")]
    assert min(vals[-2:]) >= min(vals[:-2])  # the last two checks did not beat the best
    # the run ends on its best weights, and those are what is saved (--save-last: the last)
    assert any(line.startswith("ended on the best weights: val ") for line in lines[stop:])
    saved = next(line for line in lines if line.startswith("saved checkpoint"))
    assert f"the best weights, val {min(vals):.4f}" in saved


# ------------------------------------------------------------------ in the session
def test_a_session_on_real_text_samples_at_every_check_labelled_and_restores_the_best():
    from gru_core.session import TrainingSession

    text = load_corpus("stdlib") * 20  # ~ one long epoch at these settings
    config = TrainConfig.for_text(text, hidden_size=32, val_every=25)
    with TrainingSession(config) as session:
        session.start()
        snap = session.wait_for(lambda s: len(s.samples) >= 2, timeout=60)
        session.pause()
        assert snap.epoch == 0  # both came within the first epoch
        first, second = snap.samples[0], snap.samples[1]
        assert len(first.text) >= 200 and first.text.startswith("\n")
        assert (first.step, second.step) == (25, 50) and second.val is not None  # counted in steps
        assert snap.best_val is not None and snap.best_val <= second.val
        session.restore_best()
        snap = session.wait_for(lambda s: s.note is not None, timeout=10)
        assert snap.note.startswith(f"restored the best weights: val {snap.best_val:.4f} from step")


def test_training_advice_names_a_too_high_learning_rate_and_overfitting():
    from gru_core.advice import LOWER_LR, RESTORE_BEST, training_advice
    from gru_core.cli import cli_advice

    assert training_advice([5.0] * 99, [], 4.33, 0.05) is None  # too early to judge
    advice = training_advice([5.0] * 120, [], 4.33, 0.05)
    line = advice.line()
    assert line.startswith("not learning: training loss 5.00 is above ln V = 4.33") and "0.0125" in line
    assert (advice.kind, advice.action, advice.figures["lr"]) == ("not learning", LOWER_LR, 0.0125)
    vals = [(10, 2.5), (20, 2.3), (30, 2.35), (40, 2.4), (50, 2.45)]
    advice = training_advice([1.0] * 120, vals, 4.33, 2e-3)
    assert advice.line() == "overfitting: val up 3 checks from 2.300 to 2.450; restore the best weights"
    assert (advice.kind, advice.action) == ("overfitting", RESTORE_BEST)
    assert training_advice([1.0] * 120, vals[:4], 4.33, 2e-3) is None  # 2 checks: not yet
    # training rising after it came down is diverging, not overfitting, whatever validation does
    advice = training_advice([1.0] * 100 + [4.4] * 20, vals, 4.63, 1e-2)
    assert advice.line().startswith("diverging: training loss 4.40 rose from 1.00; try lr 0.0025 (now 0.01)")
    assert (advice.kind, advice.action, advice.figures["lr"]) == ("diverging", LOWER_LR, 0.0025)
    # the CLI words the remedies with its flags, the key-free line names no flag
    assert cli_advice(advice, True).endswith("; try --lr 0.0025")
    overfit = training_advice([1.0] * 120, vals, 4.33, 2e-3)
    assert cli_advice(overfit, True).endswith("; it ends on the best weights")
    assert cli_advice(overfit, False).endswith("; drop --save-last for the best")
    long_vals = [(100, 2.2), (305, 2.0696)] + [(305 + 60 * k, 2.1 + 0.02 * k) for k in range(1, 19)]
    for advice in (training_advice([5.0] * 120, [], 4.33, 0.05),
                   training_advice([1.0] * 120, vals, 4.33, 2e-3),
                   training_advice([1.0] * 100 + [4.4] * 20, vals, 4.63, 1e-2),
                   training_advice([1.0] * 2000, long_vals, 4.33, 1e-2)):
        # the figures and the remedy on one 80-column line, in each front end's words
        for line in (advice.line(), cli_advice(advice, True), cli_advice(advice, False)):
            assert len(line) <= 80, line
            assert "ctrl+" not in line and " b " not in line


def test_an_edited_fitted_config_says_which_knobs_are_the_users():
    config = TrainConfig.for_text(load_corpus("stdlib"))
    edited = config.replace(hidden_size=64, lr=2e-2).refitted()
    assert "H 64," in edited.fitted and "adam 2e-2" in edited.fitted
    assert edited.fitted.endswith("; yours: H, lr")
    longer = config.replace(seq_len=config.seq_len * 2).refitted()
    assert longer.fitted.endswith("; yours: T")  # B, fitted to any T up to the text's length, stays fitted
    assert config.refitted() is config and TrainConfig.default().refitted().fitted == ""
