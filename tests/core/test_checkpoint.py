"""Checkpoints: a resumed run continues bit for bit; a bad file is refused and changes nothing."""

from __future__ import annotations

import errno
import os
import pickle

import pytest
import torch

from gru_core import GRUError, TrainConfig, Trainer, atomic
from gru_core import checkpoint as ck
from gru_core.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from gru_core.checkpoint_session import load_into_session, save_session
from gru_core.cli import train_main
from gru_core.history import History
from gru_core.session import TrainingSession

ZEN_LIKE = (
    "Beautiful is better than ugly.\nExplicit is better than implicit.\n"
    "Simple is better than complex.\nComplex is better than complicated.\n"
)



def config(**changes) -> TrainConfig:
    base = dict(text=ZEN_LIKE * 2, hidden_size=12, seq_len=6, batch_size=3, sample_prime="B",
                val_fraction=0.1, epochs=5)
    base.update(changes)
    return TrainConfig.default(**base)


def trained(cfg: TrainConfig, steps: int) -> tuple[Trainer, History]:
    trainer, history = Trainer(cfg), History()
    for _ in range(steps):
        history.add_step(trainer.step().loss, epoch_end=trainer.batch_index == 0)
        if trainer.batch_index == 0:
            history.add_val(trainer.step_count, trainer.evaluate())
    return trainer, history


@pytest.fixture
def saved(tmp_path):
    """A checkpoint of a small run, mid-epoch, and the path it is at."""
    trainer, history = trained(config(), 7)
    path = str(tmp_path / "run.pt")
    save_checkpoint(trainer, history, path)
    return trainer, history, path


# ---------------------------------------------------------------- resuming exactly
@pytest.mark.parametrize("optimizer, momentum", [("adam", 0.0), ("sgd", 0.9)])
@pytest.mark.parametrize("where", ["mid-epoch", "epoch start"])
def test_resumed_run_continues_bit_for_bit(tmp_path, optimizer, momentum, where):
    cfg = config(optimizer=optimizer, momentum=momentum, lr=0.02)
    probe = Trainer(cfg)
    steps = probe.num_batches + 3 if where == "mid-epoch" else 2 * probe.num_batches
    a, history = trained(cfg, steps)
    assert (a.batch_index != 0) == (where == "mid-epoch")
    path = str(tmp_path / "ck.pt")
    save_checkpoint(a, history, path)
    b, history_b = load_checkpoint(path)
    assert (b.step_count, b.epoch, b.batch_index) == (a.step_count, a.epoch, a.batch_index)
    assert torch.equal(b.h, a.h)
    # The next losses of the resumed run equal the uninterrupted run's, bit for bit.
    next_a = [a.step().loss for _ in range(a.num_batches + 2)]
    next_b = [b.step().loss for _ in range(b.num_batches + 2)]
    assert next_a == next_b
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    assert a.evaluate() == b.evaluate()
    # The sampling generator resumes too: the next random samples match.
    assert a.sample("B", 40) == b.sample("B", 40)
    assert history_b.to_dict() == history.to_dict()


def test_plain_pytorch_reads_the_article_named_weights(saved):
    trainer, _, path = saved
    data = torch.load(path, weights_only=True)
    assert set(data["model"]) == {"Wz", "Wr", "Wh", "Uz", "Ur", "Uh", "bz", "br", "bh", "Wy", "by"}
    assert torch.equal(data["model"]["Wz"], trainer.model.Wz.detach())
    assert torch.equal(data["model"]["Wy"], trainer.model.Wy.detach())
    assert data["vocab"] == trainer.vocab.chars
    assert data["config"]["hidden_size"] == 12
    assert data["version"] == FORMAT_VERSION


def test_loaded_config_history_and_gradients_match(saved):
    trainer, history, path = saved
    loaded, loaded_history = load_checkpoint(path)
    assert loaded.config == trainer.config.replace(vocab=trainer.vocab.chars)
    assert loaded.vocab == trainer.vocab
    assert loaded_history.losses == history.losses
    assert set(loaded.last_grads) == set(trainer.last_grads)
    assert all(torch.equal(loaded.last_grads[k], trainer.last_grads[k]) for k in trainer.last_grads)


def test_reset_after_model_with_bUh_round_trips(tmp_path):
    a, history = trained(config(reset="after", optimizer="adam"), 4)
    path = str(tmp_path / "after.pt")
    save_checkpoint(a, history, path)
    assert "bUh" in torch.load(path, weights_only=True)["model"]
    b, _ = load_checkpoint(path)
    assert a.step().loss == b.step().loss


