"""StatusBar: state, epoch e/E, step, current loss (nats and bits/char), characters/s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import Static

from gru_core.advice import RESTORE_BEST, Advice
from gru_core.formatting import duration, fixed, significant, whole
from gru_core.printable import visible

from ..keys import key_for

if TYPE_CHECKING:
    from gru_core.session import Snapshot

STATE_LABELS = {
    "loading": "loading torch…",
    "idle": "idle",
    "running": "training",
    "paused": "paused",
    "finished": "finished",
    "error": "error",
}


def shown_state(snap: Snapshot) -> str:
    """The state as a user should read it: a run paused at the end of its last epoch (a loaded
    finished checkpoint is adopted paused) is finished: space trains more epochs, not the rest."""
    if snap.state == "paused" and snap.epoch >= snap.target_epochs and snap.batch == 0:
        return "finished"
    return snap.state


STATUS_TOOLTIP = (
    "epoch e/E: passes over the text so far / in all\n"
    "step: weight updates so far (one per batch)\n"
    "batch b/N: the batch the next step trains (while training: the time left in this epoch)\n"
    "loss: the last batch's cross-entropy, the mean of -log y_hat[target] over its T x B "
    "characters, in nats and in bits per character (ln 2 nats = 1 bit)\n"
    "val: the same loss on held-out text: lower is learning, rising is memorising\n"
    "chars/s: characters trained per second\n"
    "lr: the learning rate now (Enter in the config's lr field sets it live)"
)

class StatusBar(Static):
    """One line (two when there is an error) at the top of the screen."""

    COMPONENT_CLASSES = {
        "status-bar--state",
        "status-bar--label",
        "status-bar--value",
        "status-bar--error",
    }

    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True)
    # What the bar says before the first snapshot ("loading torch…", or why training could not
    # start); None once the session exists. Not named `loading`: that is Widget.loading, whose
    # watcher covers a widget with loading dots while it is truthy, hiding an error for good.
    starting: reactive[str | None] = reactive("loading torch…")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._styles: dict[tuple[str, str, str], Style] = {}
        self._text = Text()
        self._strips: tuple[int, list[Strip]] | None = None  # (width, lines) of self._text

    def watch_snapshot(self) -> None:
        self._redraw()

    def watch_starting(self) -> None:
        self._redraw()

    def on_mount(self) -> None:
        self.tooltip = STATUS_TOOLTIP
        self._redraw()

    @property
    def state(self) -> str:
        if self.snapshot is None:
            return "error" if self.starting and self.starting.startswith("error") else "loading"
        return shown_state(self.snapshot)

    def _style(self, name: str) -> Style:
        """A component class's style, kept while the state (its class) and the theme stay:
        the lookup walks the DOM for the background, and this runs several times a second."""
        key = (name, self.state, self.app.theme)
        style = self._styles.get(key)
        if style is None:
            style = self._styles[key] = self.get_component_rich_style(name)
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self.call_after_refresh(self._restyle)  # component classes are styled after the widget

    def _restyle(self) -> None:
        self._styles.clear()
        self._redraw()

    def _redraw(self) -> None:
        for state in STATE_LABELS:
            self.set_class(self.state == state, f"-{state}")
        style = self._style
        label, value = style("status-bar--label"), style("status-bar--value")
        text = Text(no_wrap=True, overflow="ellipsis")
        snap = self.snapshot
        if snap is None:
            text.append(f" {visible(self.starting or 'loading…')} ", style("status-bar--state"))
            self._show(text)
            return
        text.append(f" {STATE_LABELS.get(self.state, self.state)} ", style("status-bar--state"))
        for name, shown in self.fitting_items(snap, self.size.width or 1000):
            if name is not None:  # None: glued to the item before
                text.append(f"  {name} " if name else "  ", label)
            text.append(shown, value)
        if snap.error:
            text.append("\n")
            keys = f"({key_for('reset')} resets, {key_for('error_details')} details)"
            text.append(f" {visible(snap.error)}  {keys} ", style("status-bar--error"))
        elif snap.advice or snap.note:  # what went wrong and what to try, or a command's outcome
            text.append("\n")
            line = advice_line(snap.advice) if snap.advice else snap.note
            kind = "status-bar--error" if snap.advice else "status-bar--value"
            text.append(f" {visible(line)} ", style(kind))
        self._show(text)

    def on_resize(self) -> None:
        self._redraw()

    @staticmethod
    def items(snap: Snapshot) -> list[tuple[int, str | None, str]]:
        """(priority, label, value) in screen order; the lowest priorities go first when short of room.

        label "": a value alone; None: a value glued to the one before (the loss in bits, the
        epoch's time left). At 120 columns a running run with validation keeps what README
        promises: the batch within the epoch, its time left and chars/s (they were the first
        to go, behind the preset and the bits)."""
        bits = "" if snap.loss is None else f" ({fixed(snap.bits_per_char, 3)} bits/char)"
        running = snap.state == "running"
        # paused, the matrices' header names the batch too, and no rate is measured
        items = [(9, "epoch", f"{snap.epoch}/{snap.target_epochs}"), (8, "step", f"{snap.step}"),
                 (7 if running else 4, "batch", f"{snap.batch + 1}/{snap.num_batches}")]
        if running and snap.num_batches > 1 and snap.steps_per_sec > 0:
            left = (snap.num_batches - snap.batch) / snap.steps_per_sec
            items.append((6, None, f" ({duration(left)} left)"))  # of this epoch
        loss = "—" if snap.loss is None else f"{fixed(snap.loss)} nats"
        items += [(9, "loss", loss), (2, None, bits)]
        if shown_state(snap) == "finished" and snap.more_epochs:
            more = "/".join(key_for(action) for action in ("toggle", "step", "epoch"))
            items.insert(0, (7, "", f"{more}: {snap.more_epochs} more epochs"))
        if snap.val_loss is not None:
            items.append((6, "val", fixed(snap.val_loss)))
        if snap.best_val is not None:  # the chart's key shows it too
            items.append((3, "best", f"{fixed(snap.best_val)} @{snap.best_step}"))
        # a rate only while training runs: "chars/s 0" beside "finished" read as a slow run
        rate = whole(snap.chars_per_sec) if running else "—"
        items += [(7 if running else 1, "chars/s", rate), (6, "lr", significant(snap.lr)),
                  (5, "preset", visible(snap.config.preset))]
        return items

    def fitting_items(self, snap: Snapshot, width: int) -> list[tuple[str | None, str]]:
        """The items that fit in width cells, keeping the most important."""
        items = self.items(snap)
        state = len(STATE_LABELS.get(shown_state(snap), snap.state)) + 2

        def cells(kept: list) -> int:
            return state + sum((0 if name is None else 2 + (len(name) + 1 if name else 0)) + len(shown)
                               for _, name, shown in kept)

        while items and cells(items) > width:
            items.remove(min(items, key=lambda item: item[0]))
        return [(name, shown) for _, name, shown in items]

    def _show(self, text: Text) -> None:
        """Update the line; ask for a layout pass only when the height changes (an error line
        comes or goes): a layout pass re-renders the whole screen, and this runs several times a
        second while training."""
        lines = text.plain.count("\n") + 1
        self._text, self._strips = text, None
        self.update(text, layout=lines != getattr(self, "_lines", None))
        self._lines = lines

    def render_line(self, y: int) -> Strip:
        """The line from the Text's own segments. Static's way (the Text made a Content, its
        spans converted, then strips) cost about a millisecond a frame, five frames a second
        while training; render() still gives the Text."""
        width = self.size.width
        if self._strips is None or self._strips[0] != width:
            console, base = self.app.console, self.rich_style
            pad = Style.from_color(bgcolor=base.bgcolor)  # blank cells after the text, as Static pads
            lines = self._text.wrap(console, width) if width else self._text.split("\n")
            self._strips = (width, [
                Strip(Segment.apply_style(line.render(console), base + console.get_style(line.style)),
                      line.cell_len).crop_extend(0, width, pad)
                for line in lines])
        strips = self._strips[1]
        return strips[y] if y < len(strips) else Strip.blank(width, self.rich_style)


def advice_line(advice: Advice) -> str:
    """gru_core's advice with the app's remedy where the app has a key for it (b restores the
    best weights); a remedy with no key of its own (try lr 0.0025) is gru_core's wording."""
    if advice.action == RESTORE_BEST:
        return advice.line(f"{key_for(RESTORE_BEST)} restores the best weights")
    return advice.line()
