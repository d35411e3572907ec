"""`gru-tui train`: prints per-epoch loss and samples; a mistake is one line and exit 2."""

import io
import subprocess
import sys

from gru_core.cli import train_main


def run(argv):
    out = io.StringIO()
    code = train_main(argv, out=out)
    return code, out.getvalue()


def test_article_preset_prints_the_articles_output_shape():
    code, text = run(["--preset", "article", "--epochs", "3"])
    assert code == 0
    lines = text.splitlines()
    assert lines[0].startswith("training on 20 characters")
    assert "Epoch: 1/3" in lines and "Epoch: 3/3" in lines
    loss_lines = [line for line in lines if line.startswith("Loss: ")]
    assert len(loss_lines) == 3
    samples = [line for line in lines if line.startswith("Ma") and len(line) == 12]
    assert len(samples) == 3  # 'Ma' + 10 characters, as the article's sample('Ma', 10)


def test_default_preset_learns_and_prints_mathmath():
    code, text = run(["--preset", "default"])
    assert code == 0
    assert text.splitlines()[-2] == "MathMathMath"


def test_bad_input_is_one_line_and_exit_2(capsys):
    code, _ = run(["--lr", "-1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == "gru-tui: error: lr must be greater than 0 and at most 100; got -1.0"


def test_text_too_short_names_what_would_work(capsys):
    code, _ = run(["--text", "abc", "--seq-len", "8"])
    err = capsys.readouterr().err
    assert code == 2 and "needs at least 9" in err and "Traceback" not in err


def test_installed_entry_point_runs_train_without_traceback():
    out = subprocess.run(
        [sys.executable, "-m", "tui", "train", "--preset", "default", "--epochs", "2", "--hidden", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "hidden_size" in out.stderr
