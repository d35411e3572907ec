"""Issue 26's attack cases, each against every front end it reaches: `gru-tui train`, `sample`,
`export-torch`, `export-safetensors`, the app's `--load` and its ctrl+o (load_into_session).

Each case once lost data, hung, ate memory or ended in a traceback; now each is one line on
stderr, exit 2 (141 for a closed pipe, 130 for SIGINT), within 2 s, and the input untouched.
In-process where the front end allows it (cheap); a subprocess where the process's own
exit is the point (a closed pipe, a signal).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gru_core import atomic
from gru_core.checkpoint_session import load_into_session
from gru_core.cli import train_main
from gru_core.model_cli import export_safetensors_main, export_torch_main, sample_main
from gru_core.portable import export_safetensors, load_model
from tui.launch import launch_app

from .conftest import answers_within, crafted

ROOT = Path(__file__).resolve().parents[2]
TEXT = "Mathematics is the music of reason. " * 8


class _NoSession:
    """ctrl+o's session: a refused file must never reach it."""

    def adopt(self, *args) -> None:
        raise AssertionError("a refused checkpoint reached the session")


def _load_into_session(path: str) -> int:
    load_into_session(_NoSession(), path)  # type: ignore[arg-type]
    return 0


def _quietly(call) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = call()
        except Exception as exc:  # noqa: BLE001 - the in-process front ends raise GRUError
            if type(exc).__name__ != "GRUError":
                raise
            return 2, f"error: {exc}\n"
    return code, err.getvalue()


FRONT_ENDS = {
    "train --load": lambda p, out: train_main(["--load", p, "--epochs", "1"], out=io.StringIO()),
    "sample": lambda p, out: sample_main([p, "--len", "5"], out=io.StringIO()),
    "export-torch": lambda p, out: export_torch_main([p, str(out / "x.pt")], out=io.StringIO()),
    "export-safetensors": lambda p, out: export_safetensors_main([p, str(out / "x.st")], out=io.StringIO()),
    "app --load": lambda p, out: launch_app(["--load", p]),
    "app ctrl+o": lambda p, out: _load_into_session(p),
}
SAFETENSORS_FRONT_ENDS = ("sample", "export-torch", "export-safetensors")


def refused(front_end: str, path: str, tmp_path, *needles: str) -> str:
    code, err = answers_within(2.0, lambda: _quietly(lambda: FRONT_ENDS[front_end](path, tmp_path)))
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


# ====================================================================== crafted checkpoints
def _nested(data: dict) -> dict:
    x: list = [1.0]
    for _ in range(6):
        x = [x] * 100  # 10^12 paths through 600 lists
    return {**data, "zz": x}


def _expanded(data: dict) -> dict:
    return {**data, "history": {**data["history"], "losses": torch.zeros(1).expand(10**9)}}


def _adam_0dim(data: dict) -> dict:
    state = {k: {**v, "exp_avg": torch.tensor(0.0), "exp_avg_sq": torch.tensor(0.0)}
             for k, v in data["optimizer"]["state"].items()}
    return {**data, "optimizer": {**data["optimizer"], "state": state}}


CHECKPOINTS = {
    "nested shared lists": (lambda d, f: crafted(f, "nest.ckpt", _nested(d)), ["shared references"]),
    "expand(10**9) history": (lambda d, f: crafted(f, "expand.ckpt", _expanded(d)), ["broadcast view"]),
    "adam moments 0-dim": (lambda d, f: crafted(f, "adam.ckpt", _adam_0dim(d)), ["exp_avg", "shape ()"]),
    "FIFO": (lambda d, f: _fifo(f), ["not a regular file"]),
    "/dev/zero": (lambda d, f: "/dev/zero", ["'/dev/zero' is not a regular file"]),
    "symlink loop": (lambda d, f: _loop(f), ["loop of symbolic links"]),
    "text named .ckpt": (lambda d, f: _write(f, "notes.ckpt", b"note to self: not a checkpoint\n"),
                         ["not a gru-tui checkpoint", "a text file?"]),
}


def _fifo(folder) -> str:
    path = os.path.join(str(folder), "f.ckpt")
    if not os.path.exists(path):
        os.mkfifo(path)
    return path


