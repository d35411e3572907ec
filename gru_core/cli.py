"""The headless command, `gru-tui train`, and the config flags the app shares with it.

Importing this module does not import torch: the app parses its flags with
`add_config_arguments` / `config_from_args` before torch is loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from .config import BACKWARDS, DEVICES, DTYPES, OPTIMIZERS, RESETS, TrainConfig
from .errors import GRUError
from .printable import visible


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


def check_threads(value: int) -> int:
    """A --threads value, or GRUError saying what would work."""
    if not 1 <= value <= 1024:
        raise GRUError(f"--threads must be from 1 to 1024; got {value}")
    return value


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


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The preset, then the text source, then every flag given; GRUError if invalid.

    A text from --file or --corpus gets settings fitted to it (TrainConfig.for_text)
    unless --preset names a preset; the flags given always win.
    """
    overrides = {k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k, None) is not None}
    text_source = text_from_args(args)
    preset = getattr(args, "preset", None)
    if text_source is not None:
        text, source = text_source
        overrides.update(text=text, source=source, vocab=None)
        fit = preset == "fitted" or (preset is None and source != "text")
        if fit:
            return TrainConfig.for_text(**overrides)
        if preset == "article":
            overrides.setdefault("layout", "streams")
        if "sample_prime" not in overrides:
            overrides["sample_prime"] = text[0]
    elif preset == "fitted":
        from .config import ARTICLE_TEXT

        return TrainConfig.for_text(ARTICLE_TEXT, **overrides)
    return TrainConfig.preset_named(preset or "default", **overrides)


def text_from_args(args: argparse.Namespace) -> tuple[str, str] | None:
    if getattr(args, "text", None) is not None:
        return args.text, "text"
    if getattr(args, "file", None) is not None:
        from .textfile import read_text_file

        return read_text_file(args.file), f"file:{args.file}"
    if getattr(args, "corpus", None) is not None:
        from .corpora import load_corpus

        return load_corpus(args.corpus), f"corpus:{args.corpus}"
    return None


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
    try:
        args = parser.parse_args(argv)
        if args.list_corpora:
            from .corpora import describe_corpora

            print(describe_corpora(), file=out)
            return 0
        return _train(args, out)
    except GRUError as exc:
        print(f"gru-tui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gru-tui: interrupted", file=sys.stderr)
        return 130


def _train(args: argparse.Namespace, out: TextIO) -> int:
    from .history import History
    from .trainer import Trainer  # torch loads here, after the flags are known to be valid

    if args.threads is not None:
        import torch

        torch.set_num_threads(check_threads(args.threads))

    if args.load:
        from .checkpoint import load_checkpoint

        trainer, history = load_checkpoint(args.load)
        if args.epochs is not None:
            trainer.config = trainer.config.replace(epochs=args.epochs)
    else:
        trainer, history = Trainer(config_from_args(args)), History()
    config = trainer.config
    every = args.every or max(1, config.epochs // 20)
    if config.fitted:
        print(config.fitted, file=out)
    tty = out.isatty()
    print(
        f"training on {len(config.text):,} characters ({config.source}), vocabulary "
        f"{trainer.vocab.size}, hidden {config.hidden_size}, {trainer.num_batches} batches "
        f"of {config.batch_size}x{config.seq_len}, {config.optimizer} lr {config.lr:g}",
        file=out,
    )
    t0, steps0 = time.perf_counter(), trainer.step_count
    while trainer.epoch < config.epochs:
        e = trainer.epoch
        records = trainer.run_epoch()
        for k, r in enumerate(records):
            history.add_step(r.loss, epoch_end=k == len(records) - 1)
        mean = history.epoch_losses[-1]
        if tty:
            bar = "#" * int(30 * trainer.epoch / config.epochs)
            print(f"\r[{bar:<30}] epoch {trainer.epoch}/{config.epochs} loss {mean:.4f}",
                  end="", file=out, flush=True)
        if e % every == 0 or trainer.epoch == config.epochs:
            if tty:
                print(file=out)
            val = trainer.validate()
            if val is not None:
                history.add_val(trainer.step_count, val)
            val_text = f"  val {val:.4f}" if val is not None else ""
            print(f"Epoch: {e + 1}/{config.epochs}", file=out)
            print(f"Loss: {mean:.4f}{val_text}", file=out)
            print(trainer.sample(config.prime, config.sample_len, temperature=0), file=out, flush=True)
            if trainer.out_of_patience:
                print(f"stopped: {config.patience} validation checks without a new best "
                      f"(best val {trainer.best_val:.4f} at step {trainer.best_step})", file=out)
                break
    seconds = time.perf_counter() - t0
    chars = (trainer.step_count - steps0) * trainer.chars_per_step
    print(f"done: {trainer.step_count} steps, {chars / max(seconds, 1e-9):,.0f} characters/s",
          file=out)
    if args.save:
        from .checkpoint import checkpoint_name, save_checkpoint

        path = args.save
        if os.path.isdir(path):  # a folder: char-rnn's name, so runs saved there do not collide
            val = history.val_losses[-1][1] if history.val_losses else None
            path = os.path.join(path, checkpoint_name(trainer.step_count, val))
        save_checkpoint(trainer, history, path)
        print(f"saved checkpoint to {visible(path)}: {describe_weights(trainer)}", file=out)
    if args.export_csv:
        from .export import export_loss_csv

        export_loss_csv(history, args.export_csv)
        print(f"wrote loss history to {args.export_csv}", file=out)
    if args.export_json:
        from .export import export_trace_json

        export_trace_json(trainer, args.export_json)
        print(f"wrote the current batch's matrices to {args.export_json}", file=out)
    return 0


def describe_weights(trainer) -> str:
    """Which weights a save writes: the current ones, said against the best kept copy."""
    now = f"the weights of step {trainer.step_count}"
    if trainer.best_state is None:
        return now
    if trainer.best_step == trainer.step_count:
        return f"{now}, the best so far (val {trainer.best_val:.4f})"
    return (f"{now} (the best, val {trainer.best_val:.4f} at step {trainer.best_step}, "
            f"are not these: restore them first to save them)")
