"""The headless command, `gru-tui train`, and the config flags the app shares with it.

Importing this module does not import torch: the app parses its flags with
`add_config_arguments` / `config_from_args` before torch is loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from .config import BACKWARDS, DEVICES, DTYPES, OPTIMIZERS, RESETS, TrainConfig
from .errors import GRUError
from .printable import visible
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
    parser.add_argument("--hidden", type=_int("--hidden"), dest="hidden_size", help="hidden size H")
    parser.add_argument("--seq-len", type=_int("--seq-len"), dest="seq_len", help="time steps per batch T")
    parser.add_argument("--batch", type=_int("--batch"), dest="batch_size", help="sequences per batch B")
    parser.add_argument("--lr", type=_float("--lr"), help="learning rate")
    parser.add_argument("--optimizer", type=_lower, choices=OPTIMIZERS)
    parser.add_argument("--momentum", type=_float("--momentum"), help="SGD momentum")
    parser.add_argument("--epochs", type=_int("--epochs"))
    parser.add_argument("--seed", type=_int("--seed"))
    parser.add_argument("--reset", type=_lower, choices=RESETS, help="where the reset gate applies")
    parser.add_argument("--backward", type=_lower, choices=BACKWARDS, help="autograd or hand-derived BPTT")
    parser.add_argument("--clip", type=_float("--clip"), help="max gradient norm; 0 turns it off")
    parser.add_argument("--device", type=_lower, choices=DEVICES)
    parser.add_argument("--dtype", type=_lower, choices=DTYPES)
    parser.add_argument("--val", type=_float("--val"), dest="val_fraction",
                        help="share of the text held out for validation, e.g. 0.1")
    parser.add_argument("--sample-len", type=_int("--sample-len"), dest="sample_len",
                        help="characters sampled at each epoch end")
    parser.add_argument("--prime", dest="sample_prime", help="prime for the epoch-end samples")
    parser.add_argument("--patience", type=_int("--patience"),
                        help="stop after N validation checks without a new best (0: never)")
    parser.add_argument("--threads", type=_int("--threads"), default=None,
                        help="torch intra-op threads for training (default: all cores headless; "
                        "the app keeps one for itself on machines with more than two)")


def _int(flag: str):
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} takes a whole number; got {text!r}") from None
    parse.__name__ = "whole number"
    return parse


def _float(flag: str):
    def parse(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} takes a number; got {text!r}") from None
    parse.__name__ = "number"
    return parse


def _lower(text: str) -> str:
    return text.lower()


CONFIG_FLAGS = (
    "hidden_size", "seq_len", "batch_size", "lr", "optimizer", "momentum", "epochs", "seed",
    "reset", "backward", "clip", "device", "dtype", "val_fraction", "sample_len", "sample_prime",
    "patience",
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
            _silence(self.stream)

    def isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except (ValueError, OSError):
            return False


def _silence(stream: TextIO) -> None:
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
    parser = make_parser(description="Train the GRU headless and print the loss per epoch.")
    parser.add_argument("--save", metavar="PATH",
                        help="save a checkpoint here at the end; given a folder, name it by step and "
                        "validation loss (gru-tui-step900-val2.80.ckpt)")
    parser.add_argument("--load", metavar="PATH", help="resume from this checkpoint")
    parser.add_argument("--every", type=_int("--every"), default=None,
                        help="print every N epochs (default: about 20 lines in all)")
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
        if args.every is not None and args.every < 1:
            raise GRUError(f"--every must be a whole number of at least 1 (print every N epochs); "
                           f"got {args.every}")
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


BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader went away


def _train(args: argparse.Namespace, out: _Output) -> int:
    from .history import History
    from .trainer import Trainer  # torch loads here, after the flags are known to be valid

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)

    if args.load:
        from .checkpoint import load_checkpoint

        trainer, history = load_checkpoint(args.load)
        if args.epochs is not None:
            trainer.config = trainer.config.replace(epochs=args.epochs)
    else:
        config = config_from_args(args)  # the prime is checked here, before any training
        trainer, history = Trainer(config), History()
    config = trainer.config
    every = args.every or max(1, config.epochs // 20)
    if config.fitted:
        out.print(visible(str(config.fitted), keep_newlines=True))
    tty = out.isatty()
    out.print(
        f"training on {len(config.text):,} characters ({visible(config.source)}), vocabulary "
        f"{trainer.vocab.size}, hidden {config.hidden_size}, {trainer.num_batches} batches "
        f"of {config.batch_size}x{config.seq_len}, {config.optimizer} lr {config.lr:g}"
    )
    saving = bool(args.save or args.export_csv or args.export_json)
    t0, steps0 = time.perf_counter(), trainer.step_count
    while trainer.epoch < config.epochs:
        e = trainer.epoch
        records = trainer.run_epoch()
        for k, r in enumerate(records):
            history.add_step(r.loss, epoch_end=k == len(records) - 1)
        mean = history.epoch_losses[-1]
        if tty:
            bar = "#" * int(30 * trainer.epoch / config.epochs)
            out.print(f"\r[{bar:<30}] epoch {trainer.epoch}/{config.epochs} loss {mean:.4f}",
                      end="", flush=True)
        if e % every == 0 or trainer.epoch == config.epochs:
            if tty:
                out.print()
            val = trainer.validate()
            if val is not None:
                history.add_val(trainer.step_count, val)
            val_text = f"  val {val:.4f}" if val is not None else ""
            out.print(f"Epoch: {e + 1}/{config.epochs}")
            out.print(f"Loss: {mean:.4f}{val_text}")
            out.print(visible(trainer.sample(config.prime, config.sample_len, temperature=0),
                              keep_newlines=True), flush=True)
            if trainer.out_of_patience:
                out.print(f"stopped: {config.patience} validation checks without a new best "
                          f"(best val {trainer.best_val:.4f} at step {trainer.best_step})")
                break
        if out.closed and not saving:
            return BROKEN_PIPE
    seconds = time.perf_counter() - t0
    chars = (trainer.step_count - steps0) * trainer.chars_per_step
    out.print(f"done: {trainer.step_count} steps, {chars / max(seconds, 1e-9):,.0f} characters/s")
    if args.save:
        from .checkpoint import checkpoint_name, describe_weights, save_checkpoint

        path = args.save
        if os.path.isdir(path):  # a folder: char-rnn's name, so runs saved there do not collide
            val = history.val_losses[-1][1] if history.val_losses else None
            path = os.path.join(path, checkpoint_name(trainer.step_count, val))
        save_checkpoint(trainer, history, path)
        out.print(f"saved checkpoint to {visible(path)}: {describe_weights(trainer)}")
    if args.export_csv:
        from .export import export_loss_csv

        export_loss_csv(history, args.export_csv)
        out.print(f"wrote loss history to {visible(args.export_csv)}")
    if args.export_json:
        from .export import export_trace_json

        export_trace_json(trainer, args.export_json)
        out.print(f"wrote the current batch's matrices to {visible(args.export_json)}")
    return BROKEN_PIPE if out.closed else 0
