"""Built-in texts: there on every machine, the same every time, and quiet to load."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys

import pytest

from gru_core import GRUError, TrainConfig, corpora
from gru_core.cli import config_from_args, make_parser, train_main
from gru_core.config import ARTICLE_TEXT
from gru_core.corpora import CORPORA, load_corpus


def test_zen_is_the_decoded_poem():
    zen = load_corpus("zen")
    assert zen.startswith("The Zen of Python, by Tim Peters\n\nBeautiful is better than ugly.\n")
    assert "Namespaces are one honking great idea -- let's do more of those!" in zen
    assert "Ornhgvshy" not in zen  # not the rot13 it is stored in


def test_loading_zen_prints_nothing_in_a_fresh_interpreter():
    code = "from gru_core.corpora import load_corpus; t = load_corpus('zen'); assert len(t) > 800"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_zen_without_the_source_imports_this_silently(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "this", raising=False)
    monkeypatch.setattr(corpora, "_this_source_string", lambda: None)
    zen = corpora.zen_of_python.__wrapped__()
    assert zen == load_corpus("zen")
    assert capsys.readouterr().out == ""


def test_stdlib_is_a_fixed_slice_of_python_source():
    text = corpora.stdlib_source.__wrapped__()  # uncached: read from disk again
    assert text == load_corpus("stdlib")
    assert 190_000 <= len(text) <= corpora.STDLIB_CHARS
    assert text.startswith("# file: textwrap.py\n")
    assert "def dedent(text):" in text
    assert text.endswith("\n")
    assert len(set(text)) < 110  # code, not a sprawling alphabet


def test_stdlib_is_the_same_text_in_another_process():
    code = ("import hashlib; from gru_core.corpora import load_corpus; "
            "print(hashlib.sha256(load_corpus('stdlib').encode()).hexdigest())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == hashlib.sha256(load_corpus("stdlib").encode()).hexdigest()


def test_stdlib_missing_sources_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(corpora.sysconfig, "get_paths", lambda: {"stdlib": str(tmp_path)})
    with pytest.raises(GRUError, match="sources were not found"):
        corpora.stdlib_source.__wrapped__()


def test_article_is_the_default_text():
    assert load_corpus("article") == ARTICLE_TEXT == TrainConfig().text


def test_unknown_name_lists_the_choices():
    expected = "no built-in corpus named 'shakespeare'; choose one of article, zen, stdlib"
    with pytest.raises(GRUError, match=expected):
        load_corpus("shakespeare")


@pytest.mark.parametrize("name", list(CORPORA))
def test_every_corpus_makes_a_valid_config_from_the_cli(name):
    args = make_parser().parse_args(["--corpus", name, "--seq-len", "8", "--batch", "2"])
    config = config_from_args(args)
    assert config.text == load_corpus(name)
    assert config.source == f"corpus:{name}"


def test_list_corpora_flag_prints_each_name_with_a_description():
    out = io.StringIO()
    assert train_main(["--list-corpora"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == list(CORPORA)
    assert all(len(line.split()) > 3 for line in lines)
