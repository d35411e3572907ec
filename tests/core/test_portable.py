"""Models that leave the app: export-torch against torch.nn.GRU, safetensors without pickle,
`gru-tui sample` from a shell, and checkpoint names that carry step and validation loss."""

import io
import json
import os
import subprocess
import sys

import pytest
import torch

from gru_core.cli import train_main
from gru_core.model_cli import export_safetensors_main, export_torch_main, sample_main
from gru_core.portable import load_model


def train(tmp_path, name, *flags):
    path = str(tmp_path / name)
    assert train_main(["--preset", "default", *flags, "--save", path], out=io.StringIO()) == 0
    return path


@pytest.fixture(scope="module")
def after_ckpt(tmp_path_factory):
    return train(tmp_path_factory.mktemp("after"), "after.ckpt", "--reset", "after")


@pytest.fixture(scope="module")
def before_ckpt(tmp_path_factory):
    return train(tmp_path_factory.mktemp("before"), "before.ckpt")


def run(main, argv):
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def gru_core_y_hat(model, x):
    h = model.zero_state(1)
    rows = []
    for x_t in x:
        h = model.gru_step(x_t.view(1), h).h
        rows.append(torch.softmax(model.output(h)[0], -1))
    return torch.stack(rows)  # [T, V]


# ====================================================================== export-torch
def test_export_torch_loads_into_nn_gru_with_weights_only_and_matches_to_1e_5(after_ckpt, tmp_path):
    out = str(tmp_path / "model.pt")
    code, text = run(export_torch_main, [after_ckpt, out])
    assert code == 0 and "nn.GRU(" in text

    d = torch.load(out, weights_only=True)
    V, H = d["input_size"], d["hidden_size"]
    gru, linear = torch.nn.GRU(V, H), torch.nn.Linear(H, V)
    gru.load_state_dict(d["gru"])
    linear.load_state_dict(d["linear"])
    saved = load_model(after_ckpt)
    assert d["vocab"] == saved.vocab.chars

    text = "MathMathMathMa"
    x = torch.tensor([d["vocab"].index(c) for c in text])
    one_hot = torch.nn.functional.one_hot(x, V).float().unsqueeze(1)  # [T, 1, V]
    with torch.no_grad():
        out_seq, _ = gru(one_hot)
        theirs = torch.softmax(linear(out_seq)[:, 0], -1)
        ours = gru_core_y_hat(saved.model, x)
    assert torch.allclose(theirs, ours, atol=1e-5)
    assert theirs.argmax(-1).tolist() != [0] * len(text)  # a trained model, not a blank one


