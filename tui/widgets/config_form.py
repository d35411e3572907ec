"""ConfigForm: every setting of a run, validated as you type; Apply resets the model.

The form never touches the session: it posts ApplyRequested (the form's values as
typed) and LearningRateSubmitted; the app builds the config with `config_from_form`
in a worker and resets the session only if the config is valid.
"""

from __future__ import annotations

import os
import re
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, Label, Select, Static

from gru_core.config import BACKWARDS, FITTED_KNOBS, OPTIMIZERS, RESETS, TrainConfig, parse_field
from gru_core.errors import GRUError
from gru_core.formatting import count, setting
from gru_core.printable import NEWLINE, TAB, visible
from gru_core.schedule import SCHEDULES

from .. import confine

PRESETS = ("default", "article")
NUMBER_FIELDS = (  # (config field, label)
    ("hidden_size", "hidden size H"),
    ("seq_len", "seq length T"),
    ("batch_size", "batch size B"),
    ("lr", "lr (Enter: live)"),  # fits the pane even beside its scrollbar (26 cells less one)
    ("epochs", "epochs"),
    ("seed", "seed"),
    ("clip", "clip grad norm (0: off)"),
    ("val_fraction", "validation share (0: off)"),
)
CHOICE_FIELDS = (
    ("optimizer", "optimizer", OPTIMIZERS),
    ("lr_schedule", "lr schedule", SCHEDULES),
    ("reset", "reset gate", RESETS),
    ("backward", "backward", BACKWARDS),
)
TOOLTIPS = {  # shown on hover: what each knob does, in the article's words
    "preset": "Starting settings. 'article' is the article's exact setup (H=2, T=3, B=2, SGD lr 0.01): "
              "its printed numbers reproduce; 'default' learns the same text in seconds.",
    "source": "Where the training text comes from: the text field or a file, or a built-in corpus.",
    "text": "The characters to learn. The vocabulary V is its distinct characters; each is fed "
            "to the GRU as a one-hot row x_t.",
    "file": "A UTF-8 text file to learn instead of the text field.",
    "hidden_size": "H, the size of the hidden state h: Wz, Wr, Wh are V x H, Uz, Ur, Uh are H x H. "
                   "More units remember more, and train slower.",
    "seq_len": "T, time steps per sequence: truncated BPTT backpropagates through T steps, "
               "and h carries over to the next batch.",
    "batch_size": "B, sequences trained side by side: each batch is T x B characters.",
    "lr": "Learning rate: the step size of each weight update. Enter sets it live, without a reset.",
    "epochs": "Passes over the whole text before training stops (finished).",
    "seed": "Seed for the initial weights and the sampling: the same seed gives the same run.",
    "clip": "Largest global gradient norm before an update (0: no clipping): keeps one bad "
            "batch from blowing the weights up.",
    "val_fraction": "Share of the text held out for validation: its loss shows whether the model "
                    "generalises or memorises (0: off).",
    "lr_schedule": "How lr changes over the run: 'constant', or 'cosine' (fitted runs): a short "
                   "warm-up, then down to a tenth of lr at the last planned epoch. The status line "
                   "shows the rate in use.",
    "optimizer": "How gradients become weight updates: plain SGD (the article's), or Adam.",
    "reset": "Where the reset gate r applies: 'before' (the article, Cho et al.) "
             "h_tilde = tanh(x Wh + (r * h) Uh + bh); 'after' (torch.nn.GRU) r * (h Uh + bUh).",
    "backward": "How gradients are found: 'manual', BPTT derived by hand as in the article, "
                "or 'autograd', torch's; they agree to float precision.",
}
TEXT_SHOWN = 2000  # characters of a long text put in the text field
SOURCES = (("text field / file", "text"), ("corpus: zen", "zen"), ("corpus: stdlib", "stdlib"),
           ("corpus: article", "article"))


def preset_options(preset: str) -> list[tuple[Text, str]]:
    """The preset select's options: the named presets, and the run's own when it has another
    (a checkpoint saved through the library says "custom"; a file may say anything)."""
    names = PRESETS if preset in PRESETS else (*PRESETS, preset)
    return [(Text(visible(name)), name) for name in names]