def _loop(folder) -> str:
    a, b = os.path.join(str(folder), "loop-a.ckpt"), os.path.join(str(folder), "loop-b.ckpt")
    if not os.path.lexists(a):
        os.symlink(b, a)
        os.symlink(a, b)
    return a


def _write(folder, name: str, data: bytes) -> str:
    path = os.path.join(str(folder), name)
    with open(path, "wb") as f:
        f.write(data)
    return path


@pytest.fixture(scope="module")
def checkpoints(good_run, tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("crafted")
    return {name: build(good_run["data"], folder) for name, (build, _) in CHECKPOINTS.items()}


@pytest.mark.parametrize("front_end", FRONT_ENDS)
@pytest.mark.parametrize("case", CHECKPOINTS)
def test_a_crafted_checkpoint_is_refused_fast_by_every_loader(checkpoints, case, front_end, tmp_path):
    err = refused(front_end, checkpoints[case], tmp_path, *CHECKPOINTS[case][1])
    assert "could run code" not in err


def test_the_good_checkpoint_still_loads_everywhere(good_run, tmp_path):
    for front_end in ("sample", "export-torch", "export-safetensors"):
        code, err = _quietly(lambda f=front_end: FRONT_ENDS[f](good_run["path"], tmp_path))
        assert code == 0, (front_end, err)


# ====================================================================== crafted safetensors
def _safetensors(good_run, folder, name: str, *, config=None, tensors=None) -> str:
    from safetensors.torch import save

    good = str(folder / "good.safetensors")
    if not os.path.exists(good):
        export_safetensors(load_model(good_run["path"]), good)
    from safetensors import safe_open

    with safe_open(good, framework="pt") as f:
        meta, weights = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    if config is not None:
        meta["config"] = json.dumps({**json.loads(meta["config"]), **config})
    if tensors is not None:
        weights = tensors(weights)
    path = str(folder / name)
    with open(path, "wb") as f:
        f.write(save(weights, metadata=meta))
    return path


SAFETENSORS = {
    "hidden_size 100000": (dict(config={"hidden_size": 100_000}), ["hidden_size 100000"]),
    "hidden_size 20000": (dict(config={"hidden_size": 20_000}), ["hidden_size 20000"]),
    "hidden_size true": (dict(config={"hidden_size": True}), ["hidden_size True"]),
    "hidden_size 64, weights of 16": (dict(config={"hidden_size": 64}), ["has shape", "hidden size 64"]),
    "NaN weight": (dict(tensors=lambda w: {**w, "Uz": torch.full_like(w["Uz"], float("nan"))}),
                   ["weight Uz holds NaN or infinite numbers"]),
    "inf weight": (dict(tensors=lambda w: {**w, "by": torch.full_like(w["by"], float("inf"))}),
                   ["weight by holds NaN or infinite numbers"]),
}


@pytest.fixture(scope="module")
def safetensors_files(good_run, tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("st")
    return {name: _safetensors(good_run, folder, f"case{k}.safetensors", **kw)
            for k, (name, (kw, _)) in enumerate(SAFETENSORS.items())}


@pytest.mark.parametrize("front_end", SAFETENSORS_FRONT_ENDS)
@pytest.mark.parametrize("case", SAFETENSORS)
def test_safetensors_metadata_and_values_are_checked_against_the_tensors(safetensors_files, case,
                                                                         front_end, tmp_path):
    refused(front_end, safetensors_files[case], tmp_path, *SAFETENSORS[case][1])


# ====================================================================== data loss
@pytest.fixture
def text_file(tmp_path) -> Path:
    path = tmp_path / "T.txt"
    path.write_text(TEXT)
    return path


@pytest.mark.parametrize("flags", [
    ["--export-csv", "T.txt"], ["--save", "T.txt"], ["--export-json", "T.txt"], ["--save", "link"],
    ["--save", "hard"],
])
def test_no_output_of_train_may_replace_its_text(text_file, flags, monkeypatch):
    monkeypatch.chdir(text_file.parent)
    os.symlink("T.txt", "link")
    os.link("T.txt", "hard")
    code, err = _quietly(lambda: train_main(["--file", "T.txt", "--epochs", "1", *flags], out=io.StringIO()))
    assert code == 2 and "is the file --file reads" in err and err.count("\n") == 1, err
    assert text_file.read_text() == TEXT


def test_train_may_not_save_over_the_checkpoint_it_resumes(good_run, tmp_path):
    path = tmp_path / "run.ckpt"
    path.write_bytes(Path(good_run["path"]).read_bytes())
    before = path.read_bytes()
    code, err = _quietly(lambda: train_main(["--load", str(path), "--export-csv", str(path)],
                                            out=io.StringIO()))
    assert code == 2 and "is the file --load reads" in err, err
    assert path.read_bytes() == before


@pytest.mark.parametrize("main", [export_torch_main, export_safetensors_main], ids=["torch", "safetensors"])
@pytest.mark.parametrize("through", ["itself", "a symlink"])
def test_an_export_may_not_replace_its_own_checkpoint(good_run, tmp_path, main, through):
    path = tmp_path / "a.ckpt"
    path.write_bytes(Path(good_run["path"]).read_bytes())
    before = path.read_bytes()
    out = path
    if through == "a symlink":
        out = tmp_path / "link"
        out.symlink_to(path)
    code, err = _quietly(lambda: main([str(path), str(out)], out=io.StringIO()))
    assert code == 2 and "is the file CKPT reads" in err and err.count("\n") == 1, err
    assert path.read_bytes() == before


def test_a_read_only_target_is_refused_before_the_first_step(text_file, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    out = io.StringIO()
    code, err = _quietly(lambda: train_main(["--file", str(text_file), "--epochs", "30",
                                             "--save", str(text_file.parent / "run.ckpt")], out=out))
    assert code == 2 and "the file system is read-only" in err, err
    assert "Epoch:" not in out.getvalue() and "training on" not in out.getvalue()


# ====================================================================== smaller ones
@pytest.mark.parametrize("seed", ["99999999999999999999999", str(2**64), str(-2**63 - 1), "-1"])
def test_sample_seed_out_of_range_is_one_line(good_run, seed):
    code, err = _quietly(lambda: sample_main([good_run["path"], "--seed", seed], out=io.StringIO()))
    assert code == 2 and err.count("\n") == 1, err
    assert f"--seed must be a whole number from 0 to {2**63 - 1}" in err


def test_utf16_text_is_named_with_how_to_convert_it(tmp_path):
    for name, data in (("bom.txt", TEXT.encode("utf-16")), ("le.txt", TEXT.encode("utf-16-le"))):
        (tmp_path / name).write_bytes(data)
        code, err = _quietly(lambda n=name: train_main(["--file", str(tmp_path / n)], out=io.StringIO()))
        assert code == 2 and "is UTF-16 text, not UTF-8" in err and "iconv -f UTF-16 -t UTF-8" in err, err


def test_a_symlink_loop_as_the_text_is_named_a_loop(tmp_path):
    os.symlink(tmp_path / "b.txt", tmp_path / "a.txt")
    os.symlink(tmp_path / "a.txt", tmp_path / "b.txt")
    code, err = _quietly(lambda: train_main(["--file", str(tmp_path / "a.txt")], out=io.StringIO()))
    assert code == 2 and "is a loop of symbolic links" in err, err


def _python_m_tui(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tui", *args], cwd=ROOT, env=env, **kwargs)


def test_sample_into_a_closed_pipe_exits_141_quietly(good_run):
    proc = _python_m_tui("sample", good_run["path"], "--len", "100000",
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert len(proc.stdout.read(5)) == 5  # `| head -c 5`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and err == ""


def test_sigint_while_the_app_loads_exits_130_with_the_terminal_back():
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = _python_m_tui("--epochs", "100000", stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"\x1b[?1049h" not in seen:  # the app's first frame: torch loads after it
            assert time.monotonic() < deadline and proc.poll() is None, seen[-500:]
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 65536)
        proc.send_signal(signal.SIGINT)
        while proc.poll() is None:  # keep reading: a full pty would block the app's last frame
            assert time.monotonic() < deadline, "the app did not end on SIGINT"
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert proc.wait(timeout=30) == 130
        assert seen.rfind(b"\x1b[?1049l") > seen.rfind(b"\x1b[?1049h")  # the main screen is back
        assert b"Traceback" not in seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