# ---------------------------------------------------------------- never run code from the file
class _Marker:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').close()",))


def test_the_crafted_pickle_really_runs_code_when_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"format": "gru-tui-checkpoint", "model": _Marker(str(marker))})
    pickle.loads(payload)  # what an unsafe loader would do
    assert marker.exists()


@pytest.mark.parametrize("container", ["torch.save zip", "plain pickle"])
def test_a_checkpoint_built_to_run_code_is_refused_and_runs_nothing(tmp_path, saved, container):
    _, _, good = saved
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    if container == "torch.save zip":
        data = torch.load(good, weights_only=True)
        data["config"] = _Marker(str(marker))  # looks like a checkpoint in every other way
        torch.save(data, path)
    else:  # protocol 2 and no tensors, so the loader's first stumble is the exec itself
        data = {"format": "gru-tui-checkpoint", "version": 1, "config": _Marker(str(marker))}
        path.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(GRUError, match=r"refused.*\(exec\).*could run code") as info:
        load_checkpoint(str(path))
    assert not marker.exists()
    assert "Nothing was loaded" in str(info.value)


# ---------------------------------------------------------------- damaged files
@pytest.mark.parametrize("keep", [0.05, 0.5, 0.98])
def test_a_truncated_checkpoint_is_refused(tmp_path, saved, keep):
    _, _, good = saved
    data = open(good, "rb").read()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(GRUError, match="damaged or truncated"):
        load_checkpoint(str(cut))


def test_a_flipped_byte_in_the_middle_is_refused(tmp_path, saved):
    _, _, good = saved
    data = bytearray(open(good, "rb").read())
    # Damage the pickled dictionary's record inside the zip (it names the keys).
    at = data.find(b"data.pkl") + 60
    data[at:at + 20] = b"\xff" * 20
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(bytes(data))
    with pytest.raises(GRUError, match="cannot be loaded|not a readable checkpoint"):
        load_checkpoint(str(bad))


@pytest.mark.parametrize("content, message", [
    (b"", "is empty; it is not a gru-tui checkpoint"),
    (b"just some text, not a checkpoint",
     r"is not a gru-tui checkpoint \(it is not a zip archive.*a text file"),
])
def test_other_files_are_refused(tmp_path, content, message):
    path = tmp_path / "other.pt"
    path.write_bytes(content)
    with pytest.raises(GRUError, match=message):
        load_checkpoint(str(path))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(GRUError, match="no checkpoint at"):
        load_checkpoint(str(tmp_path / "nope.pt"))
    with pytest.raises(GRUError, match="is a directory"):
        load_checkpoint(str(tmp_path))


def test_plain_tensors_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"Wz": torch.zeros(3, 3)}, path)
    with pytest.raises(GRUError, match="not a gru-tui checkpoint"):
        load_checkpoint(str(path))


# ---------------------------------------------------------------- well-formed but wrong
def _rewrite(path: str, tmp_path, change) -> str:
    data = torch.load(path, weights_only=True)
    change(data)
    out = str(tmp_path / "changed.pt")
    torch.save(data, out)
    return out


def test_a_future_format_version_is_refused(tmp_path, saved):
    _, _, good = saved
    path = _rewrite(good, tmp_path, lambda d: d.update(version=FORMAT_VERSION + 1))
    with pytest.raises(GRUError, match=rf"format version {FORMAT_VERSION + 1}, by a newer gru-tui"):
        load_checkpoint(path)


def test_weights_from_another_vocabulary_are_refused(tmp_path, saved):
    _, _, good = saved
    other, _ = trained(config(text="0123456789 abcdef " * 8, sample_prime="0"), 2)
    path = _rewrite(good, tmp_path, lambda d: d.update(model=other.model.state_dict()))
    V = len(set(ZEN_LIKE))
    with pytest.raises(GRUError, match=rf"weight Wz has shape \(17, 12\), but its vocabulary of {V} "):
        load_checkpoint(path)


def test_a_vocabulary_that_disagrees_with_the_config_is_refused(tmp_path, saved):
    _, _, good = saved
    path = _rewrite(good, tmp_path, lambda d: d.update(vocab=d["vocab"][::-1]))
    with pytest.raises(GRUError, match="vocabulary .* does not match"):
        load_checkpoint(path)


def test_a_config_text_outside_its_vocabulary_is_refused(tmp_path, saved):
    _, _, good = saved
    path = _rewrite(good, tmp_path, lambda d: d["config"].update(text=d["config"]["text"] + "~"))
    with pytest.raises(GRUError, match="config is invalid: vocab .* lacks characters"):
        load_checkpoint(path)