def test_export_torch_refuses_reset_before_and_says_why(before_ckpt, tmp_path, capsys):
    out = tmp_path / "model.pt"
    code, _ = run(export_torch_main, [before_ckpt, str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert len(err.strip().splitlines()) == 1
    assert "no torch.nn.GRU equivalent" in err and "(r * h) Uh" in err and "--reset after" in err


# ====================================================================== safetensors
def test_safetensors_export_reads_back_without_pickle_or_torch(after_ckpt, tmp_path):
    out = str(tmp_path / "model.safetensors")
    code, text = run(export_safetensors_main, [after_ckpt, out])
    assert code == 0 and "Wz" in text and "bUh" in text
    script = (
        "import sys, json, pickle\n"
        "def refuse(*args, **kwargs): raise AssertionError('something was unpickled')\n"
        "pickle.load = pickle.loads = pickle.Unpickler = refuse\n"
        "sys.modules['torch'] = None  # nor may torch be needed\n"
        "from safetensors import safe_open\n"
        f"with safe_open({out!r}, framework='numpy') as f:\n"
        "    meta = f.metadata(); t = {k: f.get_tensor(k).tolist() for k in f.keys()}\n"
        "print(json.dumps({'meta': meta, 'tensors': t}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)
    saved = load_model(after_ckpt)
    for name, weight in saved.model.state_dict().items():
        assert torch.tensor(read["tensors"][name]).equal(weight), name
    meta = read["meta"]
    assert json.loads(meta["vocab"]) == saved.vocab.chars
    config = json.loads(meta["config"])
    assert config["hidden_size"] == 16 and config["reset"] == "after" and "text" not in config
    assert int(meta["step"]) == saved.step > 0


def test_sample_from_safetensors_equals_sample_from_the_checkpoint(before_ckpt, tmp_path):
    out = str(tmp_path / "model.safetensors")
    assert run(export_safetensors_main, [before_ckpt, out])[0] == 0
    args = ["--prime", "Ma", "--len", "40", "--temperature", "1", "--seed", "7"]
    from_ckpt, from_st = run(sample_main, [before_ckpt, *args]), run(sample_main, [out, *args])
    assert from_ckpt[0] == from_st[0] == 0
    assert from_ckpt[1] == from_st[1] and len(from_ckpt[1]) == 43  # "Ma" + 40 + newline


def test_damaged_safetensors_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    code, _ = run(sample_main, [str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "cannot be loaded" in err and len(err.strip().splitlines()) == 1


# ====================================================================== sample
def test_sample_command_from_a_shell_prints_what_the_model_learned(before_ckpt):
    done = subprocess.run(
        [sys.executable, "-m", "tui", "sample", before_ckpt, "--prime", "Ma", "--len", "10",
         "--temperature", "0"], capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "MathMathMath\n"  # what `gru-tui train --preset default` prints at the end


def test_sample_prime_file_and_top_k(before_ckpt, tmp_path):
    prime = tmp_path / "prime.txt"
    prime.write_text("Math", encoding="utf-8")
    code, text = run(sample_main, [before_ckpt, "--prime-file", str(prime), "--len", "8",
                                   "--temperature", "5", "--top-k", "1"])
    assert code == 0 and text == "MathMathMath\n"  # top-k 1 is argmax at any temperature


def test_sample_shows_control_characters_as_symbols(tmp_path):
    ckpt = train(tmp_path, "esc.ckpt", "--text", "a\x1b[31mb\x07\n" * 8, "--epochs", "3")
    code, text = run(sample_main, [ckpt, "--prime", "a\x1b", "--len", "60", "--seed", "1"])
    assert code == 0
    assert text.startswith("a␛") and "\x1b" not in text and "\x07" not in text


@pytest.mark.parametrize("argv, says", [
    (["--prime", "Mz"], "'z'"),
    (["--top-k", "0"], "top_k"),
    (["--temperature", "-1"], "temperature"),
    (["--len", "many"], "--len"),
])
def test_sample_bad_input_is_one_line_and_exit_2(before_ckpt, argv, says, capsys):
    code, text = run(sample_main, [before_ckpt, *argv])
    err = capsys.readouterr().err
    assert code == 2 and text == "" and says in err
    assert err.startswith("gru-tui sample: error: ") and len(err.strip().splitlines()) == 1


def test_sample_missing_checkpoint_names_the_path(tmp_path, capsys):
    code, _ = run(sample_main, [str(tmp_path / "nope.ckpt")])
    assert code == 2 and "nope.ckpt" in capsys.readouterr().err


# ====================================================================== names
def test_train_save_to_a_folder_names_the_file_by_step_and_validation_loss(tmp_path):
    out = io.StringIO()
    code = train_main(["--preset", "default", "--epochs", "4", "--val", "0.3", "--text",
                       "MathMathMath is fun. " * 20, "--save", str(tmp_path)], out=out)
    assert code == 0
    [name] = os.listdir(tmp_path)
    saved = load_model(str(tmp_path / name))
    assert name == f"gru-tui-step{saved.step}-val{saved.val_loss:.2f}.ckpt"
    assert f"saved checkpoint to {tmp_path / name}" in out.getvalue()
