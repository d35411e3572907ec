"""Built-in texts: nothing to download, and the same text on every machine.

    article   the article's "MathMath..." (the default)
    zen       the Zen of Python, from the standard library's `this` module (857 characters)
    stdlib    the first ~200,000 characters of a fixed list of the standard library's own
              Python sources, read from disk in a fixed order: the same text on every
              machine with the same Python version

The Zen is read from the source of `this` without running it (importing `this` prints the
poem), and decoded from the rot13 it is stored in.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import functools
import importlib.util
import io
import os
import sys
import sysconfig

from .config import ARTICLE_TEXT
from .errors import GRUError

CORPORA: dict[str, str] = {
    "article": "the article's text, 'MathMath...' (20 characters)",
    "zen": "the Zen of Python, from the standard library's `this` module (~850 characters)",
    "stdlib": "~200,000 characters of the Python standard library's own source code",
}

STDLIB_CHARS = 200_000
# Pure-Python modules present in every CPython 3 install, in the order they are read.
# All ASCII but three characters, so the vocabulary stays near the ~95 printable ones.
STDLIB_FILES = (
    "textwrap.py", "string.py", "bisect.py", "heapq.py", "fnmatch.py", "glob.py",
    "colorsys.py", "keyword.py", "fractions.py", "functools.py", "dataclasses.py",
    "difflib.py", "calendar.py", "random.py",
)
_MIN_STDLIB_CHARS = 20_000  # fewer means the sources are not installed (a stripped Python)


def describe_corpora() -> str:
    """One line per corpus, for --list-corpora and error messages."""
    width = max(len(n) for n in CORPORA)
    return "\n".join(f"{name:<{width}}  {text}" for name, text in CORPORA.items())


def load_corpus(name: str) -> str:
    """The text of a built-in corpus; GRUError naming the choices for an unknown name."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in CORPORA:
        raise GRUError(f"no built-in corpus named {name!r}; choose one of {', '.join(CORPORA)}")
    return _LOADERS[key]()


@functools.lru_cache(maxsize=1)
def zen_of_python() -> str:
    """The Zen of Python, decoded from `this.s` (rot13) without printing anything."""
    encoded = _this_source_string()
    if encoded is None:
        with contextlib.redirect_stdout(io.StringIO()):  # `import this` prints the poem
            import this  # noqa: F401
        encoded = sys.modules["this"].s
    return codecs.decode(encoded, "rot13")


def _this_source_string() -> str | None:
    """The string assigned to `s` in this.py, read with ast (None if the source is absent)."""
    if "this" in sys.modules:
        return sys.modules["this"].s
    spec = importlib.util.find_spec("this")
    origin = getattr(spec, "origin", None)
    if not origin or not origin.endswith(".py") or not os.path.isfile(origin):
        return None
    with open(origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "s"
                                                 for t in node.targets)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return node.value.value
    return None


@functools.lru_cache(maxsize=1)
def stdlib_source() -> str:
    """STDLIB_FILES concatenated, each under a '# file: NAME' line, cut at a line end."""
    root = sysconfig.get_paths()["stdlib"]
    parts = []
    total = 0
    for name in STDLIB_FILES:
        path = os.path.join(root, name)
        try:
            with open(path, encoding="utf-8", newline="") as f:
                source = f.read().replace("\r\n", "\n")
        except OSError:
            continue  # a stripped install; the length check below says so if too much is gone
        parts.append(f"# file: {name}\n{source}")
        total += len(parts[-1])
        if total >= STDLIB_CHARS:
            break
    text = "\n".join(parts)[:STDLIB_CHARS]
    cut = text.rfind("\n")
    text = text[: cut + 1] if cut > 0 else text
    if len(text) < _MIN_STDLIB_CHARS:
        raise GRUError(
            f"the standard library's .py sources were not found under {root!r} (this Python "
            f"ships without them); use --corpus zen or --file PATH instead"
        )
    return text


_LOADERS = {
    "article": lambda: ARTICLE_TEXT,
    "zen": zen_of_python,
    "stdlib": stdlib_source,
}
