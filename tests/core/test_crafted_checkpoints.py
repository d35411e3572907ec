"""Crafted checkpoints: every part a file could change to break, hang or crash a run is
refused at load with one GRUError line, before anything is built or trained."""

from __future__ import annotations

import math
import sys
import time
import zipfile

import pytest
import torch

from gru_core import GRUError, TrainConfig, Trainer
from gru_core.checkpoint import checkpoint_dict, load_checkpoint
from gru_core.history import History


def _fresh(optimizer: str = "adam") -> dict:
    trainer, history = Trainer(TrainConfig.article(optimizer=optimizer, momentum=0.9)), History()
    for r in trainer.run_epoch():
        history.add_step(r.loss)
    return checkpoint_dict(trainer, history)


def _save(tmp_path, data, name="crafted.pt") -> str:
    path = str(tmp_path / name)
    torch.save(data, path)
    return path


def _nested(depth: int) -> list:
    out: list = []
    for _ in range(depth):
        out = [out]
    return out


def _set_lr(value):
    def change(d):
        d["optimizer"]["param_groups"][0]["lr"] = value
    return change


def _first_state(d) -> dict:
    return next(iter(d["optimizer"]["state"].values()))


CASES = {
    "sparse weight": (lambda d: d["model"].update(Wz=d["model"]["Wz"].to_sparse()), "sparse"),
    "meta hidden state": (lambda d: d.update(h=torch.empty(d["h"].shape, device="meta")), "meta tensor"),
    "lr as a string": (_set_lr("0.01"), r"optimizer's lr is '0.01'"),
    "lr NaN": (_set_lr(math.nan), "optimizer's lr is nan"),
    "lr out of range": (_set_lr(1e9), "optimizer's lr is 1000000000.0; it must be a number above 0"),
    "betas NaN": (lambda d: d["optimizer"]["param_groups"][0].update(betas=(math.nan, 0.999)), "betas"),
    "amsgrad switched on": (lambda d: d["optimizer"]["param_groups"][0].update(amsgrad=True),
                            "amsgrad is True; gru-tui uses False"),
    "a renamed optimizer key": (lambda d: _first_state(d).update(exp_avgX=_first_state(d).pop("exp_avg")),
                                "optimizer state has 'exp_avgX'"),
    "a string moment": (lambda d: _first_state(d).update(exp_avg_sq="big"), "exp_avg_sq is str"),
    "NaN weights": (lambda d: d["model"]["Wz"].__setitem__((0, 0), math.nan), "Wz holds NaN or infinite"),
    "inf weights": (lambda d: d["model"]["by"].__setitem__(0, math.inf), "by holds NaN or infinite"),
    "inf hidden state": (lambda d: d["h"].__setitem__((0, 0), -math.inf), "hidden state holds NaN"),
    "NaN optimizer moment": (lambda d: _first_state(d)["exp_avg"].fill_(math.nan), "exp_avg holds NaN"),
    "a renamed progress key": (lambda d: d["progress"].update(stepX=d["progress"].pop("step")),
                               "its step None is not a count"),
    "deep nesting": (lambda d: d["history"].update(losses=_nested(5000)), "nest more than 32 deep"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_crafted_checkpoint_is_refused_at_load_with_one_line(tmp_path, case):
    change, message = CASES[case]
    data = _fresh()
    change(data)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))  # only so pickle can write the deep one
    try:
        path = _save(tmp_path, data)
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(GRUError, match=message) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and "Nothing was" in str(info.value)


def test_sgd_momentum_as_a_string_is_refused(tmp_path):
    data = _fresh("sgd")
    data["optimizer"]["param_groups"][0]["momentum"] = "0.9"
    with pytest.raises(GRUError, match="optimizer's momentum is '0.9'"):
        load_checkpoint(_save(tmp_path, data))


def test_an_untouched_checkpoint_still_loads_and_trains(tmp_path):
    for optimizer in ("adam", "sgd"):
        trainer, _ = load_checkpoint(_save(tmp_path, _fresh(optimizer), f"{optimizer}.pt"))
        assert math.isfinite(trainer.step().loss)


def test_a_zip_bomb_is_refused_from_the_zip_directory_before_inflating(tmp_path):
    data = _fresh()
    good = _save(tmp_path, data, "good.pt")
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))  # stored, as torch writes them
        out.writestr("crafted/data/99", b"\0" * (256 << 20), compress_type=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 2 << 20  # 256 MiB of zeros deflate to well under 2 MiB
    t0 = time.perf_counter()
    with pytest.raises(GRUError, match=r"would inflate to 268,4\d\d,\d\d\d bytes.*zip bomb"):
        load_checkpoint(str(bomb))
    assert time.perf_counter() - t0 < 2.0  # the directory only: no 256 MiB read


def test_a_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("MathMathMath\n" * 10)
    with pytest.raises(GRUError, match=r"is not a gru-tui checkpoint .*a text file"):
        load_checkpoint(str(path))
