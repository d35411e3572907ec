"""The headless command, `gru-tui train`, and the config flags the app shares with it.

Importing this module does not import torch: the app parses its flags with
`add_config_arguments` / `config_from_args` before torch is loaded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .advice import LOWER_LR, Advice, training_advice
from .config import BACKWARDS, DEVICES, DTYPES, OPTIMIZERS, RESETS, TrainConfig
from .errors import GRUError
from .formatting import duration, fixed, setting, significant, whole
from .printable import visible
from .schedule import SCHEDULES
from .threads import check_threads


class FlagParser(argparse.ArgumentParser):
    """argparse, but a bad flag is a GRUError (one line, exit 2) instead of usage spam."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse quotes the arguments as given: a newline or ESC in one must not reach the terminal
        raise GRUError(f"{visible(message)} (see {self.prog} --help)")


def make_parser(prog: str = "gru-tui train", description: str | None = None) -> argparse.ArgumentParser:
    parser = FlagParser(prog=prog, description=description)
    add_config_arguments(parser)
    return parser


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for every TrainConfig field a user sets, shared by `gru-tui` and `gru-tui train`."""
    parser.add_argument("--preset", choices=["default", "article", "fitted"], default=None,
                        help="starting settings: 'article' reproduces the article exactly; "
                        "'fitted' (the default with --file or --corpus) fits them to the text; "
                        "'default' (otherwise) learns the article's text in a second")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--text", help="train on this text")
    src.add_argument("--file", metavar="PATH", help="train on a UTF-8 text file")
    src.add_argument("--corpus", metavar="NAME", help="train on a built-in text (see --list-corpora)")
    parser.add_argument("--hidden", type=int_arg("--hidden"), dest="hidden_size", help="hidden size H")
    parser.add_argument("--seq-len", type=int_arg("--seq-len"), dest="seq_len", help="time steps per batch T")
    parser.add_argument("--batch", type=int_arg("--batch"), dest="batch_size", help="sequences per batch B")
    parser.add_argument("--lr", type=float_arg("--lr"), help="learning rate")
    parser.add_argument("--optimizer", type=_lower, choices=OPTIMIZERS)
    parser.add_argument("--momentum", type=float_arg("--momentum"), help="SGD momentum")
    parser.add_argument("--epochs", type=int_arg("--epochs"))
    parser.add_argument("--seed", type=int_arg("--seed"))
    parser.add_argument("--reset", type=_lower, choices=RESETS, help="where the reset gate applies")
    parser.add_argument("--backward", type=_lower, choices=BACKWARDS, help="autograd or hand-derived BPTT")
    parser.add_argument("--clip", type=float_arg("--clip"), help="max gradient norm; 0 turns it off")
    parser.add_argument("--device", type=_lower, choices=DEVICES)
    parser.add_argument("--dtype", type=_lower, choices=DTYPES)
    parser.add_argument("--val", type=float_arg("--val"), dest="val_fraction",
                        help="share of the text held out for validation, e.g. 0.1")
    parser.add_argument("--sample-len", type=int_arg("--sample-len"), dest="sample_len",
                        help="characters sampled at each epoch end")
    parser.add_argument("--prime", dest="sample_prime", help="prime for the epoch-end samples")
    parser.add_argument("--patience", type=int_arg("--patience"),
                        help="stop after N validation checks without a new best (0: never; "
                        "fitted runs: 8)")
    parser.add_argument("--lr-schedule", type=_lower, choices=SCHEDULES, dest="lr_schedule",
                        help="how lr changes over the run: constant, or cosine (a short warm-up, "
                        "then down to a tenth at the last planned step; the fitted default)")
    parser.add_argument("--val-every", type=int_arg("--val-every"), dest="val_every",
                        help="steps between validation checks and samples (default: about 4 an "
                        "epoch, and every epoch end)")
    parser.add_argument("--guard", type=_on_off("--guard"), choices=(True, False), metavar="{on,off}",
                        help="on a diverging run put back the last good weights and halve lr "
                        "(default on; off for the article preset)")
    parser.add_argument("--threads", type=int_arg("--threads"), default=None,
                        help="torch intra-op threads for training (default: 1 on a 1-2 core "
                        "machine; all cores headless, all but one in the app, on more)")


def int_arg(flag: str) -> Callable[[str], int]:
    """An argparse `type` for a flag that takes a whole number; a bad one names the flag."""
    return _number_arg(flag, int, "whole number")


def float_arg(flag: str) -> Callable[[str], float]:
    """An argparse `type` for a flag that takes a number; a bad one names the flag."""
    return _number_arg(flag, float, "number")


def _number_arg(flag: str, kind: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} takes a {name}; got {text!r}") from None
    parse.__name__ = name  # argparse names the type in its own messages
    return parse


def _lower(text: str) -> str:
    return text.lower()


def _on_off(flag: str):
    def parse(text: str) -> bool:
        value = text.strip().lower()
        if value in ("on", "off"):
            return value == "on"
        raise argparse.ArgumentTypeError(f"{flag} takes on or off; got {text!r}")
    parse.__name__ = "on/off"
    return parse


CONFIG_FLAGS = (
    "hidden_size", "seq_len", "batch_size", "lr", "optimizer", "momentum", "epochs", "seed",
    "reset", "backward", "clip", "device", "dtype", "val_fraction", "sample_len", "sample_prime",
    "patience", "lr_schedule", "val_every", "guard",
)


def config_from_args(args: argparse.Namespace, progress: Callable[[str], None] | None = None) -> TrainConfig:
    """The config the flags describe (see _config_from_args), its --prime checked before training.

    progress, if given, hears how reading and fitting a --file goes (the app shows it)."""
    config = _config_from_args(args, progress)
    unknown = sorted(set(config.prime) - set(config.vocab_chars))
    if unknown:
        shown = ", ".join(repr(visible(c)) for c in unknown[:10])
        raise GRUError(f"--prime {visible(config.prime)!r} has characters the text lacks: {shown}; "
                       f"use characters of the text, such as {visible(config.vocab_chars[:20])!r}")
    return config


def _config_from_args(args: argparse.Namespace, progress: Callable[[str], None] | None = None) -> TrainConfig:
    """The preset, then the text source, then every flag given; GRUError if invalid.

    A text from --file or --corpus gets settings fitted to it (TrainConfig.for_text)
    unless --preset names a preset; the flags given always win. A --prime is checked
    against the text's characters here, before any training.
    """
    overrides = {k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k, None) is not None}
    if "sample_prime" in overrides:
        _check_unicode("--prime", overrides["sample_prime"])
    text_source = text_from_args(args, progress)
    preset = getattr(args, "preset", None)
    if text_source is not None:
        text, source = text_source
        overrides.update(text=text, source=source, vocab=None)
        fit = preset == "fitted" or (preset is None and source != "text")
        if fit:
            if progress is not None:
                progress(f"fitting the settings to {len(text):,} characters")
            return TrainConfig.for_text(**overrides)
        if preset == "article":
            overrides.setdefault("layout", "streams")
        if "sample_prime" not in overrides:
            overrides["sample_prime"] = text[0]
    elif preset == "fitted":
        from .config import ARTICLE_TEXT

        return TrainConfig.for_text(ARTICLE_TEXT, **overrides)
    return TrainConfig.preset_named(preset or "default", **overrides)


def text_from_args(args: argparse.Namespace,
                   progress: Callable[[str], None] | None = None) -> tuple[str, str] | None:
    if getattr(args, "text", None) is not None:
        if not args.text:
            raise GRUError("--text is empty; give at least a few characters to learn from, "
                           "e.g. --text 'MathMathMath'")
        _check_unicode("--text", args.text)
        return args.text, "text"
    if getattr(args, "file", None) is not None:
        from .textfile import read_text_file

        return read_text_file(args.file, progress=progress), f"file:{args.file}"
    if getattr(args, "corpus", None) is not None:
        from .corpora import load_corpus

        return load_corpus(args.corpus), f"corpus:{args.corpus}"
    return None


def _check_unicode(flag: str, text: str) -> None:
    """GRUError for a lone surrogate: the stand-in Python uses for argv bytes that are not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise GRUError(f"{flag} holds {ascii(bad)}, a byte that is not UTF-8 text (at character "
                       f"{exc.start}); give it as UTF-8") from None


