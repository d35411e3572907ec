"""FileActions: checkpoints and exports in the app (ctrl+s, ctrl+o, ctrl+e).

A mixin of GRUApp, which provides `session`, `shown` (the snapshot on screen) and
`initial_config`. Each key asks for a path in a PathDialog, then does the work in a
thread worker (training waits at most one batch for a save) and posts FileDone, shown
as a notification and kept in `file_message`:

    ctrl+s   save_session: weights, optimizer, progress, RNG and history, atomically; the
             path proposed is a new file, and replacing one already there asks first (y)
    ctrl+o   load_into_session: the file is checked first; a refused one changes nothing
    ctrl+e   the loss history as PATH-loss.csv, the batch on screen as PATH-batch.json
    ctrl+t   the model as PATH.safetensors, and PATH.pt for torch.nn.GRU (reset after)

Every save asks before it replaces a file already there (ReplaceDialog, y replaces).

Served to a browser (`gru-tui serve`), each file is written in the tab's own temporary
folder and sent to the browser as a download (Textual's deliver_text / deliver_binary),
and files are opened from the served folder only (tui/confine.py checks every path).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from textual import work

from gru_core.errors import GRUError
from gru_core.printable import visible

from . import confine
from .closing import while_open
from .keys import key_for
from .messages import FileDone
from .screens.path_dialog import PathDialog, ReplaceDialog

if TYPE_CHECKING:
    from gru_core.session import Snapshot


class FileActions:
    """Save, load and export; mixed into GRUApp."""

    file_message: str = ""  # the last save / load / export's outcome
    saved_path: str = ""  # the last checkpoint saved (ctrl+o proposes it)

    def default_path(self, suffix: str) -> str:
        config = self.shown.config if self.shown is not None else self.initial_config
        return f"./gru-tui-{visible(config.preset)}{suffix}"

    def free_path(self, suffix: str, base: str | None = None) -> str:
        """The default path, numbered (-2, -3, …) past files already there: a save proposes a new file."""
        base = self.default_path("") if base is None else base
        path, k = f"{base}{suffix}", 2
        while os.path.lexists(path) and k < 1000:
            path, k = f"{base}-{k}{suffix}", k + 1
        return path

    def checkpoint_base(self) -> str:
        """char-rnn's naming, ./gru-tui-step900-val2.80 (+ .ckpt): saves at other steps do not collide."""
        from gru_core.checkpoint import checkpoint_name

        snap = self.shown
        if snap is None:
            return self.default_path("")
        # a val loss names only the weights it was measured on: `-val0.94` on step 14,124's
        # weights, scored at an earlier step, claimed a figure no one measured
        val_step, val = snap.val_losses[-1] if len(snap.val_losses) else (None, None)
        return "./" + checkpoint_name(snap.step, val if val_step == snap.step else None, suffix="")

    def action_save(self) -> None:
        if self.session is not None and not isinstance(self.screen, (PathDialog, ReplaceDialog)):
            proposed = self.free_path(".ckpt", self.checkpoint_base())
            self.push_screen(PathDialog("save a checkpoint to", proposed, suffix=".ckpt",
                                        check=confine.writable), self.save_asked)

    def save_asked(self, path: str | None) -> None:
        """A path from the dialog: save, asking first when a file is already there."""
        if path:
            self.unless_replacing([path], lambda: self.save_to(path), "not saved")

    def unless_replacing(self, paths: list[str], write, refused: str) -> None:
        """The one rule for every save in the app: write() at once when none of `paths` exists,
        else only after y in a ReplaceDialog naming those that do."""
        there = [p for p in paths if os.path.lexists(p)]
        if not there:
            write()
            return

        def replace(yes: bool | None) -> None:
            if yes:
                write()
            else:
                kept = " and ".join(there)
                was = "it was" if len(there) == 1 else "they were"
                self.post_message(FileDone(f"{refused}: {kept} kept as {was}"))

        self.push_screen(ReplaceDialog(*there), replace)

    def newest_checkpoint(self) -> str:
        """What ctrl+o proposes: the checkpoint saved last here, else the newest .ckpt in the
        current folder, else the default name (it proposed ./gru-tui-<preset>.ckpt, a name
        no save writes any more)."""
        if self.saved_path and os.path.isfile(self.saved_path):
            return self.saved_path
        try:
            found = [entry for entry in os.scandir(".") if entry.name.endswith(".ckpt") and entry.is_file()]
        except OSError:
            found = []
        if found:
            return "./" + max(found, key=lambda entry: entry.stat().st_mtime).name
        return self.default_path(".ckpt")

    def action_load(self) -> None:
        if self.session is not None and not isinstance(self.screen, (PathDialog, ReplaceDialog)):
            self.push_screen(PathDialog("load a checkpoint from (replaces this run)",
                                        self.newest_checkpoint(), browse="open", suffix=".ckpt",
                                        check=confine.readable),
                             lambda path: path and self.load_from(path))

    def action_export(self) -> None:
        snap = self.shown
        if snap is None or isinstance(self.screen, (PathDialog, ReplaceDialog)):
            return
        self.push_screen(PathDialog("export: loss history as PATH-loss.csv, this batch as PATH-batch.json",
                                    self.default_path(""), check=confine.writable),
                         lambda base: base and self.export_asked(base, snap))

    def export_asked(self, base: str, snap: Snapshot) -> None:
        files = [f"{base}-loss.csv"] + ([f"{base}-batch.json"] if snap.trace is not None else [])
        self.unless_replacing(files, lambda: self.export_to(base, snap), "not exported")

    def action_export_model(self) -> None:
        if self.session is None or isinstance(self.screen, (PathDialog, ReplaceDialog)):
            return
        base = self.checkpoint_base()
        self.push_screen(PathDialog("export the model: PATH.safetensors (weights, no pickle) and, "
                                    "for reset after, PATH.pt for torch.nn.GRU", base,
                                    check=confine.writable),
                         self.export_model_asked)

    def export_model_asked(self, base: str | None) -> None:
        if not base:
            return
        config = self.shown.config if self.shown is not None else self.initial_config
        files = [f"{base}.safetensors"] + ([f"{base}.pt"] if config.reset == "after" else [])
        self.unless_replacing(files, lambda: self.export_model_to(base), "not exported")

    @work(thread=True, exclusive=True, exit_on_error=False, group="files")
    def export_model_to(self, base: str) -> None:
        from gru_core.portable import export_safetensors, export_torch, saved_from_trainer

        session = self.session
        if session is None:
            return
        try:
            saved = session.with_trainer(saved_from_trainer)  # a copy, between two steps
            files = [f"{base}.safetensors"]
            export_safetensors(saved, files[0])
            if saved.model.reset == "after":
                files.append(f"{base}.pt")
                export_torch(saved, files[1])
                note = ""
            else:
                note = (" (no .pt: the reset-before GRU has no torch.nn.GRU equivalent; "
                        "train with reset after for one)")
        except GRUError as exc:
            self.post_message(FileDone(f"not exported: {exc}", error=True))
            return
        self.post_message(FileDone(f"exported the model at step {saved.step} to {' and '.join(files)}{note}",
                                   files=tuple(files)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="files")
    def save_to(self, path: str) -> None:
        from gru_core.checkpoint_session import save_session

        session = self.session
        if session is None:
            return
        try:
            weights = save_session(session, path)
        except GRUError as exc:
            self.post_message(FileDone(f"not saved: {exc}", error=True))
            return
        self.saved_path = path
        restore = f"{key_for('restore_best')} restores them, then {key_for('save')} saves them"
        self.post_message(FileDone(f"saved checkpoint to {path}: {weights.line(restore)}", files=(path,)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="files")
    def load_from(self, path: str) -> None:
        from gru_core.checkpoint_session import load_into_session

        session = self.session
        if session is None:
            return
        before = session.snapshot().run_id
        try:
            config = load_into_session(session, path)  # checked first: a refused file changes nothing
        except GRUError as exc:
            self.post_message(FileDone(f"not loaded: {exc}", error=True))
            return
        # The loaded run's first snapshot, or a later run's: a reset or Apply right after the
        # load (keys typed on) replaces it before it is published, and waiting for it alone
        # timed out (a worker error; the key storm found it). Taken together by the worker,
        # the load and the reset make one new run (before + 1), with the reset's config.
        snap = session.wait_for(lambda s: s.config is config or s.run_id > before, 10.0)
        if snap.config is not config:
            self.post_message(FileDone(f"loaded {path}; a later command has replaced that run since"))
            return
        self.post_message(FileDone(f"loaded {path}: step {snap.step}, epoch {snap.epoch} "
                                   f"(paused; {key_for('toggle')} trains)"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="files")
    def export_to(self, base: str, snap: Snapshot) -> None:
        from gru_core.export import export_loss_csv, export_snapshot_json
        from gru_core.history import History

        csv_path, json_path = f"{base}-loss.csv", f"{base}-batch.json"
        history = History(list(snap.losses), list(snap.epoch_losses), list(snap.val_losses),
                          list(snap.epoch_steps))
        try:
            export_loss_csv(history, csv_path)
            steps = f"{len(snap.losses)} step{'' if len(snap.losses) == 1 else 's'}"
            written, files = [f"loss history ({steps}) to {csv_path}"], [csv_path]
            if snap.trace is not None:
                export_snapshot_json(snap, json_path)
                # in the pane header's words: the trace's own batch and step, which a running
                # model's newer counters may have passed (the file records these)
                written.append(f"batch {snap.trace_batch + 1}/{snap.num_batches} (before step "
                               f"{snap.trace_step + 1}) to {json_path}")
                files.append(json_path)
        except GRUError as exc:
            self.post_message(FileDone(f"not exported: {exc}", error=True))
            return
        self.post_message(FileDone("exported " + "; ".join(written), files=tuple(files)))

    @while_open
    def on_file_done(self, event: FileDone) -> None:
        if confine.serving() and event.files:  # the tab's folder is no place the student can reach
            names = ", ".join(os.path.basename(path) for path in event.files)
            event.message = f"{event.message}; sent {names} to your browser as a download"
        self.file_message = event.message
        self.notify(event.message, severity="error" if event.error else "information",
                    timeout=8 if event.error else 5)
        if self.is_web:  # in a browser (gru-tui serve) the file is on the server: send it as a download
            self.deliver_files(event.files)

    def deliver_files(self, paths: tuple[str, ...]) -> None:
        """Textual's deliver_text / deliver_binary: a browser download, or ~/Downloads in a terminal."""
        for path in paths:
            name = os.path.basename(path)
            if path.endswith((".csv", ".json")):
                self.deliver_text(path, save_filename=name, encoding="utf-8")
            else:
                self.deliver_binary(path, save_filename=name, mime_type="application/octet-stream")
