"""The one loader rule under random files: checkpoints and safetensors with random structure,
shapes and metadata, through every loader (load_checkpoint: train --load, the app's --load and
ctrl+o; load_model: sample and the exports). Each load either succeeds or is one GRUError,
within 2 s; and a process that loads every file generated keeps its peak memory within the
largest file's size (times a small factor) plus a fixed margin."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gru_core.checkpoint import load_checkpoint
from gru_core.errors import GRUError
from gru_core.model import PARAM_NAMES
from gru_core.portable import load_model

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
SECONDS = 2.0
MARGIN = 96 << 20  # the loaders' own working memory: a Trainer, the zip reader, Python objects
NAMES = (*PARAM_NAMES, "bUh")

_generated: list[str] = []  # every file the fuzzers wrote: the memory check loads them all


def _load_everywhere(path: str) -> None:
    for load in (load_checkpoint, load_model):
        start = time.perf_counter()
        try:
            load(path)
        except GRUError:
            pass
        took = time.perf_counter() - start
        assert took < SECONDS, f"{load.__name__}({path}) took {took:.2f} s"


# ====================================================================== checkpoints
big_ints = st.one_of(st.integers(-3, 70), st.sampled_from([0, 1, 2**31, 10**5, 20_000, 2**63, -(2**63)]))
shapes = st.lists(st.one_of(st.integers(0, 6), st.sampled_from([10**9, 2**40, 100_000])), max_size=3)


@st.composite
def tensors(draw):
    shape = draw(shapes)
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.int64, torch.float16, torch.bool]))
    base = torch.zeros((), dtype=dtype) if draw(st.booleans()) else torch.full((), float("nan")).to(dtype)
    if draw(st.booleans()):
        try:
            return base.expand(*shape) if shape else base  # a view the file stores one number of
        except RuntimeError:  # more numbers than an int64 counts
            return base
    small = [min(n, 6) for n in shape]
    return torch.zeros(small, dtype=dtype)


leaves = st.one_of(st.none(), st.booleans(), big_ints, st.floats(), st.text(max_size=8), tensors())


@st.composite
def structures(draw, depth: int = 0):
    """Random containers; `shared` repeats one child many times, as a pickle's memo allows."""
    if depth > 3 or draw(st.booleans()):
        return draw(leaves)
    kind = draw(st.sampled_from(["list", "dict", "tuple", "shared"]))
    children = [draw(structures(depth + 1)) for _ in range(draw(st.integers(0, 3)))]
    if kind == "shared":
        return [children[0] if children else [1.0]] * draw(st.sampled_from([2, 100, 1000]))
    if kind == "dict":
        return {f"k{i}": c for i, c in enumerate(children)}
    return children if kind == "list" else tuple(children)


@st.composite
def mutations(draw, good: dict) -> dict:
    data = {**good, "config": dict(good["config"]), "model": dict(good["model"]),
            "history": dict(good["history"]), "progress": dict(good["progress"])}
    places = ["top", "config", "model", "history", "progress", "optimizer", "h"]
    wheres = draw(st.lists(st.sampled_from(places), min_size=1, max_size=3))
    for where in sorted(wheres, key=lambda w: w == "top"):  # "top" last: it may replace a part
        if where == "top":
            data[draw(st.sampled_from([*good, "zz"]))] = draw(structures())
        elif where == "config":
            key = draw(st.sampled_from(["hidden_size", "batch_size", "seq_len", "reset", "vocab",
                                        "optimizer", "text", "lr", "epochs", "zz"]))
            data["config"][key] = draw(leaves)
        elif where == "model":
            data["model"][draw(st.sampled_from(NAMES))] = draw(tensors())
        elif where == "history":
            data["history"][draw(st.sampled_from(["losses", "epoch_losses", "epoch_steps",
                                                  "val_losses"]))] = draw(structures())
        elif where == "progress":
            data["progress"][draw(st.sampled_from(["step", "epoch", "batch_index"]))] = draw(leaves)
        elif where == "optimizer":
            state = {k: dict(v) for k, v in good["optimizer"]["state"].items()}
            key = draw(st.sampled_from(sorted(state)))
            state[key][draw(st.sampled_from(["step", "exp_avg", "exp_avg_sq"]))] = draw(tensors())
            data["optimizer"] = {**good["optimizer"], "state": state}
        else:
            data["h"] = draw(tensors())
    return data


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