# flags that set up a new run: a resumed run keeps its checkpoint's, so they cannot apply
_NEW_RUN_FLAGS = ("text", "file", "corpus") + tuple(k for k in CONFIG_FLAGS if k != "epochs")


def check_load_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """With --load, refuse the flags a resumed run would ignore (all but --epochs)."""
    load = getattr(args, "load", None)
    if load is None:
        return
    if not load:
        raise GRUError("--load needs the path of a checkpoint; got an empty one")
    given = [k for k in _NEW_RUN_FLAGS if getattr(args, k, None) is not None]
    if given:
        names = {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings}
        flags = ", ".join(names.get(k, k) for k in given)
        raise GRUError(f"--load resumes the checkpoint's own text and settings, so {flags} would be "
                       f"ignored; only --epochs applies to a resumed run: drop {flags}, or leave out "
                       f"--load to start a new run")


def check_outputs(args: argparse.Namespace) -> None:
    """Check --save and the exports before any training: a run is never lost to a bad path.

    No output may name an input (the --file text, the --load checkpoint), links resolved,
    and each output's folder must take a new file (a temporary one is created and removed).
    """
    from .atomic import check_not_an_input, check_save_target, check_writable, same_file

    outputs = [(flag, getattr(args, dest), what) for flag, dest, what in (
        ("--save", "save", "checkpoint"), ("--export-csv", "export_csv", "loss history"),
        ("--export-json", "export_json", "matrices")) if getattr(args, dest, None) is not None]
    inputs = {flag: getattr(args, dest) for flag, dest in (("--file", "file"), ("--load", "load"))
              if getattr(args, dest, None)}
    if getattr(args, "save", None) and os.path.isdir(args.save):
        try:
            check_writable(args.save, what="checkpoint")
        except GRUError as exc:
            raise GRUError(f"--save: {exc}") from None
        outputs = outputs[1:]  # a folder: the checkpoint gets a name of its own in it
    for flag, path, what in outputs:
        try:
            check_save_target(path, what=what)
            check_not_an_input(path, inputs)
            check_writable(path, what=what)
        except GRUError as exc:
            raise GRUError(f"{flag}: {exc}") from None
    for i, (flag_a, path_a, _) in enumerate(outputs):
        for flag_b, path_b, _ in outputs[i + 1:]:
            if same_file(path_a, path_b):
                raise GRUError(f"{flag_a} and {flag_b} name the same file {visible(path_a)!r}; "
                               f"the second would overwrite the first: give each its own path")


