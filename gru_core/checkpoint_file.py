"""Reading a saved file safely, before any of it is trusted: checkpoints and safetensors alike.

One rule serves every loader (train --load, sample, the exports, the app's --load and its
load key): check_saved_file before the file is opened (regular, not empty; a FIFO, a device,
a symlink loop refused: gru_core/file_checks.py), then, for a checkpoint, its zip directory
(no member inflating past the file: a zip bomb), torch.load(weights_only=True) (tensors and
plain containers only; anything else is refused, never run), and the structure within a node
budget that grows with the file's size (shared references counted each time they are met),
every tensor dense, on the CPU and backed by numbers the file stores.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from typing import Any

import torch
from torch import Tensor

from .errors import GRUError
from .file_checks import check_regular_file


def check_saved_file(path: str, what: str = "checkpoint") -> int:
    """The rule every loader of a saved run applies first (train --load, sample, the exports,
    the app's --load and load key; checkpoints and safetensors alike), before the file is
    opened: file_checks.check_regular_file. Its size in bytes; GRUError otherwise."""
    return check_regular_file(path, what, directory=f"give the path of a {what} file",
                              special=f"it cannot be a {what}: give the path of a file saved by gru-tui. "
                                      f"Nothing was loaded.",
                              empty=f"it is not a gru-tui {what}. Nothing was loaded.")


def read_checkpoint(path: str) -> dict[str, Any]:
    """The raw dictionary, read with weights_only=True; GRUError for anything unreadable."""
    path = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    size = check_saved_file(path)
    if looks_like_safetensors(path):
        raise GRUError(f"{path!r} is a safetensors file: it holds a model's weights, not a run to resume "
                       f"(`gru-tui sample` reads it); give a checkpoint (.ckpt). Nothing was loaded.")
    _check_zip_directory(path)
    try:
        with warnings.catch_warnings():  # torch warns about old pickle protocols on stderr
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            raise _damaged(path, exc) from None
        if "Unsupported operand" in str(exc):  # not a pickle at all: a text file, say
            raise _damaged(path, exc) from None
        # weights_only refuses any global it does not know: code, classes, functions.
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise GRUError(
            f"{path!r} was refused: it holds something other than tensors and plain values{what}, "
            f"which could run code when loaded; it is not a gru-tui checkpoint. Nothing was loaded."
        ) from None
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - whatever torch's readers raise
        raise _damaged(path, exc) from None
    _check_plain(data, path, size)
    return data


def looks_like_safetensors(path: str) -> bool:
    """A safetensors file is an 8-byte header length, then its JSON header: '{'."""
    try:
        with open(path, "rb") as f:
            return f.read(9)[8:] == b"{"
    except OSError:
        return False  # the loader that opens it next names the problem


# A checkpoint's zip holds its records stored, uncompressed (torch writes them so); a
# member that inflates to far more than the whole file is a zip bomb, refused from the
# zip's directory before a byte of it is inflated.
_INFLATE_SLACK = 1 << 20
_MAX_DEPTH = 32  # gru-tui's own checkpoints nest 5 deep


def _check_zip_directory(path: str) -> None:
    try:
        if not zipfile.is_zipfile(path):
            return  # torch.load reads the old pickle format too; it refuses what is neither
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise _damaged(path, exc) from None
    on_disk = os.path.getsize(path)
    inflated = sum(m.file_size for m in members)
    if inflated > on_disk + _INFLATE_SLACK:
        raise GRUError(
            f"{path!r} was refused: its {len(members)} parts would inflate to {inflated:,} bytes from "
            f"{on_disk:,} on disk (gru-tui stores them uncompressed), like a zip bomb. Nothing was loaded."
        )


# Nodes the structure walk may visit: a checkpoint's pickle spends at least a few bytes on
# each value it holds, but a shared reference costs two bytes and is visited each time it is
# met: a 17 KB file of lists holding one list 100 times, six deep, is 10^12 visits.
_NODE_BUDGET = 100_000
_NODES_PER_BYTE = 0.5


def _check_plain(data: Any, path: str, size: int = 0) -> None:
    """Every tensor dense, on the CPU and backed by its own numbers; nesting shallow and the
    structure small for the file's size: what gru-tui itself writes.

    Sparse, quantized or meta tensors, views wider than their storage (expand(10**9) of one
    number, which a loop over it would materialise), containers nested thousands deep, or
    shared references multiplying the walk, are refused here, before any of it reaches
    torch's ops, a loop or a recursive function.
    """
    budget = _NODE_BUDGET + int(size * _NODES_PER_BYTE)
    visited = 0
    stack = [(data, 0)]
    while stack:
        obj, depth = stack.pop()
        visited += 1
        if visited > budget:
            raise GRUError(f"{path!r} cannot be loaded: its contents hold more than {budget:,} values "
                           f"(shared references counted each time), far more than a "
                           f"{size:,}-byte gru-tui checkpoint holds. Nothing was loaded.")
        if depth > _MAX_DEPTH:
            raise GRUError(f"{path!r} cannot be loaded: its contents nest more than {_MAX_DEPTH} deep, "
                           f"which gru-tui never writes. Nothing was loaded.")
        if isinstance(obj, Tensor):
            _check_tensor(obj, path)
        elif isinstance(obj, dict):
            stack.extend((v, depth + 1) for v in obj.values())
            stack.extend((k, depth + 1) for k in obj.keys() if not isinstance(k, (str, int)))
        elif isinstance(obj, (list, tuple)):
            stack.extend((v, depth + 1) for v in obj)


def _check_tensor(t: Tensor, path: str) -> None:
    if t.layout != torch.strided or t.is_quantized or t.device.type != "cpu":
        where = t.device.type if t.device.type != "cpu" else str(t.layout).split(".")[-1]
        raise GRUError(f"{path!r} cannot be loaded: it holds a {where} tensor, where gru-tui "
                       f"writes only dense ones. Nothing was loaded.")
    stored = t.untyped_storage().nbytes() // max(1, t.element_size())
    if t.numel() > stored:
        raise GRUError(f"{path!r} cannot be loaded: it holds a tensor of shape {tuple(t.shape)} "
                       f"({t.numel():,} numbers) that the file stores only {stored:,} numbers of "
                       f"(a broadcast view, which gru-tui never writes). Nothing was loaded.")


def _damaged(path: str, exc: BaseException) -> GRUError:
    try:
        with open(path, "rb") as f:
            is_zip = f.read(4) == b"PK\x03\x04"  # a zip's first bytes, also when truncated
    except OSError:
        is_zip = True
    # (an empty file never comes here: check_saved_file refused it before it was read)
    if not is_zip:  # every checkpoint is a zip: this is some other file, e.g. a text
        return GRUError(
            f"{path!r} is not a gru-tui checkpoint (it is not a zip archive, as every checkpoint is; "
            f"a text file?): give a checkpoint file saved by gru-tui. Nothing was loaded."
        )
    return GRUError(
        f"{path!r} is not a readable checkpoint: it is damaged or truncated, or not made by "
        f"gru-tui ({type(exc).__name__}: {first_line(exc)}). Nothing was loaded."
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


