"""FileActions: checkpoints and exports in the app (ctrl+s, ctrl+o, ctrl+e).

A mixin of GRUApp, which provides `session`, `shown` (the snapshot on screen) and
`initial_config`. Each key asks for a path in a PathDialog, then does the work in a
thread worker (training waits at most one batch for a save) and posts FileDone, shown
as a notification and kept in `file_message`:

    ctrl+s   save_session: weights, optimizer, progress, RNG and history, atomically; the
             path proposed is a new file, and replacing one already there asks first (y)
    ctrl+o   load_into_session: the file is checked first; a refused one changes nothing
    ctrl+e   the loss history as PATH-loss.csv, the batch on screen as PATH-batch.json
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message

from gru_core.errors import GRUError
from gru_core.printable import visible

from .closing import while_open
from .widgets.path_dialog import PathDialog, ReplaceDialog

if TYPE_CHECKING:
    from gru_core.session import Snapshot


class FileDone(Message):
    """A save, load or export finished: what to tell the user."""

    def __init__(self, message: str, error: bool = False) -> None:
        super().__init__()
        self.message, self.error = message, error


class FileActions:
    """Save, load and export; mixed into GRUApp."""

    file_message: str = ""  # the last save / load / export's outcome

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
        val = snap.val_losses[-1][1] if len(snap.val_losses) else None
        return "./" + checkpoint_name(snap.step, val, suffix="")

    def action_save(self) -> None:
        if self.session is not None and not isinstance(self.screen, (PathDialog, ReplaceDialog)):
            proposed = self.free_path(".ckpt", self.checkpoint_base())
            self.push_screen(PathDialog("save a checkpoint to", proposed), self.save_asked)

    def save_asked(self, path: str | None) -> None:
        """A path from the dialog: save, asking first when a file is already there."""
        if not path:
            return
        if not os.path.lexists(path):
            self.save_to(path)
            return

        def replace(yes: bool | None) -> None:
            if yes:
                self.save_to(path)
            else:
                self.post_message(FileDone(f"not saved: {path} kept as it was"))

        self.push_screen(ReplaceDialog(path), replace)

    def action_load(self) -> None:
        if self.session is not None and not isinstance(self.screen, (PathDialog, ReplaceDialog)):
            self.push_screen(PathDialog("load a checkpoint from (replaces this run)",
                                        self.default_path(".ckpt")),
                             lambda path: path and self.load_from(path))

    def action_export(self) -> None:
        snap = self.shown
        if snap is None or isinstance(self.screen, (PathDialog, ReplaceDialog)):
            return
        self.push_screen(PathDialog("export: loss history as PATH-loss.csv, this batch as PATH-batch.json",
                                    self.default_path("")),
                         lambda base: base and self.export_to(base, snap))

    @work(thread=True, exclusive=True, exit_on_error=False, group="files")
    def save_to(self, path: str) -> None:
        from gru_core.checkpoint import save_session

        session = self.session
        if session is None:
            return
        try:
            save_session(session, path)
        except GRUError as exc:
            self.post_message(FileDone(f"not saved: {exc}", error=True))
            return
        snap = session.snapshot()
        self.post_message(FileDone(f"saved checkpoint to {path} (step {snap.step}, epoch {snap.epoch})"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="files")
    def load_from(self, path: str) -> None:
        from gru_core.checkpoint import load_into_session

        session = self.session
        if session is None:
            return
        try:
            config = load_into_session(session, path)  # checked first: a refused file changes nothing
        except GRUError as exc:
            self.post_message(FileDone(f"not loaded: {exc}", error=True))
            return
        snap = session.wait_for(lambda s: s.config is config, 10.0)
        self.post_message(FileDone(f"loaded {path}: step {snap.step}, epoch {snap.epoch} "
                                   f"(paused; space trains)"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="files")
    def export_to(self, base: str, snap: Snapshot) -> None:
        from gru_core.export import export_loss_csv, export_snapshot_json
        from gru_core.history import History

        csv_path, json_path = f"{base}-loss.csv", f"{base}-batch.json"
        history = History(list(snap.losses), list(snap.epoch_losses), list(snap.val_losses),
                          list(snap.epoch_steps))
        try:
            export_loss_csv(history, csv_path)
            written = [f"loss history ({len(snap.losses)} steps) to {csv_path}"]
            if snap.trace is not None:
                export_snapshot_json(snap, json_path)
                written.append(f"batch {snap.batch + 1} at step {snap.step} to {json_path}")
        except GRUError as exc:
            self.post_message(FileDone(f"not exported: {exc}", error=True))
            return
        self.post_message(FileDone("exported " + "; ".join(written)))

    @while_open
    def on_file_done(self, event: FileDone) -> None:
        self.file_message = event.message
        self.notify(event.message, severity="error" if event.error else "information",
                    timeout=8 if event.error else 5)