class _Output:
    """stdout for `gru-tui train`: text from data shown harmlessly, a closed pipe noted.

    When the reader goes away (`gru-tui train ... | head -2`), printing stops quietly;
    the caller decides whether the run goes on (it does when there is something to save).
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.closed = False

    def print(self, text: str = "", *, end: str = "\n", flush: bool = False) -> None:
        if self.closed:
            return
        try:
            print(text, end=end, file=self.stream, flush=flush)
        except BrokenPipeError:
            self.closed = True
            silence(self.stream)

    def isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except (ValueError, OSError):
            return False


def silence(stream: TextIO) -> None:
    """Point a closed stdout at /dev/null, so Python's final flush does not complain."""
    if stream is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def train_main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """`gru-tui train ...`: train headless, print each epoch's loss and a sample."""
    out = out or sys.stdout
    parser = make_parser(description="Train the GRU headless and print the loss per epoch, "
                         "through the same training loop as the app (gru_core/loop.py).")
    parser.add_argument("--save", metavar="PATH",
                        help="save a checkpoint here at the end (and at Ctrl-C): the best weights "
                        "validation found, unless --save-last; given a folder, name it by step and "
                        "validation loss (gru-tui-step900-val2.80.ckpt)")
    parser.add_argument("--save-last", action="store_true",
                        help="end on (and save) the last weights, not the best ones")
    parser.add_argument("--save-every", type=int_arg("--save-every"), default=None, metavar="N",
                        help="also write a checkpoint every N steps, named by step and validation "
                        "loss, into --save's folder (the current one without --save)")
    parser.add_argument("--load", metavar="PATH", help="resume from this checkpoint")
    parser.add_argument("--every", type=int_arg("--every"), default=None,
                        help="print every N epochs (default: about 20 lines in all)")
    parser.add_argument("--temperature", type=float_arg("--temperature"), default=None,
                        help="of the samples printed at checks (default 1, as in the app: the "
                        "model's own probabilities; 0 takes the most likely character)")
    parser.add_argument("--export-csv", metavar="PATH", help="write the loss history as CSV")
    parser.add_argument("--export-json", metavar="PATH", help="write the current batch's matrices as JSON")
    parser.add_argument("--list-corpora", action="store_true", help="list the built-in texts and exit")
    if out is sys.stdout and hasattr(out, "reconfigure"):
        # a text may hold characters a strict or narrow stdout cannot encode: escape, not crash
        out.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    output = _Output(out)
    try:
        args = parser.parse_args(argv)
        if args.list_corpora:
            from .corpora import describe_corpora

            output.print(describe_corpora())
            return 0
        for flag, value, what in (("--every", args.every, "print every N epochs"),
                                  ("--save-every", args.save_every, "save every N steps")):
            if value is not None and value < 1:
                raise GRUError(f"{flag} must be a whole number of at least 1 ({what}); got {value}")
        if args.temperature is not None and not 0 <= args.temperature <= 100:
            raise GRUError(f"--temperature must be from 0 (the most likely character) to 100; "
                           f"got {setting(args.temperature)}")
        if args.threads is not None:
            check_threads(args.threads)
        check_load_flags(args, parser)
        check_outputs(args)
        return _train(args, output)
    except GRUError as exc:
        print(f"gru-tui: error: {visible(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gru-tui: interrupted", file=sys.stderr)
        return 130