def fitted_line(note: str, width: int) -> str:
    """The config's `fitted` note cut to one line of `width` cells: the full note if it fits,
    else without the values (the fields below show them), the count abbreviated, then the
    vocabulary dropped; the knobs the user set are kept longest.

    "fitted to 35,149 chars (V 76): H 64, T 32, B 16, adam 1e-2, val 10%; yours: H"
    -> "fitted: 35k chars; yours: H" ... -> "fitted; yours: H, T, B, …"
    """
    head, _, yours = note.partition("; yours: ")
    found = re.match(r"fitted to ([\d,]+) chars \(V (\d+)\)", head)
    if found is None:
        return note if len(note) <= width else note[:max(0, width - 1)] + "…"
    n, vocab = int(found.group(1).replace(",", "")), found.group(2)
    tail = f"; yours: {yours}" if yours else ""
    short = count(n)
    for line in (note, f"fitted to {n:,} chars, V {vocab}{tail}", f"fitted: {short} chars, V {vocab}{tail}",
                 f"fitted: {short} chars{tail}", f"fitted{tail}"):
        if len(line) <= width:
            return line
    return line[:max(0, width - 1)] + "…"


class FittedLine(Static):
    """What TrainConfig.for_text chose and why, in one line of the pane's width (the whole
    note in the tooltip); hidden when the settings were not fitted to the text."""

    note: reactive[str] = reactive("", layout=True)

    def watch_note(self, note: str) -> None:
        self.display = bool(note)
        self.tooltip = (f"{note}\n\nChosen from the text's length and vocabulary (TrainConfig.for_text); "
                        f"'yours' lists the knobs you set, which always win.") if note else None

    def render(self) -> Text:
        return Text(visible(fitted_line(self.note, self.size.width or len(self.note))))


def source_choice(config: TrainConfig) -> str:
    """The source select's value for a config: a corpus name, or "text" (the field or a file)."""
    name = config.source.removeprefix("corpus:")
    return name if config.source.startswith("corpus:") and name in dict(map(reversed, SOURCES)) else "text"


def field_text(config: TrainConfig, name: str) -> str:
    value = getattr(config, name)
    return setting(value) if isinstance(value, float) else str(value)


def text_field_value(config: TrainConfig) -> str:
    """The text field's content: the text's start, its control characters as symbols (an ESC
    in a field goes to the terminal as it is: a text could set its title or switch its modes)."""
    if config.source.startswith("file:"):
        return ""
    text = config.text if len(config.text) <= TEXT_SHOWN else config.text[:TEXT_SHOWN] + "…"
    return visible(text)


def typed_text(value: str) -> str:
    """A text edited in the field: its ⏎ and ⇥ symbols are line breaks and tabs again."""
    return value.replace(NEWLINE, "\n").replace(TAB, "\t")