LONG = settings(FUZZ, max_examples=600)  # the benchmark-sized run: pytest -m slow tests/attacks
RUNS = pytest.mark.parametrize("run", [pytest.param(FUZZ, id="ci"),
                                       pytest.param(LONG, id="long", marks=pytest.mark.slow)])


@RUNS
def test_random_checkpoints_answer_fast(good_run, folder, run):
    @run
    @given(data=mutations(good_run["data"]))
    def one(data):
        path = str(folder / f"c{len(_generated)}.ckpt")
        try:
            torch.save(data, path)
        except (RuntimeError, TypeError, ValueError):
            return  # torch cannot write it, so no file can hold it either
        _generated.append(path)
        _load_everywhere(path)

    one()


# ====================================================================== safetensors
_ST_DTYPES = ["F32", "F64", "F16", "BF16", "I32", "I64", "BOOL", "U8", "F8_E4M3"]
_BYTES = {"F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I32": 4, "I64": 8, "BOOL": 1, "U8": 1, "F8_E4M3": 1}


@st.composite
def safetensors_files(draw) -> bytes:
    """A header written by hand (so it may lie about shapes and offsets), then some bytes."""
    vocab = draw(st.one_of(st.just("Mathe"), st.text(min_size=0, max_size=6)))
    hidden = draw(st.one_of(big_ints, st.booleans(), st.none(), st.text(max_size=3), st.floats()))
    config = {"hidden_size": hidden, "reset": draw(st.sampled_from(["before", "after", "sideways", 1]))}
    meta = {"format": "gru-tui-weights", "version": draw(st.sampled_from(["1", "1", "2", "x"])),
            "vocab": json.dumps(vocab), "config": json.dumps(config),
            "step": draw(st.sampled_from(["0", "5", "-1", "1e9", "x"]))}
    header: dict = {"__metadata__": meta}
    offset = 0
    for name in draw(st.lists(st.sampled_from([*NAMES, "extra"]), unique=True, max_size=12)):
        dtype = draw(st.sampled_from(_ST_DTYPES))
        shape = draw(st.lists(st.one_of(st.integers(0, 6), st.sampled_from([10**9, 20_000, 5])), max_size=2))
        honest = 1
        for n in shape:
            honest *= n
        size = honest * _BYTES[dtype] if draw(st.booleans()) else draw(st.integers(0, 64))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    length = len(raw) if draw(st.booleans()) else draw(st.sampled_from([0, 1, 10**12, len(raw) + 8]))
    body = bytes(min(offset, 1 << 16)) if draw(st.booleans()) else b"\x7f\xc0" * 64  # NaN-ish float16s
    return struct.pack("<Q", length) + raw + body


@RUNS
def test_random_safetensors_answer_fast(folder, run):
    @run
    @given(blob=safetensors_files())
    def one(blob):
        path = str(folder / f"s{len(_generated)}.safetensors")
        with open(path, "wb") as f:
            f.write(blob)
        _generated.append(path)
        _load_everywhere(path)

    one()


# ====================================================================== memory
_PEAK = """
import resource, sys, time
from gru_core.checkpoint import load_checkpoint
from gru_core.errors import GRUError
from gru_core.portable import load_model
paths = sys.argv[2:]
for load in (load_checkpoint, load_model):  # warm up: torch's and the loaders' own memory
    try:
        load(sys.argv[1])
    except GRUError:
        pass
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for path in paths:
    for load in (load_checkpoint, load_model):
        try:
            load(path)
        except GRUError:
            pass
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)
"""


def test_loading_every_generated_file_keeps_memory_to_the_files_size(good_run):
    """Run after the fuzzers (same module, declared after them): one process loads every file
    they wrote; its peak RSS over a warmed-up loader stays within the largest file's size
    (x4: a tensor read, then copied into the run) plus MARGIN."""
    if not _generated:
        pytest.skip("the fuzz tests did not run")
    done = subprocess.run([sys.executable, "-c", _PEAK, good_run["path"], *_generated], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    grown = int(done.stdout.strip().splitlines()[-1])
    largest = max(os.path.getsize(p) for p in _generated)
    print(f"{len(_generated)} files, largest {largest:,} bytes: peak RSS grew {grown:,} bytes")
    assert grown <= 4 * largest + MARGIN, f"peak RSS grew {grown:,} bytes; largest file {largest:,}"