# how `gru-tui train` puts the best weights in the file (the app has a key for it)
KEEP_BEST = "save without --save-last to keep them"
BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader went away
INTERRUPTED = 130  # 128 + SIGINT


class _Printer:
    """The loop's listener for `gru-tui train`: epoch lines, warnings, a progress line on a tty."""

    def __init__(self, out: _Output, every: int, total_epochs: int) -> None:
        self.out, self.every, self.total_epochs = out, every, total_epochs
        self.tty = out.isatty()
        self.last_sample: str | None = None
        self._progress_at = 0.0
        self._progress_shown = False
        self._t0 = time.perf_counter()
        self._steps0: int | None = None
        self._advised: str | None = None  # the kind of advice printed last, said once until it changes

    def end_progress(self) -> None:
        if self._progress_shown:
            self.out.print("\r\x1b[2K", end="", flush=True)
            self._progress_shown = False

    def line(self, text: str = "") -> None:
        """A whole line, after clearing the progress line if one is shown."""
        self.end_progress()
        self.out.print(text, flush=True)

    # --- Listener
    def on_step(self, loop, record, epoch_end: bool) -> None:
        if self._steps0 is None:
            self._steps0, self._t0 = record.step - 1, time.perf_counter() - record.seconds
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self._progress_at < 0.1 and not epoch_end:
            return
        self._progress_at = now
        trainer = loop.trainer
        cfg = trainer.config
        steps = record.step - self._steps0
        rate = steps / max(now - self._t0, 1e-9)
        left = (cfg.epochs - trainer.epoch) * trainer.num_batches - trainer.batch_index
        planned = max(1, cfg.epochs * trainer.num_batches)
        done = (trainer.epoch * trainer.num_batches + trainer.batch_index) / planned
        epoch = f"epoch {min(trainer.epoch + 1, cfg.epochs)}/{cfg.epochs}"
        batch = f"batch {trainer.batch_index or trainer.num_batches}/{trainer.num_batches}"
        loss, time_left = f"loss {fixed(record.loss)}", f"{duration(left / rate)} left"
        tail = f"{loss} {whole(rate * trainer.chars_per_step)} chars/s {time_left}"
        width = shutil.get_terminal_size((100, 24)).columns - 1
        # A narrow terminal gets a shorter bar, then none, then no batch, then no rate: never a
        # cut number.
        forms = [f"[{'#' * int(n * min(1.0, done)):<{n}}] {epoch} {batch} {tail}" for n in (20, 10)]
        forms += [f"{epoch} {batch} {tail}", f"{epoch} {tail}", f"{epoch} {loss} {time_left}"]
        text = next((form for form in forms if len(form) <= width), forms[-1][:width])
        self.out.print("\r\x1b[2K" + text, end="", flush=True)
        self._progress_shown = True

    def on_check(self, loop, val, sample) -> None:
        self.last_sample = sample

    def on_epoch_end(self, loop, epoch: int, mean_loss: float) -> None:
        if (epoch - 1) % self.every and epoch != self.total_epochs:
            return
        history = loop.history
        val = history.val_losses[-1][1] if history.val_losses and history.val_losses[-1][0] == \
            loop.trainer.step_count else None
        val_text = f"  val {fixed(val)}" if val is not None else ""
        trainer = loop.trainer
        # the lr where it moves (a schedule, the guard); the article's own lines stay as it prints them
        lr_text = "" if trainer.lr == trainer.config.lr else f"  lr {significant(trainer.lr)}"
        self.line(f"Epoch: {epoch}/{self.total_epochs}")
        self.line(f"Loss: {fixed(mean_loss)}{lr_text}{val_text}")
        if self.last_sample is not None:
            self.line(visible(self.last_sample, keep_newlines=True))
        advice = training_advice(history.losses, history.val_losses, trainer.uniform_loss, trainer.lr)
        if advice is not None and advice.kind != self._advised:
            self.line(cli_advice(advice, loop.end_at_best))
        self._advised = advice.kind if advice is not None else None

    def on_event(self, loop, event) -> None:
        prefix = "warning: " if event.kind == "diverged" else ""
        self.line(prefix + event.message)