def test_weights_of_another_hidden_size_are_refused(tmp_path, saved):
    _, _, good = saved
    path = _rewrite(good, tmp_path, lambda d: d["model"].update(Uh=torch.zeros(8, 8)))
    with pytest.raises(GRUError, match=r"weight Uh has shape \(8, 8\).*need \(12, 12\)"):
        load_checkpoint(path)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(h=torch.zeros(2, 12)), r"hidden state has shape \(2, 12\)"),
    (lambda d: d["progress"].update(batch_index=10_000), "batch index 10000 is past"),
    (lambda d: d["progress"].update(step=-1), "step -1 is not a count"),
    (lambda d: d["model"].pop("Wy"), "lack Wy"),
    (lambda d: d.pop("optimizer"), "lacks optimizer"),
    (lambda d: d["config"].update(hidden_size=0), "config is invalid: hidden_size"),
    (lambda d: d["config"].update(colour="red"), "fields this gru-tui does not know: colour"),
    (lambda d: d.update(sample_rng=torch.zeros(3, dtype=torch.uint8)), "random state is damaged"),
    (lambda d: d["optimizer"]["state"][0].update(exp_avg=torch.zeros(2, 2)),
     "optimizer's exp_avg has shape"),
    (lambda d: d["config"].update(optimizer="sgd"), "optimizer state is not sgd's"),
])
def test_inconsistent_parts_are_refused_by_name(tmp_path, saved, change, message):
    _, _, good = saved
    with pytest.raises(GRUError, match=message):
        load_checkpoint(_rewrite(good, tmp_path, change))


def test_a_gpu_checkpoint_resumes_on_the_cpu(tmp_path, saved):
    trainer, _, good = saved
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    path = _rewrite(good, tmp_path, lambda d: d["config"].update(device="cuda"))
    loaded, _ = load_checkpoint(path)
    assert loaded.device.type == "cpu"
    assert loaded.step().loss == trainer.step().loss


# ---------------------------------------------------------------- atomic saving
def _leftovers(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def test_an_interrupted_rename_leaves_the_old_checkpoint_loadable(tmp_path, saved, monkeypatch):
    trainer, history, path = saved
    old_step = trainer.step_count
    history.add_step(trainer.step().loss)

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full_disk)  # the atomic save renames with it
    with pytest.raises(GRUError, match="disk is full.*earlier file there is unchanged"):
        save_checkpoint(trainer, history, path)
    monkeypatch.undo()
    assert load_checkpoint(path)[0].step_count == old_step
    assert _leftovers(tmp_path) == []


