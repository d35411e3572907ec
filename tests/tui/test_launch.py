"""`gru-tui` flags, and the first frame appearing while torch is still loading."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tui.cli import main
from tui.launch import launch_app


def test_a_bad_flag_is_one_line_and_status_2(capsys):
    assert launch_app(["--hidden", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gru-tui: error: ") and "--hidden takes a whole number; got 'x'" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_invalid_config_is_reported_before_the_app_opens(capsys):
    assert main(["--preset", "article", "--batch", "64"]) == 2
    assert "batch_size 64" in capsys.readouterr().err


FIRST_FRAME = textwrap.dedent("""
    import asyncio, sys, time
    t0 = time.perf_counter()
    from gru_core import TrainConfig
    from tui.app import GRUApp
    from tui.widgets.status import StatusBar

    first = {}
    show = StatusBar._show

    def record(self, text):  # the status line's first content, whenever the loop gets to it
        if not first:
            first.update(time=time.perf_counter() - t0, text=text.plain.strip(),
                         loaded="torch" in sys.modules)
        show(self, text)

    StatusBar._show = record

    async def main():
        app = GRUApp(TrainConfig.article())
        async with app.run_test(size=(120, 40)) as pilot:
            while not app.ready:
                await pilot.pause(0.05)
            ready = time.perf_counter() - t0
            print(f"{first['time']:.3f}|{ready:.3f}|{first['text']}|{first['loaded']}", flush=True)
    asyncio.run(main())
""")


def test_first_frame_appears_before_torch_has_loaded():
    """The app's first screen says it is loading torch; torch loads after, in a thread."""
    out = subprocess.run([sys.executable, "-c", FIRST_FRAME], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    first, ready, status, loaded = out.stdout.strip().splitlines()[-1].split("|")
    assert status == "loading torch…" and loaded == "False"
    assert float(first) < float(ready)
    assert "torch" not in subprocess.run(
        [sys.executable, "-c", "import sys, tui.app, tui.launch; print(sorted(sys.modules))"],
        capture_output=True, text=True, timeout=60,
    ).stdout.split("'")