def cli_advice(advice: Advice, end_at_best: bool) -> str:
    """gru_core's advice with the remedy in `gru-tui train`'s own words: its flags."""
    if advice.action == LOWER_LR:
        return advice.line(f"try --lr {significant(advice.figures['lr'])}")  # the run's lr is in the header
    # restore_best: the run ends on the best weights unless --save-last keeps the last ones
    return advice.line("it ends on the best weights" if end_at_best else "drop --save-last for the best")


def _train(args: argparse.Namespace, out: _Output) -> int:
    from .history import History
    from .loop import DEFAULT_TEMPERATURE, TrainingLoop
    from .trainer import Trainer  # torch loads here, after the flags are known to be valid

    threads = "auto" if args.threads is None else args.threads
    if args.load:
        from .checkpoint import load_checkpoint

        trainer, history = load_checkpoint(args.load)
        trainer.threads = trainer.threads if args.threads is None else args.threads
        if args.epochs is not None:
            trainer.config = trainer.config.replace(epochs=args.epochs)
    else:
        config = config_from_args(args)  # the prime is checked here, before any training
        trainer, history = Trainer(config, threads=threads), History()
    config = trainer.config
    every = args.every or max(1, config.epochs // 20)
    printer = _Printer(out, every, config.epochs)
    temperature = DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    loop = TrainingLoop(trainer, history, listener=printer, sample_temperature=temperature,
                        end_at_best=not args.save_last)
    if config.fitted:
        out.print(visible(str(config.fitted), keep_newlines=True))
    schedule = "" if config.lr_schedule == "constant" else f" ({config.lr_schedule} schedule)"
    out.print(
        f"training on {len(config.text):,} characters ({visible(config.source)}), vocabulary "
        f"{trainer.vocab.size}, hidden {config.hidden_size}, {trainer.num_batches} batches "
        f"of {config.batch_size}x{config.seq_len}, {config.optimizer} lr {setting(config.lr)}{schedule}, "
        f"{config.epochs} epochs, samples at temperature {setting(temperature)}"
    )
    saving = bool(args.save or args.export_csv or args.export_json)
    t0, steps0 = time.perf_counter(), trainer.step_count
    try:
        while not loop.finished:
            outcome = loop.step()
            if args.save_every and outcome.record is not None and trainer.step_count % args.save_every == 0:
                _save_named(trainer, history, args.save, printer)
            if outcome.finished:
                break
            if out.closed and not saving:
                return BROKEN_PIPE
    except KeyboardInterrupt:
        printer.end_progress()
        best = (f"best val {fixed(trainer.best_val)} at step {trainer.best_step}"
                if trainer.best_val is not None else "no validation (no best weights kept)")
        saved = "nothing saved (no --save)"
        if args.save:
            if loop.end_at_best:
                loop.end_on_best()
            path = _save_path(args.save, trainer, history)
            from .checkpoint import save_checkpoint
            from .checkpoint_session import describe_weights

            save_checkpoint(trainer, history, path)
            saved = f"saved {describe_weights(trainer).line(KEEP_BEST)} to {visible(path)}"
        print(f"gru-tui: interrupted at step {trainer.step_count}: {best}; {saved}", file=sys.stderr)
        return INTERRUPTED
    printer.end_progress()
    seconds = time.perf_counter() - t0
    chars = (trainer.step_count - steps0) * trainer.chars_per_step
    best = ("" if trainer.best_val is None
            else f", best val {fixed(trainer.best_val)} @ step {trainer.best_step}")
    out.print(f"done: {trainer.step_count} steps, {whole(chars / max(seconds, 1e-9))} characters/s{best}")
    if args.save:
        from .checkpoint import save_checkpoint
        from .checkpoint_session import describe_weights

        path = _save_path(args.save, trainer, history)
        save_checkpoint(trainer, history, path)
        out.print(f"saved checkpoint to {visible(path)}: {describe_weights(trainer).line(KEEP_BEST)}")
    if args.export_csv:
        from .export import export_loss_csv

        export_loss_csv(history, args.export_csv)
        out.print(f"wrote loss history to {visible(args.export_csv)}")
    if args.export_json:
        from .export import export_trace_json

        export_trace_json(trainer, args.export_json)
        out.print(f"wrote the current batch's matrices to {visible(args.export_json)}")
    return BROKEN_PIPE if out.closed else 0


def _save_path(save: str, trainer, history) -> str:
    """--save's file, or in a folder char-rnn's name, so runs saved there do not collide."""
    if not os.path.isdir(save):
        return save
    from .checkpoint import checkpoint_name

    last = history.val_losses[-1] if history.val_losses else None
    val = last[1] if last is not None and last[0] == trainer.step_count else trainer.evaluate()
    return os.path.join(save, checkpoint_name(trainer.step_count, val))


def _save_named(trainer, history, save: str | None, printer: _Printer) -> None:
    """--save-every: a checkpoint named by its step and its own, freshly measured, validation loss."""
    from .checkpoint import checkpoint_name, save_checkpoint

    folder = "." if not save else save if os.path.isdir(save) else (os.path.dirname(save) or ".")
    path = os.path.join(folder, checkpoint_name(trainer.step_count, trainer.evaluate()))
    save_checkpoint(trainer, history, path)
    printer.line(f"saved checkpoint to {visible(path)}")
