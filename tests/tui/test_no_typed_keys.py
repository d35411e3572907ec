"""Every key the app names on screen comes from the key table (tui/keys.py): a key typed by
hand in a message goes stale the day the table changes it (the issue-24 review found "b",
"ctrl+s", "(tT)" and "([ ] j)" typed in six modules).

The scan reads tui's string literals (docstrings and comments are prose, not screen text) and
looks for a table key's shown form where a message names a key: in parentheses ("(v)",
"(r resets"), before a colon ("x: point"), before a verb ("b restores", "space trains"),
after "press", and ctrl+ names anywhere. A screen may name the keys it binds itself (its own
Binding(...) list: a dialog's escape)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import tui
from tui import keys

TUI = Path(tui.__file__).parent
# single capitals are the article's sizes (T x B, a K) before they are keys: only their pairs count
ARTICLE_LETTERS = {"T", "K"}


def shown_forms() -> set[str]:
    """Each key of the table as a screen may show it: "b", "ctrl+s", "t / T", "tT", "[ ]", "←/→"."""
    forms = set()
    for row in keys.ROWS:
        parts = row.shown.split(" / ")
        forms.update(part for part in parts if part not in ARTICLE_LETTERS)
        if len(parts) > 1:
            forms.update({row.shown, "".join(parts), "/".join(parts), " ".join(parts)})
    return forms


# what a key does, as the app's hints say it ("b restores", "space trains", "x explain")
VERBS = ("trains", "steps", "restores", "resets", "closes", "saves", "loads", "exports", "explain",
         "explains", "leaves", "quits", "details", "stops", "colours", "scrolls", "moves", "samples")


def patterns(forms: set[str]) -> list[re.Pattern]:
    alternatives = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    key = f"(?:{alternatives})"
    before = r"(?:^|(?<=[\s(;,]))"
    ctrl = "|".join(re.escape(form) for form in forms if form.startswith("ctrl+"))
    return [
        re.compile(rf"(?:^|(?<=\s))\({key}(?=[:,;)]| [a-z])"),  # (v)  (r resets  ([ ] j)  (d: details)
        re.compile(rf"{before}{key}: "),  # x: point at  u: colour
        re.compile(rf"{before}{key}(?:/{key})+: "),  # space/n/e: 3 more epochs
        re.compile(rf"{before}{key} (?:{'|'.join(VERBS)})\b"),  # b restores  space trains
        re.compile(rf"\bpress(?:es|ed)? {key}(?=\W|$)"),
        re.compile(rf"(?:{ctrl})\b"),  # the table's ctrl+ keys, anywhere
    ]


def own_bindings(tree: ast.AST) -> set[str]:
    """The keys a module binds itself: Binding("escape", ...)."""
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Binding"
            and node.args and isinstance(node.args[0], ast.Constant)}


def screen_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of each string literal but the docstrings; an f-string's parts joined."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    inner = {id(value) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for value in node.values}
    found = []
    for node in ast.walk(tree):
        if id(node) in docstrings or id(node) in inner:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            found.append((node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "\x00"
                                               for v in node.values)))
    return found


def typed_keys(source: str) -> list[str]:
    tree = ast.parse(source)
    forms = shown_forms() - own_bindings(tree)
    return [f"line {line}: {match.group(0)!r} in {text!r}"
            for line, text in screen_strings(tree) for pattern in patterns(forms)
            for match in pattern.finditer(text)]


def test_no_key_is_typed_by_hand_outside_the_key_table():
    found = {}
    for path in sorted(TUI.rglob("*.py")):
        if path.name == "keys.py" and path.parent == TUI:
            continue
        hits = typed_keys(path.read_text(encoding="utf-8"))
        if hits:
            found[str(path.relative_to(TUI))] = hits
    assert not found, "keys typed by hand (use tui.keys.key_for): " + "\n".join(
        f"{name}: {hit}" for name, hits in found.items() for hit in hits)


def test_gru_core_names_no_key_of_the_app():
    """gru_core's messages and advice say what to do (an action, a flag), never which key of the
    app does it: the app words them with its own keys (the advice's remedy, SavedWeights)."""
    import gru_core

    core = Path(gru_core.__file__).parent
    found = {str(path.relative_to(core)): hits for path in sorted(core.rglob("*.py"))
             if (hits := typed_keys(path.read_text(encoding="utf-8")))}
    assert not found, found


def test_the_scan_finds_what_it_is_for_and_passes_ordinary_words():
    """It catches each way a key was typed before, and leaves the article's words alone."""
    for typed in ('"(tT)"', '"(<>)"', '"([ ] j)"', '"(r resets, d details)"', '"  (d: details)"',
                  '"x: point at any number"', 'f"{n} space/n/e: more"', '"b restores the best weights"',
                  '"nats: space trains, n steps"', '"press ctrl+s to save"', '"(←/→ time step, x explain)"',
                  '"plain (u: colour)"', '"(v)"'):
        assert typed_keys(f"x = {typed}\n"), typed
    for ordinary in ('"T x B characters"', '"h(t) = z * h"', '"batch b/N: the batch"', '"r * h"',
                     '"in the space of characters"', '"lr: the learning rate"', '"seq {b + 1}"',
                     '"""a docstring naming ctrl+s"""'):
        assert not typed_keys(f"{ordinary}\n"), ordinary
    assert not typed_keys('Binding("escape", "x")\nhint = "(escape closes)"\n')  # its own key
