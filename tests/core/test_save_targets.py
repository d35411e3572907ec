"""Where a save may go (gru_core/atomic.py): symlinks are followed, FIFOs, devices and empty
paths refused, a full disk said in words with the old file intact, a killed save's
temporary file cleaned up by the next save. The CLI and the app's ctrl+s/ctrl+e share it."""

from __future__ import annotations

import os
import stat

import pytest

from gru_core import GRUError, TrainConfig, Trainer, atomic
from gru_core.checkpoint import load_checkpoint, save_checkpoint
from gru_core.export import export_loss_csv
from gru_core.history import History


@pytest.fixture(scope="module")
def run():
    trainer, history = Trainer(TrainConfig.article()), History()
    for r in trainer.run_epoch():
        history.add_step(r.loss)
    return trainer, history


def _tmp_files(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


def test_a_save_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path, run):
    trainer, history = run
    real = tmp_path / "run3.ckpt"
    real.write_bytes(b"old")
    link = tmp_path / "latest.ckpt"
    link.symlink_to(real.name)
    save_checkpoint(trainer, history, str(link))
    assert link.is_symlink() and os.readlink(link) == real.name
    assert load_checkpoint(str(real))[0].step_count == trainer.step_count
    export_loss_csv(history, str(link))
    assert link.is_symlink() and real.read_text().startswith("step,loss")


def test_a_dangling_symlink_creates_its_target(tmp_path, run):
    trainer, history = run
    link = tmp_path / "latest.ckpt"
    link.symlink_to("new.ckpt")
    save_checkpoint(trainer, history, str(link))
    assert link.is_symlink() and (tmp_path / "new.ckpt").is_file()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_and_left_as_it_was(tmp_path, run):
    trainer, history = run
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(GRUError, match="is a FIFO .*not a regular file"):
        save_checkpoint(trainer, history, str(fifo))
    with pytest.raises(GRUError, match="is a FIFO"):
        export_loss_csv(history, str(fifo))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert _tmp_files(tmp_path) == []


def test_a_character_device_is_refused(tmp_path, run):
    trainer, history = run
    device = tmp_path / "null"
    try:  # a /dev/null of our own (major 1, minor 3), so a failure cannot touch the real one
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (OSError, AttributeError):
        pytest.skip("cannot make a device node here (not root)")
    with pytest.raises(GRUError, match="is a character device"):
        save_checkpoint(trainer, history, str(device))
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    with pytest.raises(GRUError, match="is a character device"):
        atomic.check_save_target("/dev/null", what="checkpoint")


def test_an_empty_path_is_refused(run):
    trainer, history = run
    with pytest.raises(GRUError, match="a path to save the checkpoint to is needed"):
        save_checkpoint(trainer, history, "")


def test_a_full_disk_says_so_and_leaves_the_old_file(tmp_path, monkeypatch):
    # weights of 1 MB: torch's zip writer meets the full disk itself (not a final flush)
    trainer, history = Trainer(TrainConfig.article(hidden_size=512)), History()
    path = tmp_path / "ck.pt"
    path.write_bytes(b"the old checkpoint")
    real_mkstemp = atomic.tempfile.mkstemp

    def onto_dev_full(**kwargs):  # the temporary file exists, but its writes hit a full disk
        fd, name = real_mkstemp(**kwargs)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), name

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    monkeypatch.setattr(atomic.tempfile, "mkstemp", onto_dev_full)
    with pytest.raises(GRUError, match="the disk is full; any earlier file there is unchanged"):
        save_checkpoint(trainer, history, str(path))  # torch's zip writer wraps the ENOSPC
    with pytest.raises(GRUError, match="the disk is full"):
        export_loss_csv(history, str(path))
    assert path.read_bytes() == b"the old checkpoint"
    assert _tmp_files(tmp_path) == []


def test_a_killed_saves_temporary_file_is_removed_by_the_next_save(tmp_path, run):
    trainer, history = run
    stray = tmp_path / ".ck.pt.a1b2c3d4.tmp"  # what mkstemp names it; a kill -9 leaves it
    stray.write_bytes(b"half a checkpoint")
    other = tmp_path / ".other.pt.a1b2c3d4.tmp"  # another file's: not ours to remove
    other.write_bytes(b"x")
    save_checkpoint(trainer, history, str(tmp_path / "ck.pt"))
    assert _tmp_files(tmp_path) == [other.name]
