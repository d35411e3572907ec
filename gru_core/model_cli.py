"""Commands on a saved model: `gru-tui sample`, `gru-tui export-torch`, `gru-tui export-safetensors`.

    gru-tui sample CKPT --prime P --len N --temperature T [--top-k K] [--prime-file F] [--seed S]
    gru-tui export-torch CKPT OUT.pt                 torch.nn.GRU + nn.Linear state dicts (reset-after)
    gru-tui export-safetensors CKPT OUT.safetensors  the weights, readable without pickle

CKPT is a checkpoint (saved by the app or `gru-tui train --save`) or, for sample, a
safetensors file. Errors are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .cli import BROKEN_PIPE, FlagParser, float_arg, int_arg, silence
from .errors import GRUError
from .printable import visible

MAX_SEED = 2**63 - 1  # what a run's --seed takes (TrainConfig.seed)


def sample_main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """`gru-tui sample`: print a sample from a saved model (control characters shown as symbols)."""
    parser = FlagParser(prog="gru-tui sample",
                        description="Print text sampled from a saved model, as char-rnn's sample "
                        "script does.")
    parser.add_argument("model", metavar="CKPT", help="a checkpoint or a safetensors file from gru-tui")
    prime = parser.add_mutually_exclusive_group()
    prime.add_argument("--prime", help="text to start from (default: the run's own prime)")
    prime.add_argument("--prime-file", metavar="PATH", help="read the prime from this UTF-8 file")
    parser.add_argument("--len", type=int_arg("--len"), default=200, dest="length",
                        help="characters to sample after the prime (default 200)")
    parser.add_argument("--temperature", type=float_arg("--temperature"), default=1.0,
                        help="0 takes the most likely character; 1 samples the model's probabilities; "
                        "higher is more random (default 1)")
    parser.add_argument("--top-k", type=int_arg("--top-k"), default=None, dest="top_k",
                        help="sample among the K most likely characters only")
    parser.add_argument("--seed", type=int_arg("--seed"), default=None,
                        help="seed the sampler, for the same text every time")
    return _run(parser, argv, lambda args: _sample(args, out or sys.stdout))


def export_torch_main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """`gru-tui export-torch CKPT OUT.pt`."""
    def write(saved, path: str) -> str:
        from .portable import export_torch

        export_torch(saved, path)
        V, H = saved.vocab.size, saved.model.hidden_size
        return f"torch.nn.GRU({V}, {H}) + nn.Linear({H}, {V})"

    return _export_main(
        "export-torch", "OUT.pt", write, argv, out,
        "Write a reset-after model as torch.nn.GRU(V, H) + torch.nn.Linear(H, V) state dicts and its "
        "vocabulary; read it with torch.load(OUT, weights_only=True).")


def export_safetensors_main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """`gru-tui export-safetensors CKPT OUT.safetensors`."""
    def write(saved, path: str) -> str:
        from .portable import export_safetensors

        export_safetensors(saved, path)
        return ", ".join(saved.model.named_tensors())

    return _export_main(
        "export-safetensors", "OUT.safetensors", write, argv, out,
        "Write the weights as safetensors (config and vocabulary as metadata): readable without "
        "pickle, the safe way to share a model.")


def _export_main(command: str, out_metavar: str, write: Callable[[Any, str], str],
                 argv: Sequence[str] | None, out: TextIO | None, description: str) -> int:
    """An export command: CKPT and the file to write; write(saved, path) says what it wrote."""
    parser = FlagParser(prog=f"gru-tui {command}", description=description)
    parser.add_argument("model", metavar="CKPT", help="a checkpoint from gru-tui")
    parser.add_argument("out", metavar=out_metavar, help="the file to write")

    def run(args: argparse.Namespace) -> int:
        from .portable import load_model

        _check_export_target(args)
        wrote = write(load_model(args.model), args.out)
        print(f"wrote {wrote} to {visible(args.out)}", file=out or sys.stdout)
        return 0

    return _run(parser, argv, run)


def _check_export_target(args: argparse.Namespace) -> None:
    """Before loading: the output may be written and is not the checkpoint it is made from
    (links resolved); an export over its own input would replace the whole run with the weights."""
    from .atomic import check_not_an_input, check_save_target

    check_save_target(args.out, what="export")
    check_not_an_input(args.out, {"CKPT": args.model})


def _run(parser: argparse.ArgumentParser, argv: Sequence[str] | None, body) -> int:
    try:
        args = parser.parse_args(argv)
        return body(args)
    except GRUError as exc:
        print(f"{parser.prog}: error: {visible(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


def _sample(args: argparse.Namespace, out: TextIO) -> int:
    from .sampling import check_sample_args, sample
    from .textfile import read_text_file

    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise GRUError(f"--seed must be a whole number from 0 to {MAX_SEED}; got {args.seed}")
    if args.prime_file is not None:
        prime = read_text_file(args.prime_file)
    else:
        prime = args.prime
    import torch

    from .portable import load_model

    saved = load_model(args.model)
    if prime is None:
        own = saved.config.get("sample_prime")  # a safetensors file's metadata: any JSON
        prime = own if isinstance(own, str) and own else saved.vocab.chars[0]
    check_sample_args(saved.vocab, prime, args.length, args.temperature, args.top_k)
    generator = torch.Generator()
    if args.seed is not None:
        generator.manual_seed(args.seed)
    else:
        generator.seed()

    def show(ch: str) -> None:
        out.write(visible(ch, keep_newlines=True))
        out.flush()

    try:
        out.write(visible(prime, keep_newlines=True))
        sample(saved.model, saved.vocab, prime, args.length, args.temperature, top_k=args.top_k,
               generator=generator, on_char=show)
        out.write("\n")
        out.flush()
    except BrokenPipeError:  # `gru-tui sample ... | head -c 5`: the reader has all it wanted
        silence(out)
        return BROKEN_PIPE
    return 0
