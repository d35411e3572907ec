"""TrainConfig: every knob of a run, validated on construction.

This module does not import torch, so the app and the CLI can parse and check a
config (and show their first frame) before torch has finished importing.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import GRUError
from .formatting import setting
from .schedule import SCHEDULES

ARTICLE_TEXT = "MathMathMathMathMath"
ARTICLE_VOCAB = "hatM"  # the notebook's hard-coded order {'h': 0, 'a': 1, 't': 2, 'M': 3}

OPTIMIZERS = ("sgd", "adam")
RESETS = ("before", "after")
BACKWARDS = ("autograd", "manual")
LAYOUTS = ("streams", "article")
DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")
INITS = ("randn", "uniform")

# 64 Mi characters; larger texts are refused, not truncated. A text is kept as 1-byte
# indices (V <= 256), so a 50 MB file costs a few hundred MB in all (tests/benchmarks).
MAX_TEXT_CHARS = 64 * 1024 * 1024
MAX_HIDDEN = 4096
MAX_SEQ_LEN = 10_000
MAX_BATCH = 4096
MAX_EPOCHS = 10_000_000
MAX_LR = 100.0
CHECKS_PER_EPOCH = 4  # validation checks and samples an epoch, unless val_every says otherwise
MIN_CHECK_STEPS = 10  # ... but no closer together than this


def _choice(name: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        raise GRUError(f"{name} must be one of {', '.join(options)}; got {value!r}")


def _int_in(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GRUError(f"{name} must be a whole number from {low} to {high}; got {value!r}")
    if not low <= value <= high:
        raise GRUError(f"{name} must be from {low} to {high}; got {value}")


def _float_in(name: str, value: Any, low: float, high: float, *, low_open: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GRUError(f"{name} must be a number; got {value!r}")
    if not math.isfinite(value):
        raise GRUError(f"{name} must be a finite number; got {value!r}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        lo = f"greater than {setting(low)}" if low_open else f"at least {setting(low)}"
        raise GRUError(f"{name} must be {lo} and at most {setting(high)}; got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    """What to train on and how. Construction validates; an invalid config never exists.

    Use `TrainConfig.article()` for the article's exact setup and
    `TrainConfig.default()` for settings that actually learn the same text.
    """

    text: str = ARTICLE_TEXT
    hidden_size: int = 16
    seq_len: int = 4
    batch_size: int = 1
    lr: float = 0.05
    optimizer: str = "adam"
    momentum: float = 0.0
    epochs: int = 100
    seed: int = 1
    reset: str = "before"
    backward: str = "manual"
    clip: float = 5.0  # max global gradient norm; 0 turns clipping off
    layout: str = "streams"
    device: str = "cpu"
    dtype: str = "float32"
    init: str = "uniform"
    vocab: str | None = None  # explicit vocabulary order; None: sorted characters of text
    val_fraction: float = 0.0  # share of the text held out for validation (0 turns it off)
    sample_len: int = 20
    sample_prime: str = ""  # "" means the first character of the text
    patience: int = 0  # stop after this many validation checks without a new best (0: never)
    lr_schedule: str = "constant"  # how lr changes over the run (gru_core/schedule.py)
    val_every: int = 0  # steps between validation checks and samples; 0: about 4 an epoch
    guard: bool = True  # put back the last good weights and halve lr when training diverges
    fitted: str = ""  # what TrainConfig.for_text chose and why, one line ("" if not fitted)
    source: str = "text"  # where the text came from, for display ("text", "file:...", "corpus:zen")
    preset: str = "custom"

    def __post_init__(self) -> None:
        self.validate()

    # ----------------------------------------------------------------- presets
    @classmethod
    def article(cls, **overrides: Any) -> "TrainConfig":
        """The article's exact setup: its numbers reproduce to 4 decimals."""
        base = dict(
            text=ARTICLE_TEXT, vocab=ARTICLE_VOCAB, hidden_size=2, seq_len=3, batch_size=2,
            lr=0.01, optimizer="sgd", momentum=0.0, epochs=100, seed=1, reset="before",
            backward="autograd", clip=0.0, layout="article", init="randn", dtype="float32",
            val_fraction=0.0, sample_len=10, sample_prime="Ma", preset="article", guard=False,
        )
        base.update(overrides)
        return cls(**base)

    @classmethod
    def default(cls, **overrides: Any) -> "TrainConfig":
        """The article's text, with settings that learn it in well under a second."""
        base = dict(
            text=ARTICLE_TEXT, vocab=None, hidden_size=16, seq_len=4, batch_size=1,
            lr=0.05, optimizer="adam", momentum=0.0, epochs=60, seed=1, reset="before",
            backward="manual", clip=5.0, layout="streams", init="uniform", dtype="float32",
            val_fraction=0.0, sample_len=10, sample_prime="Ma", preset="default",
        )
        base.update(overrides)
        return cls(**base)

    @classmethod
    def for_text(cls, text: str, **overrides: Any) -> "TrainConfig":
        """Settings fitted to a text by its length and vocabulary; `overrides` always win.

        The rule (n = characters of the text, V = its vocabulary, both before overrides):

        - seq_len T: 32, or n // 64 (at least 8) for a text under 2,048 characters;
        - validation: the last 10% held out once n >= 5,000 (every held-out character is
          scored, so a short held-out part still gives an honest figure); otherwise none;
        - batch_size B: 16 streams, fewer when the training part has under 16 * T * 8
          characters, so an epoch still holds at least ~8 batches (at least 1);
        - hidden_size H: 128;
        - Adam at lr 1e-2 (5e-3 for a given H above 128) with the gradient norm clipped
          at 5, on a cosine schedule (a short warm-up, then down to a tenth of it at the
          last planned step: gru_core/schedule.py).
          Why these: for the same number of training characters, many small updates learn
          faster than few large ones. On GPL-3 and argparse.py, 100,000 to 250,000 characters
          in (the app's first minute or so), H 128, T 32, B 16 at lr 1e-2 reached the lowest
          held-out loss of the settings tried, char-rnn's H 128-256, T 64, B 32, lr 2e-3
          among them. Held constant, that rate blew up after 4-6 epochs of a 755 KB text;
          decayed, it settles instead (tests/benchmarks/long_runs.py judges it over whole
          runs, on texts it was not tuned on);
        - the reset gate applied after the matmul (torch.nn.GRU's form), so a model of a
          user's text leaves as a torch .pt (export-torch) without retraining;
        - epochs: about 20 million characters of training in all, from 2 to 20 epochs
          (a small text is best after a few epochs: 200 ran 20x past it);
        - patience FITTED_PATIENCE checks (about 4 an epoch), so a run stops when validation
          has not improved for about two epochs, and it ends on its best weights;
        - samples: 200 characters primed with a newline (a line start, as the text has)
          or, in a text without one, its first character.

        Each value a user gives in `overrides` replaces the fitted one, and the fitted
        values that depend on it follow it (B is fitted to a given T, validation to the
        text). `fitted` records the choice in one line for the config pane and the CLI.
        """
        n = len(text) if isinstance(text, str) else 0
        vocab_size = len(distinct_chars(text)) if isinstance(text, str) else 0
        prime = "\n" if isinstance(text, str) and text.find("\n", 1) >= 0 else (text[:1] if n else "")
        base: dict[str, Any] = dict(
            text=text, vocab=None, **_fitted_knobs(n, overrides), momentum=0.0, seed=1,
            reset="after", backward="manual", clip=5.0, layout="streams", init="uniform",
            dtype="float32", sample_len=200, sample_prime=prime, preset="fitted",
            lr_schedule="cosine", patience=FITTED_PATIENCE,
        )
        base.update(overrides)
        given = [k for k in FITTED_KNOBS if k in overrides]
        base.setdefault("fitted", _fitted_note(n, vocab_size, base, given))
        return cls(**base)

    def user_knobs(self) -> list[str]:
        """The FITTED_KNOBS of this config that are not the rule's choice for its text, each
        judged with the other knobs as they are (B fitted to a T the user chose is fitted)."""
        n = len(self.text)
        knobs = {k: getattr(self, k) for k in FITTED_KNOBS}
        return [k for k in FITTED_KNOBS
                if knobs[k] != _fitted_knobs(n, {j: v for j, v in knobs.items() if j != k})[k]]

    def refitted(self) -> "TrainConfig":
        """This fitted config with its `fitted` line made true again after knobs were edited
        (the app's Apply): the values it has, and which of them are the user's. A config
        that was not fitted is returned as it is."""
        if self.preset != "fitted" or not self.fitted:
            return self
        found = re.search(r"\(V (\d+)\)", self.fitted)  # the text is the one fitted to
        vocab_size = int(found.group(1)) if found else len(self.vocab_chars)
        knobs = {k: getattr(self, k) for k in FITTED_KNOBS}
        note = _fitted_note(len(self.text), vocab_size, knobs, self.user_knobs())
        return self if note == self.fitted else self.replace(fitted=note)

    @classmethod
    def preset_named(cls, name: str, **overrides: Any) -> "TrainConfig":
        if name == "article":
            return cls.article(**overrides)
        if name == "default":
            return cls.default(**overrides)
        if name == "fitted":
            return cls.for_text(overrides.pop("text", ARTICLE_TEXT), **overrides)
        raise GRUError(f"preset must be one of default, article, fitted; got {name!r}")

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with some fields changed, validated like any new config."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise GRUError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    # -------------------------------------------------------------- validation
    def validate(self) -> None:
        if not isinstance(self.text, str):
            raise GRUError(f"text must be a string; got {type(self.text).__name__}")
        if not self.text:
            raise GRUError("text is empty; give at least a few characters to learn from")
        if len(self.text) > MAX_TEXT_CHARS:
            raise GRUError(
                f"text has {len(self.text):,} characters; the limit is {MAX_TEXT_CHARS:,}"
            )
        _int_in("hidden_size", self.hidden_size, 1, MAX_HIDDEN)
        _int_in("seq_len", self.seq_len, 1, MAX_SEQ_LEN)
        _int_in("batch_size", self.batch_size, 1, MAX_BATCH)
        _int_in("epochs", self.epochs, 1, MAX_EPOCHS)
        _int_in("seed", self.seed, 0, 2**63 - 1)
        _int_in("sample_len", self.sample_len, 0, 100_000)
        _int_in("patience", self.patience, 0, 1_000_000)
        _int_in("val_every", self.val_every, 0, 100_000_000)
        if not isinstance(self.guard, bool):
            raise GRUError(f"guard must be True or False (on or off); got {self.guard!r}")
        if not isinstance(self.fitted, str):
            raise GRUError(f"fitted must be a string; got {self.fitted!r}")
        _float_in("lr", self.lr, 0.0, MAX_LR, low_open=True)
        _float_in("momentum", self.momentum, 0.0, 0.999, low_open=False)
        _float_in("clip", self.clip, 0.0, 1e6, low_open=False)
        _float_in("val_fraction", self.val_fraction, 0.0, 0.5, low_open=False)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("reset", self.reset, RESETS)
        _choice("backward", self.backward, BACKWARDS)
        _choice("layout", self.layout, LAYOUTS)
        _choice("device", self.device, DEVICES)
        _choice("dtype", self.dtype, DTYPES)
        _choice("init", self.init, INITS)
        _choice("lr_schedule", self.lr_schedule, SCHEDULES)
        if self.vocab is not None:
            if not isinstance(self.vocab, str) or not self.vocab:
                raise GRUError(f"vocab must be a non-empty string of characters; got {self.vocab!r}")
            if len(set(self.vocab)) != len(self.vocab):
                raise GRUError(f"vocab lists a character twice: {self.vocab!r}")
            missing = sorted(set(distinct_chars(self.text)) - set(self.vocab))
            if missing:
                raise GRUError(
                    f"vocab {self.vocab!r} lacks characters of the text: {_show_chars(missing)}"
                )
        if not isinstance(self.sample_prime, str):
            raise GRUError(f"sample_prime must be a string; got {self.sample_prime!r}")
        train_chars = self.train_chars
        need = self.min_text_chars
        if train_chars < need:
            where = "the training part of the text" if self.val_fraction else "text"
            raise GRUError(
                f"{where} has {train_chars} characters; batch_size {self.batch_size} x "
                f"seq_len {self.seq_len} needs at least {need} "
                f"(lower batch_size or seq_len, or give more text)"
            )

    @property
    def vocab_chars(self) -> str:
        """The vocabulary in index order: explicit, or the text's characters sorted."""
        return self.vocab if self.vocab is not None else distinct_chars(self.text)

    @property
    def train_chars(self) -> int:
        """How many characters of the text are used for training (the rest validate)."""
        n = len(self.text)
        return n - int(n * self.val_fraction) if self.val_fraction else n

    @property
    def min_text_chars(self) -> int:
        """The fewest characters the training part needs for one batch."""
        # streams: B streams of at least T steps; article: (n - 1) // T samples >= B.
        # Both come to B * T inputs plus the one extra target character.
        return self.batch_size * self.seq_len + 1

    def check_every(self, num_batches: int) -> int:
        """Steps between validation checks and samples within an epoch of num_batches batches
        (an epoch's end is always one): val_every, or about CHECKS_PER_EPOCH an epoch but no
        closer than MIN_CHECK_STEPS (the article's 3-batch epochs: one check, at the end)."""
        return self.val_every or max(-(-num_batches // CHECKS_PER_EPOCH), min(num_batches, MIN_CHECK_STEPS))

    @property
    def prime(self) -> str:
        return self.sample_prime or self.text[0]


@functools.lru_cache(maxsize=2)
def distinct_chars(text: str, chunk: int = 1 << 20) -> str:
    """The text's distinct characters, sorted: the vocabulary's order. Read a chunk at a
    time, so a 50 MB text never holds the GIL for long (the app's UI thread shares it), and
    kept for the last two texts asked about (every config of a run has the same text)."""
    seen: set[str] = set()
    for start in range(0, len(text), chunk):
        seen.update(text[start:start + chunk])
    return "".join(sorted(seen))


FITTED_PATIENCE = 8  # validation checks without a new best (about two epochs)
FITTED_MAX_EPOCHS = 20
_SHORT = {"hidden_size": "H", "seq_len": "T", "batch_size": "B", "val_fraction": "val"}
FITTED_KNOBS = ("hidden_size", "seq_len", "batch_size", "lr", "optimizer", "val_fraction", "epochs")


def _fitted_knobs(n: int, overrides: dict[str, Any]) -> dict[str, Any]:
    """TrainConfig.for_text's rule for a text of n characters: the FITTED_KNOBS, the ones
    in `overrides` taken as given (the knobs that depend on them follow them)."""
    T = overrides.get("seq_len")
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        T = 32 if n >= 2048 else max(8, min(32, n // 64))
    val = overrides.get("val_fraction")
    if not isinstance(val, (int, float)) or isinstance(val, bool):
        val = 0.1 if n >= 5000 else 0.0
    train_n = n - int(n * val) if val else n
    B = overrides.get("batch_size")
    if not isinstance(B, int) or isinstance(B, bool) or B < 1:
        B = max(1, min(16, train_n // (T * 8)))
        while B > 1 and train_n < B * T + 1:
            B -= 1
    H = overrides.get("hidden_size")
    if not isinstance(H, int) or isinstance(H, bool) or H < 1:
        H = 128
    lr = 1e-2 if H <= 128 else 5e-3
    epochs = max(2, min(FITTED_MAX_EPOCHS, round(20_000_000 / max(train_n, 1))))
    return dict(hidden_size=H, seq_len=T, batch_size=B, lr=lr, optimizer="adam",
                val_fraction=val, epochs=epochs)


def _fitted_note(n: int, vocab_size: int, knobs: dict[str, Any], given: list[str]) -> str:
    """The one line that says what was fitted and why, and which knobs are the user's."""
    lr = knobs["lr"]
    lr_text = f"{lr:.0e}".replace("e-0", "e-") if isinstance(lr, float) else str(lr)
    val_text = f"val {knobs['val_fraction']:.0%}" if knobs["val_fraction"] else "no val"
    note = (f"fitted to {n:,} chars (V {vocab_size}): H {knobs['hidden_size']}, "
            f"T {knobs['seq_len']}, B {knobs['batch_size']}, {knobs['optimizer']} {lr_text}, "
            f"{val_text}")
    if given:
        note += f"; yours: {', '.join(_SHORT.get(k, k) for k in given)}"
    return note


def _show_chars(chars: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(c) for c in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


# ---------------------------------------------------------------- text -> value
def _parse_int(name: str, text: str) -> int:
    try:
        return int(text.strip().replace("_", ""))
    except (ValueError, AttributeError):
        raise GRUError(f"{name} must be a whole number; got {text!r}") from None


def _parse_float(name: str, text: str) -> float:
    try:
        value = float(text.strip())
    except (ValueError, AttributeError):
        raise GRUError(f"{name} must be a number such as 0.05; got {text!r}") from None
    return value


def _parse_clip(name: str, text: str) -> float:
    if text.strip().lower() in ("off", "none", ""):
        return 0.0
    return _parse_float(name, text)


def _parse_on_off(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise GRUError(f"{name} must be on or off; got {text!r}")


def _parse_choice(options: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, text: str) -> str:
        value = text.strip().lower()
        _choice(name, value, options)
        return value

    return parse


FIELD_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "hidden_size": _parse_int,
    "seq_len": _parse_int,
    "batch_size": _parse_int,
    "epochs": _parse_int,
    "seed": _parse_int,
    "sample_len": _parse_int,
    "patience": _parse_int,
    "val_every": _parse_int,
    "guard": _parse_on_off,
    "lr_schedule": _parse_choice(SCHEDULES),
    "lr": _parse_float,
    "momentum": _parse_float,
    "clip": _parse_clip,
    "val_fraction": _parse_float,
    "optimizer": _parse_choice(OPTIMIZERS),
    "reset": _parse_choice(RESETS),
    "backward": _parse_choice(BACKWARDS),
    "layout": _parse_choice(LAYOUTS),
    "device": _parse_choice(DEVICES),
    "dtype": _parse_choice(DTYPES),
    "init": _parse_choice(INITS),
}


def parse_field(name: str, text: str) -> Any:
    """Turn what a person typed into a field's value, or raise GRUError saying why not.

    Range checks are included: `parse_field("hidden_size", "0")` raises, so a form can
    validate each field as it is typed.
    """
    if name not in FIELD_PARSERS:
        raise GRUError(f"unknown config field {name!r}")
    value = FIELD_PARSERS[name](name, text)
    _check_one(name, value)
    return value


def _check_one(name: str, value: Any) -> None:
    """Validate a single field by building a config that only changes it."""
    probe = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    # enough text for any batch_size or seq_len in range on its own (the two together,
    # against the real text, are checked when the whole config is built)
    fits = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= max(MAX_BATCH, MAX_SEQ_LEN)
    probe["text"] = "x" * (value + 1 if fits and name in ("batch_size", "seq_len") else 64)
    probe["batch_size"] = 1
    probe["seq_len"] = 1
    probe[name] = value
    TrainConfig(**probe)
