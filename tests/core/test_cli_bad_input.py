"""`gru-tui train` and `gru-tui` given bad or hostile input: one line and exit 2, checked
before any training; text from data shown harmlessly; a closed pipe, a strict stdout and a
Ctrl+C during start-up without a traceback."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from gru_core.checkpoint import save_checkpoint
from gru_core.cli import train_main
from gru_core.config import TrainConfig
from gru_core.history import History
from gru_core.threads import available_cores
from gru_core.trainer import Trainer

# what drives a terminal: ESC/CSI colour, OSC title (BEL and ST ends), C1 CSI, bidi overrides
HOSTILE = ("\x1b[31mred\x1b[0m \x1b]2;PWNED\x07 \x1b]0;T\x1b\\ \x9b2J \x85 \u202etxt\u202c "
           "\u2066x\u2069 \x08\x7f bell\x07 ")


def run(argv, capsys):
    out = io.StringIO()
    code = train_main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


def one_line_error(code, out, err, *needles):
    assert code == 2, (out, err)
    assert "Epoch:" not in out and "training on" not in out  # refused before training began
    assert err.count("\n") == 1 and err.startswith("gru-tui: error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def _harmless(data: bytes) -> None:
    text = data.decode("utf-8")
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0
           or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"]
    assert bad == [], f"control characters reached the terminal: {bad!r}"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("ck") / "run.ckpt")
    save_checkpoint(Trainer(TrainConfig.article()), History(), path)
    return path


# ------------------------------------------------------------------ checked before training
@pytest.mark.parametrize("argv, needles", [
    (["--text", ""], ["--text is empty"]),
    (["--preset", "article", "--epochs", "100000", "--prime", "Zq"],
     ["--prime 'Zq' has characters the text lacks: 'Z', 'q'"]),
    (["--preset", "article", "--every", "-1"],
     ["--every must be a whole number of at least 1 (print every N epochs); got -1"]),
    (["--preset", "article", "--every", "0"], ["--every must be"]),
    (["--preset", "article", "--threads", "1024"],
     [f"--threads must be from 1 to {available_cores()}", "got 1024"]),
    (["--preset", "article", "--prime", "M\udcff"], ["--prime holds '\\udcff', a byte that is not UTF-8"]),
    (["--text", "ab\udcffab" * 5], ["--text holds '\\udcff'"]),
    (["--preset", "article", "--epochs", "100000", "--save", "no/such/folder/x.ckpt"],
     ["--save: cannot save the checkpoint", "does not exist"]),
    (["--preset", "article", "--epochs", "100000", "--export-json", "no/such/x.json"], ["--export-json:"]),
    (["--preset", "article", "--save", ""], ["--save: a path to save the checkpoint to is needed"]),
])
def test_bad_flags_are_refused_before_training(argv, needles, capsys):
    one_line_error(*run(argv, capsys), *needles)


def test_save_and_export_to_one_file_is_refused(tmp_path, capsys):
    path = str(tmp_path / "x")
    code, out, err = run(["--preset", "article", "--save", path, "--export-csv", path], capsys)
    one_line_error(code, out, err, "--save and --export-csv name the same file")
    assert not os.path.exists(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_save_onto_a_fifo_is_refused_before_training(tmp_path, capsys):
    fifo = str(tmp_path / "pipe")
    os.mkfifo(fifo)
    one_line_error(*run(["--preset", "article", "--save", fifo], capsys), "is a FIFO")


@pytest.mark.parametrize("flags, named", [
    (["--text", "abcabcabcabc"], "--text"), (["--hidden", "8"], "--hidden"),
    (["--corpus", "zen", "--lr", "0.1"], "--corpus, --lr"),
])
def test_load_with_flags_it_would_ignore_is_refused(checkpoint, flags, named, capsys):
    code, out, err = run(["--load", checkpoint, *flags], capsys)
    one_line_error(code, out, err, f"--load resumes the checkpoint's own text and settings, so {named}")


def test_load_with_epochs_still_applies(checkpoint, capsys):
    code, out, _ = run(["--load", checkpoint, "--epochs", "2"], capsys)
    assert code == 0 and "Epoch: 2/2" in out


def test_load_of_an_empty_path_or_a_text_file(tmp_path, capsys):
    one_line_error(*run(["--load", ""], capsys), "--load needs the path of a checkpoint")
    notes = tmp_path / "notes.txt"
    notes.write_text("MathMath\n")
    one_line_error(*run(["--load", str(notes)], capsys), "is not a gru-tui checkpoint")


def test_the_app_launcher_checks_the_same_flags(checkpoint, capsys):
    from tui.launch import launch_app

    assert launch_app(["--load", checkpoint, "--hidden", "8"]) == 2
    assert "--load resumes" in capsys.readouterr().err
    assert launch_app(["--load", ""]) == 2
    assert "--load needs the path" in capsys.readouterr().err
    assert launch_app(["--preset", "article", "--prime", "Zq"]) == 2
    assert "--prime 'Zq' has characters the text lacks" in capsys.readouterr().err
    assert launch_app(["--text", ""]) == 2
    assert "--text is empty" in capsys.readouterr().err


# ------------------------------------------------------------------ what reaches the terminal
def _cli(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "tui", "train", *args], capture_output=True,
                          timeout=180, **kwargs)


def test_control_sequences_in_the_text_and_its_name_never_reach_the_terminal(tmp_path):
    name = tmp_path / "evil\x1b]2;PWNED\x07.txt"
    name.write_text(HOSTILE * 20, encoding="utf-8")
    done = _cli(["--file", str(name), "--epochs", "3", "--hidden", "8", "--sample-len", "200",
                 "--prime", HOSTILE[:12]])
    assert done.returncode == 0, done.stderr
    assert b"training on" in done.stdout and "\u241b".encode() in done.stdout  # ESC shown as ␛
    _harmless(done.stdout)
    missing = _cli(["--file", str(tmp_path / "gone\x1b[2J\x9b.txt")])  # an error quoting the path
    assert missing.returncode == 2
    _harmless(missing.stderr)


def test_a_reader_that_goes_away_ends_the_run_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "tui", "train", "--preset", "article",
                             "--epochs", "10000000", "--every", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = [proc.stdout.readline() for _ in range(2)]  # what `| head -2` reads
    proc.stdout.close()
    code = proc.wait(timeout=60)
    err = proc.stderr.read().decode()
    assert first[0].startswith(b"training on")
    assert code == 141 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_non_utf8_file_name_under_a_strict_utf8_stdout(tmp_path):
    name = os.fsencode(str(tmp_path)) + b"/caf\xe9.txt"  # Latin-1 bytes: a surrogate in Python
    with open(name, "w") as f:
        f.write("MathMathMath" * 5)
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")
    done = subprocess.run([sys.executable, "-m", "tui", "train", "--file", name, "--epochs", "2"],
                          capture_output=True, timeout=180, env=env)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
    assert "caf\ufffd.txt".encode() in done.stdout


SIGINT_DURING_TORCH_IMPORT = textwrap.dedent("""
    import os, signal, sys
    class Interrupt:  # Ctrl+C arrives just as torch starts to load
        def find_spec(self, name, path=None, target=None):
            if name == "torch":
                sys.meta_path.remove(self)
                os.kill(os.getpid(), signal.SIGINT)
            return None
    sys.meta_path.insert(0, Interrupt())
    from tui.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("argv", [["train", "--preset", "article"], ["--load", "CHECKPOINT"]])
def test_ctrl_c_while_torch_loads_is_one_line(argv, checkpoint):
    argv = [checkpoint if a == "CHECKPOINT" else a for a in argv]
    done = subprocess.run([sys.executable, "-c", SIGINT_DURING_TORCH_IMPORT, *argv],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, done.stderr
    assert done.stderr == "gru-tui: interrupted\n"
    assert signal.SIGINT  # (the signal the script sends)
