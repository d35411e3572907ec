"""`gru-tui` names its commands, each with its own --help; --list-corpora, --version and
--theme work at the top level, and the theme is remembered between runs."""

from __future__ import annotations

import json
import os

import pytest

from gru_core import TrainConfig
from tui.app import GRUApp
from tui.cli import main
from tui.launch import SUBCOMMANDS, make_app

from .conftest import wait_until


def test_help_lists_every_command_and_each_has_its_own_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for name in ("train", "sample", "export-torch", "export-safetensors", "serve"):
        assert f"    {name} " in text, text
    assert "--list-corpora" in text and "--version" in text and "--theme" in text
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: gru-tui {name}"), name


def test_list_corpora_and_version_work_at_the_top_level(capsys):
    assert main(["--list-corpora"]) == 0  # was "unrecognized arguments"
    out = capsys.readouterr().out
    assert "zen" in out and "stdlib" in out
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("gru-tui ")


def test_a_bad_theme_or_a_stray_word_is_one_line_and_status_2(capsys):
    assert main(["--theme", "neon"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'neon' is not a theme" in err and "textual-light" in err
    assert main(["--hidden", "8", "serve"]) == 2
    assert "is a command: give it first" in capsys.readouterr().err


async def test_the_theme_flag_applies_and_a_chosen_theme_is_remembered():
    app = make_app(["--theme", "textual-light"])
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "textual-light"
        app.theme = "nord"  # as the palette's Change theme does
        await pilot.pause()
    settings = os.path.join(os.environ["GRU_TUI_CONFIG_DIR"], "settings.json")
    assert json.load(open(settings, encoding="utf-8"))["theme"] == "nord"
    again = GRUApp(TrainConfig.default())  # the next run, no flag
    async with again.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: again.theme == "nord", what="the remembered theme")