def test_a_write_that_dies_midway_leaves_the_old_checkpoint_loadable(tmp_path, saved, monkeypatch):
    trainer, history, path = saved
    old_step = trainer.step_count
    history.add_step(trainer.step().loss)
    real_save = torch.save

    def dies_midway(obj, f):
        real_save(obj, f)
        f.seek(f.tell() // 2)
        f.truncate()
        raise KeyboardInterrupt  # a crash part-way, not an OSError

    monkeypatch.setattr(ck.torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(trainer, history, path)
    monkeypatch.undo()
    assert load_checkpoint(path)[0].step_count == old_step
    assert _leftovers(tmp_path) == []


def test_a_read_only_folder_is_a_clear_error(tmp_path, saved, monkeypatch):
    trainer, history, _ = saved

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(GRUError, match="permission denied"):
        save_checkpoint(trainer, history, str(tmp_path / "new.pt"))
    assert not (tmp_path / "new.pt").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_by_mode(tmp_path, saved):
    trainer, history, _ = saved
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(GRUError, match="permission denied"):
            save_checkpoint(trainer, history, str(folder / "new.pt"))
    finally:
        folder.chmod(0o700)


def test_save_to_a_directory_or_missing_folder_is_refused(tmp_path, saved):
    trainer, history, _ = saved
    with pytest.raises(GRUError, match="is a directory"):
        save_checkpoint(trainer, history, str(tmp_path))
    with pytest.raises(GRUError, match="does not exist"):
        save_checkpoint(trainer, history, str(tmp_path / "no" / "such" / "ck.pt"))


def test_saving_over_an_old_checkpoint_replaces_it(saved):
    trainer, history, path = saved
    history.add_step(trainer.step().loss)
    save_checkpoint(trainer, history, path)
    assert load_checkpoint(path)[0].step_count == trainer.step_count


# ---------------------------------------------------------------- sessions
def test_save_session_then_resume_gives_the_sessions_next_loss(tmp_path):
    path = str(tmp_path / "session.pt")
    with TrainingSession(config(), max_rate=1000) as session:
        for n in (1, 2, 3):
            session.step()
            session.wait_for(lambda s, n=n: s.step == n and s.state == "paused", timeout=20)
        save_session(session, path)
        session.step()
        after = session.wait_for(lambda s: s.step == 4, timeout=20)
    resumed, history = load_checkpoint(path)
    assert resumed.step_count == 3 and len(history.losses) == 3
    assert resumed.step().loss == after.loss


def test_save_session_while_running_is_consistent(tmp_path):
    path = str(tmp_path / "running.pt")
    with TrainingSession(config(epochs=10_000), max_rate=1000) as session:
        session.start()
        session.wait_for(lambda s: s.step >= 5, timeout=20)
        save_session(session, path)
        session.pause()
    trainer, history = load_checkpoint(path)
    assert trainer.step_count >= 5
    assert len(history.losses) == trainer.step_count


def test_load_into_session_adopts_the_run_and_a_bad_file_changes_nothing(tmp_path, saved):
    trainer, _, good = saved
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(open(good, "rb").read()[:500])
    with TrainingSession(config(hidden_size=5), max_rate=1000) as session:
        session.step()
        before = session.wait_for(lambda s: s.step == 1, timeout=20)
        with pytest.raises(GRUError, match="damaged or truncated"):
            load_into_session(session, str(truncated))
        session.step()
        still = session.wait_for(lambda s: s.step == 2, timeout=20)
        assert still.config == before.config and session.alive
        assert load_into_session(session, good).hidden_size == 12
        adopted = session.wait_for(lambda s: s.step == trainer.step_count, timeout=20)
        assert adopted.state == "paused" and adopted.config.hidden_size == 12
        assert len(adopted.losses) == trainer.step_count
        session.step()
        nxt = session.wait_for(lambda s: s.step == trainer.step_count + 1, timeout=20)
    assert nxt.loss == trainer.step().loss


def test_a_failed_session_save_is_reported_and_training_goes_on(tmp_path):
    with TrainingSession(config(), max_rate=1000) as session:
        with pytest.raises(GRUError, match="is a directory"):
            save_session(session, str(tmp_path))
        session.step()
        snap = session.wait_for(lambda s: s.step == 1, timeout=20)
        assert snap.state == "paused" and session.alive


def test_cli_load_of_a_truncated_checkpoint_is_one_line_and_exit_2(tmp_path, saved, capsys):
    _, _, good = saved
    cut = tmp_path / "cut.pt"
    cut.write_bytes(open(good, "rb").read()[:300])
    assert train_main(["--load", str(cut)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gru-tui: error: ") and "damaged or truncated" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_gpu_run_resumes_on_the_gpu_and_on_the_cpu(tmp_path):
    a, history = trained(config(device="cuda", optimizer="adam"), 5)
    path = str(tmp_path / "gpu.pt")
    save_checkpoint(a, history, path)
    assert torch.load(path, weights_only=True)["model"]["Wz"].device.type == "cpu"
    on_gpu, _ = load_checkpoint(path)
    on_cpu, _ = load_checkpoint(path, device="cpu")
    assert on_gpu.device.type == "cuda" and on_cpu.device.type == "cpu"
    expected = a.step().loss  # forward from the saved state: the same numbers on the same device
    assert on_gpu.step().loss == expected
    assert on_cpu.step().loss == pytest.approx(expected, rel=1e-5)
    assert on_gpu.step().loss == pytest.approx(a.step().loss, rel=1e-5)


def test_which_weights_were_saved_is_said_without_any_front_ends_key():
    """gru_core says the best weights were left out; the app (its key) and the CLI (its flag)
    each say how to put them in the file."""
    from gru_core.checkpoint_session import describe_weights
    from gru_core.cli import KEEP_BEST

    trainer, _ = trained(config(), 3)
    trainer.best_state = {k: v.clone() + 1 for k, v in trainer.model.state_dict().items()}
    trainer.best_step, trainer.best_val = 1, 2.5
    saved = describe_weights(trainer)
    assert saved.best_left_out
    assert saved.words == ("the current weights of step 3; the best (val 2.5000 at step 1) are not "
                           "in the file")
    assert saved.line(KEEP_BEST) == saved.words + ": save without --save-last to keep them"
    trainer.best_state = {k: v.clone() for k, v in trainer.model.state_dict().items()}  # restored
    saved = describe_weights(trainer)
    assert not saved.best_left_out and saved.line(KEEP_BEST) == saved.words
    assert saved.words.startswith("the best weights, val 2.5000 from step 1 (restored")
