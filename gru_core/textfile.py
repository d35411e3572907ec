"""Reading a user's text file: UTF-8 only, bounded, with a clear message for every way it can fail.

What `read_text_file` accepts and does:
- a regular file (not a directory, pipe or device), readable, not empty;
- at most MAX_TEXT_BYTES bytes on disk, checked with stat() before anything is read (and the
  read itself stops one byte past the limit, in case the file grows meanwhile), and at most
  MAX_TEXT_CHARS characters once decoded (config.MAX_TEXT_CHARS, the limit of any text);
- strict UTF-8: the first invalid byte is refused, naming its byte offset and line;
  a NUL byte is refused as a sign of a binary file (UTF-16 text is named as such, with how
  to convert it);
- a UTF-8 byte-order mark at the start is dropped (it is a marker, not text);
- line ends: CRLF ("\\r\\n") becomes LF ("\\n"), so a file saved on Windows teaches the model
  the same text as the same file saved on Linux; CRs run before an LF (CR CR LF, left by a
  file converted twice) go with it, so no CRLF is left. A lone CR is kept as it is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from .config import MAX_TEXT_CHARS
from .errors import GRUError
from .file_checks import check_regular_file
from .formatting import fixed

_CRS_BEFORE_LF = re.compile("\r+\n")

# UTF-8 takes at most 4 bytes a character, so this admits every text of MAX_TEXT_CHARS
# characters; the character limit is checked again after decoding.
MAX_TEXT_BYTES = 4 * MAX_TEXT_CHARS
_BOM = b"\xef\xbb\xbf"
READ_BLOCK = 4 << 20


def check_text_file(path: str, *, max_bytes: int = MAX_TEXT_BYTES, max_chars: int = MAX_TEXT_CHARS) -> int:
    """What read_text_file checks before reading a byte (the path is a regular, non-empty
    file within the size limit); its size in bytes, or GRUError saying what is wrong."""
    size = check_regular_file(path, "file", directory="give the path of a UTF-8 text file inside it",
                              special="save the text to a file and give its path",
                              empty="give a file with at least a few characters of text")
    if size > max_bytes:
        raise GRUError(f"{str(path)!r} is {_size(size)}; the limit is {_size(max_bytes)} "
                       f"({max_chars:,} characters): use a slice of it")
    return size


def read_text_file(path: str, *, max_bytes: int = MAX_TEXT_BYTES, max_chars: int = MAX_TEXT_CHARS,
                   progress: Callable[[str], None] | None = None) -> str:
    """The text of a UTF-8 file, CRLF normalised to LF; GRUError saying what is wrong otherwise.

    progress, if given, is called with a line such as "reading big.txt: 40% of 50.0 MiB"
    after each 4 MiB read (the app shows it while a large file loads).
    """
    size = check_text_file(path, max_bytes=max_bytes, max_chars=max_chars)
    shown = str(path)
    data = bytearray()
    try:
        with open(path, "rb") as f:
            while len(data) <= max_bytes:
                block = f.read(min(READ_BLOCK, max_bytes + 1 - len(data)))
                if not block:
                    break
                data += block
                if progress is not None:
                    progress(f"reading {os.path.basename(shown)}: {min(100, 100 * len(data) // size)}% "
                             f"of {_size(size)}")
    except PermissionError:
        raise GRUError(f"cannot read {shown!r}: permission denied (check its permissions, "
                       f"e.g. chmod u+r)") from None
    except OSError as exc:
        raise GRUError(f"cannot read {shown!r}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise GRUError(f"{shown!r} grew past the limit of {_size(max_bytes)} while being read")
    return decode_text(data, shown, max_chars=max_chars)


def decode_text(data: bytes | bytearray, name: str = "the text", *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Strict UTF-8 bytes to text, as read_text_file does (BOM dropped, CRLF to LF)."""
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    nul = data.find(b"\x00")
    if nul >= 0 and _looks_utf16(data):
        raise GRUError(f"{name!r} is UTF-16 text, not UTF-8; convert it, e.g. "
                       f"`iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8` (or save it as UTF-8 in your editor)")
    if nul >= 0:
        raise GRUError(f"{name!r} has a NUL byte at byte offset {nul} (line {_line_of(data, nul)}); "
                       f"it looks like a binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = bytes(data[exc.start:exc.start + 4])
        raise GRUError(
            f"{name!r} is not valid UTF-8: byte 0x{data[exc.start]:02x} at byte offset {exc.start} "
            f"(line {_line_of(data, exc.start)}, bytes {bad!r}); save it as UTF-8 and try again"
        ) from None
    if "\r" in text:
        text = _CRS_BEFORE_LF.sub("\n", text)
    if not text:
        raise GRUError(f"{name!r} is empty; give a file with at least a few characters of text")
    if len(text) > max_chars:
        raise GRUError(f"{name!r} has {len(text):,} characters; the limit is {max_chars:,}: "
                       f"use a slice of it")
    return text


def _looks_utf16(data: bytes | bytearray) -> bool:
    """A UTF-16 byte-order mark, or (without one) a NUL in every other byte of the start, as
    mostly-ASCII text in UTF-16 has."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    head = bytes(data[:4096])
    pairs = len(head) // 2
    if pairs < 2:
        return False
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return max(even, odd) >= 0.9 * pairs and min(even, odd) <= 0.1 * pairs


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{fixed(n / scale, 1)} {unit}"
    return f"{n} bytes"
