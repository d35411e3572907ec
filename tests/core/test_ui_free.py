"""gru_core is UI-free by rule: importing any of its modules loads no textual, no tui."""

import pkgutil
import subprocess
import sys

import gru_core

FORBIDDEN = ("textual", "tui", "textual_plotext", "plotext")


def _modules() -> list[str]:
    return ["gru_core"] + [f"gru_core.{m.name}" for m in pkgutil.iter_modules(gru_core.__path__)]


def test_every_gru_core_module_imports_without_ui_packages():
    code = (
        "import importlib, sys\n"
        f"for name in {_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "import gru_core\n"
        "gru_core.TrainingSession, gru_core.Trainer\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"gru_core pulled in UI modules: {out.stdout}"


def test_config_and_cli_flags_load_without_torch():
    """The app parses flags and shows its first frame before torch is imported."""
    code = (
        "import sys\n"
        "import gru_core, gru_core.config, gru_core.cli\n"
        "from gru_core import TrainConfig, GRUError\n"
        "TrainConfig.article()\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
