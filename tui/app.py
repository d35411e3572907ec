"""GRUApp: the gru-tui app. It shows what a TrainingSession publishes; keys send it commands.

    timer, RENDER_HZ a second: session.snapshot(); when its seq changed, hand it to every widget
    keys / form / prime ------(plain method calls)-------> TrainingSession

Torch is imported by `load_session`, a thread worker started right after the first
frame ("loading torch…") is drawn.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState

from gru_core.config import TrainConfig
from gru_core.errors import GRUError
from gru_core.formatting import setting
from gru_core.printable import visible

from . import confine, keys
from .closing import while_open
from .file_actions import FileActions
from .gc_tuning import freeze_startup_objects
from .messages import ConfigApplied, FileDone, LoadingProgress
from .palette import RunCommands
from .render.validation_text import validation_status
from .sample_actions import SampleActions
from .settings import load_settings, save_settings
from .textual_fixes import apply as apply_textual_fixes
from .widgets.config_form import ConfigForm, config_from_form
from .widgets.loss_chart import LossChart
from .widgets.matrices import MatricesView
from .widgets.samples import SamplesPane
from .widgets.status import StatusBar, shown_state

if TYPE_CHECKING:
    from gru_core.history import History
    from gru_core.session import Snapshot, TrainingSession
    from gru_core.trainer import Trainer

apply_textual_fixes()

RENDER_HZ = 5  # screen updates a second, at most: each costs the GIL training shares
# SIGINT too: the terminal's ctrl+c is a key in raw mode, so a SIGINT comes from `kill -INT`;
# it ends the app like the others, with the 130 a shell reports for an interrupted command
TERMINATING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT")
                            if hasattr(signal, name))


NEEDS_SESSION = keys.needs_session()  # the key table's flag: disabled while torch loads


class GRUApp(FileActions, SampleActions, App[None]):
    """Train a GRU and watch its matrices, loss and samples."""

    CSS_PATH = "app.tcss"
    TITLE = "gru-tui"
    AUTO_FOCUS = None  # keys drive training from the start; Tab or / move into a field
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = keys.bindings()  # tui/keys.py: one table for bindings, palette, help, README
    COMMANDS = App.COMMANDS | {RunCommands}  # temperature, unit, corpus, best weights (tui/palette.py)

    def __init__(
        self,
        config: TrainConfig | None = None,
        *,
        torch_threads: int | None = None,
        max_rate: float = 8.0,
        resume: tuple[Trainer, History] | None = None,
        resumed_from: str = "",
        config_loader: Callable[[Callable[[str], None]], TrainConfig] | None = None,
        theme: str | None = None,
    ) -> None:
        """config_loader, if given, builds the config in the session's worker (reading a large
        file there, so the first frame does not wait for it), telling its progress; `config`
        is shown until then."""
        super().__init__()
        self.config_loader = config_loader
        self.resume = resume  # a loaded checkpoint (gru-tui --load) to continue
        self.resumed_from = resumed_from
        self.initial_config = resume[0].config if resume is not None else (config or TrainConfig.default())
        self.torch_threads = torch_threads
        self.max_rate = max_rate
        self.session: TrainingSession | None = None
        self.temperature = 1.0
        self.shown: Snapshot | None = None  # the snapshot on screen (exports write it)
        self._session_lock = threading.Lock()
        self._quitting = False
        self._early_signal: int | None = None  # one that came before the app could answer it
        self.worker_error: tuple[str, str] | None = None  # (message, traceback) of a crashed worker
        self.file_message = ""  # the last save / load / export's outcome (also a notification)
        self.saved_path = ""  # the last checkpoint saved here (ctrl+o proposes it)
        # --theme, else the one chosen last time (tui/settings.py), else Textual's default
        self.initial_theme = theme or load_settings().get("theme")
        self._remember_theme = False  # set once mounted: the initial theme is not a choice to save

    # ================================================================ layout
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="main"):
            yield ConfigForm(self.initial_config, id="config")
            with Vertical(id="center"):
                yield LossChart(id="chart")
                yield SamplesPane(id="samples")
            yield MatricesView(id="matrices")
        yield Footer(compact=True)  # compact: `? Help` and `q Quit` still fit at 80 columns

    def on_mount(self) -> None:
        if isinstance(self.initial_theme, str) and self.initial_theme in self.available_themes:
            self.theme = self.initial_theme
        self._remember_theme = True
        self.query_one("#config", ConfigForm).border_title = "config"
        self.query_one("#chart", LossChart).border_title = "loss"
        self.query_one("#samples", SamplesPane).border_title = "samples"
        self.query_one("#matrices", MatricesView).border_title = (
            f"matrices ({keys.key_for('time_step', '/')} time step, {keys.key_for('explain')} explain)")
        self.query_one(ConfigForm).config = self.initial_config
        self.query_one(SamplesPane).temperature = self.temperature
        self.set_interval(1 / RENDER_HZ, self.render_latest)
        # Importing torch holds the GIL for seconds (loading its libraries): start it only
        # once the first frame is drawn, or that frame waits for it.
        self.call_after_refresh(self.load_session)
        self._catch_signals()

    def watch_theme(self, theme: str) -> None:
        """A theme chosen in the palette is the next run's too."""
        if not getattr(self, "_remember_theme", False):  # (App.__init__ may set the theme first)
            return
        try:
            save_settings(theme=theme)
        except GRUError as exc:
            self._remember_theme = False  # said once: the theme still changes, it is not kept
            self.notify(f"the theme is not remembered: {exc}", severity="warning", timeout=6)

    @property
    def ready(self) -> bool:
        """Torch is loaded, the session runs and its first snapshot is on screen."""
        return self.session is not None and self.shown is not None

    # ================================================================ session
    @work(thread=True, exclusive=True, exit_on_error=False, group="session")
    def load_session(self) -> None:
        if self.config_loader is not None:  # a large file: read and fitted here, off the UI thread
            loader, self.config_loader = self.config_loader, None
            self.post_message(LoadingProgress("loading the text…"))
            self.initial_config = loader(lambda what: self.post_message(LoadingProgress(what)))
            self.post_message(LoadingProgress("loading torch…"))
        from gru_core.session import TrainingSession  # torch loads here, off the UI thread

        trainer, history = self.resume if self.resume is not None else (None, None)
        self.resume = None  # the session owns them now
        session = TrainingSession(self.initial_config, torch_threads=self.torch_threads,
                                  max_rate=self.max_rate, sample_temperature=self.temperature,
                                  trainer=trainer, history=history)
        with self._session_lock:
            if self._quitting:  # quit while torch was loading
                session.close()
                return
            self.session = session
        if self.resumed_from:
            snap = session.snapshot()
            self.post_message(FileDone(f"resumed from {self.resumed_from}: step {snap.step}, "
                                       f"epoch {snap.epoch} (paused; {keys.key_for('toggle')} trains)"))

    def render_latest(self) -> None:
        """The timer's tick: the session's latest snapshot to every widget, if it is new.

        The session publishes at most max_rate snapshots a second; this reads the newest
        at RENDER_HZ, with no store or subscriber in between.
        """
        session = self.session
        if session is None:
            return
        snap, before = session.snapshot(), self.shown
        if before is not None and snap.seq == before.seq:
            return
        # By id: Textual caches those lookups (a query by type walks the whole DOM, several times a second)
        status = self.query_one_optional("#status", StatusBar)
        if status is None:  # the app is closing: its widgets are gone (the timer may still tick)
            return
        self.shown = snap
        if before is None:
            freeze_startup_objects()  # torch, the session and the screen are all there now
        if before is None or self._key_facts(before) != self._key_facts(snap):
            self._label_space(snap)
            self.refresh_bindings()  # check_action's answers depend on these
        status.starting = None
        status.snapshot = snap
        self.query_one("#chart", LossChart).snapshot = snap
        self.query_one("#matrices", MatricesView).snapshot = snap
        self.query_one("#samples", SamplesPane).snapshot = snap
        form = self.query_one("#config", ConfigForm)
        form.config = snap.config
        form.val_status = validation_status(snap)

    @while_open
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        message = str(error) if isinstance(error, GRUError) else f"{type(error).__name__}: {error}"
        if not isinstance(error, GRUError):  # a bug, not a user's mistake: keep its traceback for `d`
            self.worker_error = (message, "".join(traceback.format_exception(error)))
            self.refresh_bindings()  # d has something to show now
            message += f"  ({keys.key_for('error_details')}: details)"
        if worker.group == "session":
            self.query_one(StatusBar).starting = f"error: could not start training: {message}"
        elif worker.group == "sample":
            pane = self.query_one(SamplesPane)
            pane.prime_error = message
            pane.show_sample(None, "")
        elif worker.group in ("files", "units"):
            self.notify(message, severity="error", timeout=8)
        elif worker.group == "apply":
            self.query_one(ConfigForm).show_outcome(f"not applied: {message}")

    def shutdown_session(self) -> None:
        """Stop training and join its threads; safe to call twice."""
        with self._session_lock:
            self._quitting = True
            session = self.session
        if session is not None:
            session.close(timeout=2.0)

    def notify(self, message: str, *, markup: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        """A notification, shown literally: messages quote paths and values a user typed, and
        a `[/]` in them is text, not markup (which would end the app with a MarkupError)."""
        super().notify(visible(message), markup=markup, **kwargs)

    def live_session(self) -> TrainingSession | None:
        """The session, or None with a notice while torch is still loading."""
        if self.session is None:
            self.notify("torch is still loading; try again in a moment", timeout=2)
        return self.session

    # ================================================================ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that cannot act now show disabled (footer, palette) instead of answering with a notice.

        None is Textual's "shown, but disabled": training and file keys while torch loads,
        a step or an epoch while training runs (the session would ignore them).
        """
        if action in NEEDS_SESSION and self.session is None:
            return None
        if action in ("step", "epoch") and self.session is not None and self.session.state == "running":
            return None
        snap = self.shown
        if action == "restore_best" and (snap is None or snap.best_val is None):
            return None  # no best weights kept yet (or no validation at all)
        if action == "error_details" and self.worker_error is None and (snap is None or not snap.error):
            return None
        return True

    @staticmethod
    def _key_facts(snap: Snapshot) -> tuple:
        """What check_action and the space key's label depend on."""
        return shown_state(snap), snap.best_val is None, bool(snap.error), snap.more_epochs

    def _label_space(self, snap: Snapshot) -> None:
        """The footer says what space does next: Pause while training, More on a finished run
        (the status line says how many epochs), else Train. The default preset finishes in
        under a second: a second space, meant to pause, trained 60 epochs more."""
        state = shown_state(snap)
        label = "Pause" if state == "running" else "More" if state == "finished" else "Train"
        key = keys.textual_key("toggle")
        bindings = self._bindings.key_to_bindings.get(key, [])
        if bindings and bindings[0].description != label:
            self._bindings.key_to_bindings[key] = [dataclasses.replace(bindings[0], description=label)]

    def action_toggle(self) -> None:
        if session := self.live_session():
            session.toggle()

    def action_step(self) -> None:
        if session := self.live_session():
            session.step()

    def action_epoch(self) -> None:
        if session := self.live_session():
            session.run_epoch()

    def action_restore_best(self) -> None:
        if session := self.live_session():
            session.restore_best()  # the status line says what came back (snapshot.note)

    def action_reset(self) -> None:
        if self.session is not None:
            self.reset_session(None)

    def action_time_step(self, delta: int) -> None:
        self.query_one(MatricesView).move(delta)

    def action_explain(self) -> None:
        self.query_one(MatricesView).enter_cursor()

    def action_focus_prime(self) -> None:
        if not self.query_one("#center").display:  # a narrow screen showing the config: the samples come back
            self.action_toggle_config()
        # set_focus now, not focus() (deferred): keys typed right after / must reach the input
        self.screen.set_focus(self.query_one("#prime", Input))

    def action_leave_field(self) -> None:
        self.screen.set_focus(None)

    def switch_corpus(self, name: str) -> None:
        """The palette's "Switch corpus to …": the config pane's fields with that corpus as the
        source, applied (a reset, as Apply does; its message says what was applied)."""
        if self.live_session() is None:
            return
        values = self.query_one(ConfigForm).values()
        values["corpus"] = name
        self.reset_session(values)

    def action_log_scale(self) -> None:
        chart = self.query_one(LossChart)
        chart.log_scale = not chart.log_scale

    def action_toggle_config(self) -> None:
        form = self.query_one(ConfigForm)
        shown = form.display
        if shown and self.focused is not None and form in self.focused.ancestors:
            self.screen.set_focus(None)  # keys must not go on reaching a field that is no longer seen
        self.screen.set_class(not shown, "-show-config")
        self.screen.set_class(shown, "-hide-config")

    def action_error_details(self) -> None:
        """The error on screen in full, traceback included (training's first, else a worker's)."""
        from .screens.error_details import ErrorDetailsScreen

        snap = self.shown
        if snap is not None and snap.state == "error" and snap.error:
            message, detail = snap.error, snap.error_detail
        elif self.worker_error is not None:
            message, detail = self.worker_error
        else:
            self.notify("no error to show", timeout=2)
            return
        if not isinstance(self.screen, ErrorDetailsScreen):
            self.push_screen(ErrorDetailsScreen(message, detail))

    def action_help(self) -> None:
        from .screens.help import HelpScreen  # Markdown is slow to import: not before the first frame

        if not isinstance(self.screen, HelpScreen):
            config = self.shown.config if self.shown is not None else self.initial_config
            self.push_screen(HelpScreen(self.torch_threads, config.reset))

    async def action_quit(self) -> None:
        if confine.serving():  # a browser tab: the run ends with the session, so ask first
            self.ask_before_quitting()
            return
        self.shutdown_session()
        self.exit()

    def ask_before_quitting(self) -> None:
        from .screens.quit_dialog import QuitDialog

        def answered(answer: str | None) -> None:
            if answer == "quit":
                self.shutdown_session()
                self.exit()
            elif answer == "save":
                self.action_save()

        if not isinstance(self.screen, ModalScreen):
            self.push_screen(QuitDialog(), answered)

    def on_unmount(self) -> None:
        self.shutdown_session()
        self._catch_signals(False)

    def _catch_signals(self, catch: bool = True) -> None:
        """SIGTERM, SIGHUP and SIGINT quit like q: the terminal is put back (raw mode off, the main
        screen, the cursor, no mouse reporting) and the status is 128 + the signal's number.
        Their default ends the process at once and leaves the terminal unusable. (Not under
        Pilot: a test's process keeps its own handlers.)"""
        if self.is_headless or threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in TERMINATING_SIGNALS:
            if catch:
                loop.add_signal_handler(sig, self._quit_on_signal, sig)
            else:
                loop.remove_signal_handler(sig)
        if catch and self._early_signal is not None:
            self.call_later(self._quit_on_signal, self._early_signal)

    def catch_signals_early(self) -> None:
        """From before run() until on_mount answers them: a signal is remembered, then ends the
        app as soon as it is mounted. A SIGINT in that window raised KeyboardInterrupt inside
        Textual's start-up (widgets half mounted, a NoMatches traceback on the screen)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in TERMINATING_SIGNALS:
            signal.signal(sig, self._remember_signal)

    def _remember_signal(self, sig: int, frame: object) -> None:
        self._early_signal = self._early_signal or sig

    def _quit_on_signal(self, sig: int) -> None:
        self.shutdown_session()
        self.exit(return_code=128 + sig)

    # ================================================================ workers
    @work(thread=True, exclusive=True, exit_on_error=False, group="apply")
    def reset_session(self, values: dict[str, Any] | None) -> None:
        """Reset with the same config (values None) or the form's; builds the Trainer here."""
        session = self.session
        if session is None:
            return
        if values is None:
            session.reset()
            return
        config = config_from_form(session.config, values)  # GRUError: nothing changes
        session.reset(config)
        self.post_message(ConfigApplied(
            f"applied: {config.preset}, H {config.hidden_size}, T {config.seq_len}, "
            f"B {config.batch_size}, {config.optimizer} lr {setting(config.lr)}; model reset"
        ))

    # ================================================================ messages
    @while_open
    def on_loading_progress(self, event: LoadingProgress) -> None:
        status = self.query_one(StatusBar)
        if status.starting is not None and not status.starting.startswith("error"):
            status.starting = event.what

    def on_config_form_apply_requested(self, event: ConfigForm.ApplyRequested) -> None:
        self.reset_session(event.values)

    @while_open
    def on_config_applied(self, event: ConfigApplied) -> None:
        self.query_one(ConfigForm).show_outcome(event.message)

    def on_config_form_learning_rate_submitted(self, event: ConfigForm.LearningRateSubmitted) -> None:
        if session := self.live_session():
            try:
                session.set_lr(event.lr)  # the form parsed it; TrainConfig's rule is the one check
            except GRUError as exc:
                self.query_one(ConfigForm).message = str(exc)

    # ================================================================ palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Quit":
                continue  # the key table's own Quit stops training first
            if command.title == "Keys":  # Textual's side panel squeezes the panes: show the help
                help_key = keys.key_for("help")
                yield SystemCommand("Keys", f"Every key and what it does ({help_key})", self.action_help)
                continue
            yield command
        yield from keys.palette_commands(self)