class FieldValidator(Validator):
    """A config field, checked with gru_core's own parser (ranges included)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.field = name

    def validate(self, value: str) -> ValidationResult:
        try:
            parse_field(self.field, value)
        except GRUError as exc:
            return self.failure(str(exc))
        return self.success()


class FileValidator(Validator):
    def validate(self, value: str) -> ValidationResult:
        path = value.strip()
        try:  # a browser tab of `gru-tui serve` reads the served folder only
            found = confine.readable(path) if path else ""
        except GRUError as exc:
            return self.failure(str(exc))
        if path and not os.path.isfile(found):
            return self.failure(f"no such file: {path!r}; give a UTF-8 text file, or leave empty")
        return self.success()


def config_from_form(current: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """The config the form describes, built on the current one (or the chosen preset).

    values: preset, every NUMBER/CHOICE field as typed, "corpus" (a built-in corpus's name,
    or "" for the text field / file), "file" (path or ""), "text" (None when the text field
    was left as it was filled in). GRUError if invalid. Reads the file or corpus, so call
    it off the UI thread.
    """
    preset = values["preset"]
    base = current if preset == current.preset else TrainConfig.preset_named(preset)
    changes: dict[str, Any] = {}
    for name, _ in NUMBER_FIELDS:
        changes[name] = parse_field(name, values[name])
    for name, _, _ in CHOICE_FIELDS:
        changes[name] = parse_field(name, values[name])
    path = values.get("file", "").strip()
    corpus = values.get("corpus", "")
    text, source = None, None
    if corpus:
        if f"corpus:{corpus}" != base.source:
            from gru_core.corpora import load_corpus

            text, source = load_corpus(corpus), f"corpus:{corpus}"
    elif path:
        if f"file:{path}" != base.source:
            from gru_core.textfile import read_text_file

            text, source = read_text_file(confine.readable(path)), f"file:{path}"
    elif values.get("text") is not None:
        text, source = values["text"], "text"
    elif base.source.startswith("file:"):
        raise GRUError("the file field is empty; give a file path or type a text to learn")
    if text is not None and (text != base.text or source != base.source):
        if not text:
            raise GRUError("text is empty; type a few characters to learn, or give a file")
        changes.update(text=text, source=source)
        if base.vocab is not None and set(text) - set(base.vocab):
            changes["vocab"] = None
        if base.layout == "article" and base.vocab is not None:
            changes["layout"] = "streams"
        if base.sample_prime and set(base.sample_prime) - set(text):
            changes["sample_prime"] = text[0]
        if base.preset == "fitted":  # a new text on fitted settings: fit them to it, but
            # keep each knob the user set (typed now, or set before and still shown)
            mine = set(base.user_knobs()) | {k for k in FITTED_KNOBS if changes[k] != getattr(base, k)}
            return TrainConfig.for_text(changes.pop("text"), **{
                k: v for k, v in changes.items() if k not in FITTED_KNOBS or k in mine})
    return base.replace(**changes).refitted()


class ConfigForm(VerticalScroll):
    """The config pane: a labelled input per field, its error below it, and Apply."""

    COMPONENT_CLASSES = {"config-form--error"}

    class ApplyRequested(Message):
        def __init__(self, values: dict[str, Any]) -> None:
            super().__init__()
            self.values = values

    class LearningRateSubmitted(Message):
        def __init__(self, lr: float) -> None:
            super().__init__()
            self.lr = lr

    config: reactive[TrainConfig | None] = reactive(None)
    invalid: reactive[frozenset[str]] = reactive(frozenset())
    message: reactive[str] = reactive("")  # the last Apply's outcome
    val_status: reactive[str] = reactive("")  # validation of the run on screen (or why there is none)

    def __init__(self, initial: TrainConfig | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._initial = initial or TrainConfig.default()
        self._shown: TrainConfig | None = None
        self._shown_preset: str | None = self._initial.preset
        self._shown_text = ""
        self._follow_outcome = False  # an outcome shown and no field focused since

    def compose(self) -> ComposeResult:
        yield Label("preset")
        yield Select(preset_options(self._initial.preset), allow_blank=False, value=self._initial.preset,
                     id="cfg-preset", compact=True)
        yield FittedLine(id="cfg-fitted")
        yield Label("source")
        yield Select(SOURCES, allow_blank=False, value=source_choice(self._initial), id="cfg-source",
                     compact=True)
        yield Label("text")
        yield Input(placeholder="text to learn", id="cfg-text", validators=[FieldLength()], compact=True)
        yield Static("", id="cfg-text-error", classes="config-form--error")
        yield Label("or file")
        yield Input(placeholder="path to a UTF-8 text file", id="cfg-file", validators=[FileValidator()],
                    compact=True)
        yield Static("", id="cfg-file-error", classes="config-form--error")
        for name, label in NUMBER_FIELDS:
            yield Label(label)
            yield Input(id=f"cfg-{name}", validators=[FieldValidator(name)], compact=True)
            yield Static("", id=f"cfg-{name}-error", classes="config-form--error")
        yield Static("", id="cfg-val-status")
        for name, label, options in CHOICE_FIELDS:
            yield Label(label)
            yield Select([(o, o) for o in options], allow_blank=False, value=getattr(self._initial, name),
                         id=f"cfg-{name}",
                         compact=True)
        yield Button("Apply (resets)", id="cfg-apply", variant="primary", compact=True)
        yield Static("", id="cfg-message")

    def on_mount(self) -> None:
        for name, tip in TOOLTIPS.items():
            self.query_one(f"#cfg-{name}").tooltip = tip

    # ------------------------------------------------------------- filling in
    def watch_config(self, config: TrainConfig | None) -> None:
        if config is None or config is self._shown:
            return
        old, self._shown = self._shown, config
        self._fill(config, only_changed_from=old)
        if self._follow_outcome:
            # the run the outcome speaks of arrived: its fields (the fitted line, the source's)
            # can change the form's height above the message and push it out of view
            self.call_after_refresh(self._reveal_message, again=True)

    def _fill(self, config: TrainConfig, only_changed_from: TrainConfig | None = None) -> None:
        def changed(name: str) -> bool:
            return only_changed_from is None or getattr(only_changed_from, name) != getattr(config, name)

        if changed("preset"):
            self._shown_preset = config.preset
            select = self.query_one("#cfg-preset", Select)
            select.set_options(preset_options(config.preset))
            select.value = config.preset
        if changed("fitted"):
            self.query_one("#cfg-fitted", FittedLine).note = config.fitted
        if changed("text") or changed("source"):
            self._shown_text = text_field_value(config)
            self.query_one("#cfg-text", Input).value = self._shown_text
            path = config.source[5:] if config.source.startswith("file:") else ""
            self.query_one("#cfg-file", Input).value = visible(path)
            self.query_one("#cfg-source", Select).value = source_choice(config)
        for name, _ in NUMBER_FIELDS:
            if changed(name):
                self.query_one(f"#cfg-{name}", Input).value = field_text(config, name)
        for name, _, _ in CHOICE_FIELDS:
            if changed(name):
                self.query_one(f"#cfg-{name}", Select).value = getattr(config, name)

    # ------------------------------------------------------------- validation
    def on_input_changed(self, event: Input.Changed) -> None:
        field = (event.input.id or "").removeprefix("cfg-")
        if not event.input.id or not event.input.id.startswith("cfg-"):
            return
        result = event.validation_result
        error = self.query_one(f"#cfg-{field}-error", Static)
        ok = result is None or result.is_valid
        error.update(Text("" if ok else visible("; ".join(result.failure_descriptions))))
        error.display = not ok
        self.invalid = self.invalid - {field} if ok else self.invalid | {field}

    def watch_invalid(self, invalid: frozenset[str]) -> None:
        self.query_one("#cfg-apply", Button).disabled = bool(invalid)

    def watch_val_status(self, status: str) -> None:
        self.query_one("#cfg-val-status", Static).update(Text(visible(status)))

    def watch_message(self, message: str) -> None:
        self.query_one("#cfg-message", Static).update(Text(visible(message)))

    def show_outcome(self, message: str) -> None:
        """Apply's outcome, scrolled into view: at 80x24 the form is taller than the pane and
        the message sat below its last visible row."""
        self.message = message
        self._follow_outcome = True
        self.call_after_refresh(self._reveal_message, again=True)

    def on_descendant_focus(self) -> None:
        self._follow_outcome = False  # the user is at a field: the form stays where it is

    def _reveal_message(self, again: bool = False) -> None:
        """Scroll the message into view; once more a refresh later, when its new height (a
        long message wraps to several lines) has been laid out and only its top showed."""
        self.query_one("#cfg-message", Static).scroll_visible(animate=False)
        if again:
            self.call_after_refresh(self._reveal_message)

    def on_select_changed(self, event: Select.Changed) -> None:
        stale = event.value != event.select.value  # a change since overtaken (filling in)
        if event.select.id == "cfg-preset" and not stale and event.value != self._shown_preset:
            self._shown_preset = str(event.value)
            self._fill(TrainConfig.preset_named(str(event.value)))
            self.message = f"preset {event.value} filled in: Apply to use it"

    # ------------------------------------------------------------- commands
    def values(self) -> dict[str, Any]:
        """The form as typed (strings), for config_from_form."""
        out: dict[str, Any] = {"preset": str(self.query_one("#cfg-preset", Select).value)}
        for name, _ in NUMBER_FIELDS:
            out[name] = self.query_one(f"#cfg-{name}", Input).value
        for name, _, _ in CHOICE_FIELDS:
            out[name] = str(self.query_one(f"#cfg-{name}", Select).value)
        text = self.query_one("#cfg-text", Input).value
        out["text"] = None if text == self._shown_text else typed_text(text)
        out["file"] = self.query_one("#cfg-file", Input).value
        source = str(self.query_one("#cfg-source", Select).value)
        out["corpus"] = "" if source == "text" else source
        return out

    def request_apply(self) -> bool:
        """Post ApplyRequested unless a field is invalid (then say which)."""
        if self.invalid:
            self.show_outcome(f"fix {', '.join(sorted(self.invalid))} first: nothing was applied")
            return False
        self.post_message(self.ApplyRequested(self.values()))
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cfg-apply":
            event.stop()
            self.request_apply()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not (event.input.id or "").startswith("cfg-"):
            return
        event.stop()
        if event.input.id == "cfg-lr":
            if "lr" in self.invalid:
                return
            lr = parse_field("lr", event.value)
            self.post_message(self.LearningRateSubmitted(lr))
            self.message = f"learning rate {setting(lr)} applies from the next step"
        else:
            self.request_apply()


class FieldLength(Validator):
    """The text field: anything up to the config's limit (empty is checked at Apply)."""

    def validate(self, value: str) -> ValidationResult:
        from gru_core.config import MAX_TEXT_CHARS

        if len(value) > MAX_TEXT_CHARS:
            return self.failure(f"text has {len(value):,} characters; the limit is {MAX_TEXT_CHARS:,}")
        return self.success()
