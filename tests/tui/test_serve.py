"""`gru-tui serve` without a browser: its flags, its page, the folders a tab may use, and its
tabs' processes, which end with their tab or their server however either goes."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from textual.widgets import Input

from gru_core.errors import GRUError
from tui import confine
from tui.screens.path_dialog import PathDialog
from tui.screens.quit_dialog import QuitDialog
from tui.screens.served_files import ServedFiles
from tui.serve import make_server, serve_main

from .conftest import screen_text, wait_ready, wait_until
from .serve_helpers import ANSI, STUDENT_ADDRESS, app_processes, start_server, stop_server
from .serve_helpers import wait_until as wait_until_os


# ---------------------------------------------------------------- flags
@pytest.mark.parametrize("argv, said", [
    (["--host", ""], "0.0.0.0"),
    (["--host", "127.0.0.1\x1b]2;PWN\x07"], "not an address"),
    (["--load", "missing.ckpt"], "missing.ckpt"),
    (["--root", "no-such-folder"], "not a folder"),
    (["--public-url", "ftp://class:21"], "http(s)"),
])
def test_a_bad_serve_flag_is_one_clean_line_and_status_2_before_anything_is_served(
        argv, said, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tui.serve.make_server", lambda *a: pytest.fail("served despite a bad flag"))
    assert serve_main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1 and err.startswith("gru-tui serve: error:")
    assert "\x1b" not in err and "\x07" not in err and "try another --port" not in err


def test_a_relative_file_flag_reaches_each_tab_as_an_absolute_path(tmp_path, monkeypatch):
    from tui.launch import make_parser
    from tui.serve import parse

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello hello hello\n")
    _, app_argv = parse(["--fi", "notes.txt", "--port", "8080"])  # an abbreviation, as argparse allows
    assert make_parser().parse_args(app_argv).file == str(tmp_path / "notes.txt")


def test_a_taken_port_says_to_try_another(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve_main(["--host", "127.0.0.1", "--port", str(port)]) == 2
    assert "try another --port" in capsys.readouterr().err


# ---------------------------------------------------------------- the page
def page(headers: dict[str, str], public_url: str | None = None) -> tuple[int, str]:
    from aiohttp.test_utils import TestClient, TestServer

    async def fetch() -> tuple[int, str]:
        server = make_server(["true"], "0.0.0.0", 8080, public_url, "/nonexistent")
        async with TestClient(TestServer(await server._make_app())) as client:
            response = await client.get("/", headers=headers)
            return response.status, await response.text()

    return asyncio.run(fetch())


def test_the_page_loads_its_script_and_websocket_from_the_address_the_browser_used():
    status, html = page({"Host": "10.9.8.7:8080"})
    assert status == 200
    assert 'src="http://10.9.8.7:8080/static/js/textual.js"' in html
    assert 'data-session-websocket-url="ws://10.9.8.7:8080/ws"' in html
    assert "localhost" not in html and "0.0.0.0" not in html


def test_the_page_has_a_title_and_fetches_nothing_from_another_host():
    _, html = page({"Host": "10.9.8.7:8080"})
    assert "<title>gru-tui</title>" in html
    fetched = [u for u in __import__("re").findall(r'(?:src|href)="([^"]+)"|url\("([^"]+)"\)', html)]
    urls = [a or b for a, b in fetched]
    assert urls and all(u.startswith("http://10.9.8.7:8080/static/") for u in urls)
    assert "googleapis" not in html


def test_public_url_overrides_the_browsers_address():
    _, html = page({"Host": "127.0.0.1:8080"}, public_url="https://class.example.org")
    assert 'src="https://class.example.org/static/js/textual.js"' in html
    assert 'data-session-websocket-url="wss://class.example.org/ws"' in html


def test_a_host_header_that_is_not_an_address_gets_400_not_a_page():
    status, html = page({"Host": 'x"><script>alert(1)</script>'})
    assert status == 400 and "<script>alert" not in html


# ---------------------------------------------------------------- confined files
@pytest.fixture
def served_folders(tmp_path, monkeypatch):
    root, tab = tmp_path / "root", tmp_path / "tab"
    root.mkdir()
    tab.mkdir()
    (root / "tiny.txt").write_text("hello hello\n")
    (root / "away").symlink_to("/etc/hostname")
    monkeypatch.chdir(tab)
    confine.serve_from(str(root), str(tab))
    yield root, tab
    confine.stop_serving()


@pytest.mark.parametrize("path", ["/etc/hostname", "../root/../../x", "away", "~/x.ckpt"])
def test_a_tab_cannot_open_a_file_outside_the_served_folder(served_folders, path):
    with pytest.raises(GRUError, match="outside the served folder"):
        confine.readable(path)


def test_a_tab_opens_the_served_files_by_name_and_its_own_saves(served_folders):
    root, tab = served_folders
    assert confine.readable("tiny.txt") == str(root / "tiny.txt")
    (tab / "run.ckpt").write_bytes(b"x")
    assert confine.readable("./run.ckpt") == str(tab / "run.ckpt")
    assert [os.path.basename(p) for p in confine.files_to_open(".ckpt")] == ["run.ckpt", "tiny.txt"]


@pytest.mark.parametrize("path", ["/tmp/x.ckpt", "../x.ckpt", "sub/../../x.ckpt", "."])
def test_a_tab_writes_only_in_its_own_folder(served_folders, path):
    with pytest.raises(GRUError, match="outside this tab's folder"):
        confine.writable(path)
    assert confine.writable("run.ckpt") == "run.ckpt"


def test_in_a_terminal_every_path_is_allowed():
    assert confine.readable("/etc/hostname") == "/etc/hostname"
    assert confine.writable("/tmp/x.ckpt") == "/tmp/x.ckpt"


@pytest.mark.slow
async def test_in_a_browser_tab_q_asks_and_ctrl_o_refuses_and_lists_only_served_files(
        article_app, served_folders):
    app = article_app
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitDialog), what="the quit question")
        assert "This tab's run ends" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, QuitDialog), what="back to the run")
        assert app.is_running

        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the path dialog")
        app.screen.query_one("#path-input", Input).value = "/etc/hostname"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "outside the served folder" in screen_text(app), what="the refusal")
        assert isinstance(app.screen, PathDialog)  # still asking; nothing was loaded
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: isinstance(app.screen, ServedFiles), what="the served files")
        shown = screen_text(app)
        assert "tiny.txt" in shown and "hostname" not in shown and ".." not in shown
        await pilot.press("escape", "escape")

        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitDialog), what="the quit question")
        await pilot.press("s")  # save instead: the save dialog, a file name in the tab's folder
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="the save dialog")
        assert "save a checkpoint to" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitDialog), what="the quit question")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, what="the app to quit")


# ---------------------------------------------------------------- no orphans
def open_tab_without_a_browser(port: int) -> socket.socket:
    """A websocket to the server, as a page opens it (answering the server's heartbeat pings,
    as a browser does); returns once the app has drawn its first frames."""
    sock = socket.create_connection((STUDENT_ADDRESS, port), timeout=60)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /ws?width=100&height=30 HTTP/1.1\r\nHost: {STUDENT_ADDRESS}:{port}\r\n"
                 f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head[:200]
    drawn = 0
    deadline = time.monotonic() + 90
    while drawn < 20_000 and time.monotonic() < deadline:  # the app's first frames
        frame = _next_frame(sock, buffer)
        if frame is None:
            buffer += sock.recv(65536)
            continue
        opcode, payload, buffer = frame
        if opcode == 0x9:  # ping: pong, masked as a client must (a zero mask)
            sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
        elif opcode in (0x1, 0x2):
            drawn += len(payload)
        elif opcode == 0x8:
            raise AssertionError("the server closed the tab's websocket")
    return sock


def _next_frame(sock: socket.socket, buffer: bytes) -> tuple[int, bytes, bytes] | None:
    """(opcode, payload, the rest) of the server's first whole frame in buffer, else None."""
    if len(buffer) < 2:
        return None
    opcode, size, at = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
    if size == 126:
        size, at = int.from_bytes(buffer[2:4], "big"), 4
    elif size == 127:
        size, at = int.from_bytes(buffer[2:10], "big"), 10
    if len(buffer) < at + size:
        return None
    return opcode, buffer[at:at + size], buffer[at + size:]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["server SIGTERM", "server SIGKILL", "connection dropped, no close frame"])
def test_a_tabs_process_ends_within_two_seconds_however_its_tab_or_server_goes(tmp_path, how):
    proc, port, root = start_server(tmp_path)
    sock = None
    try:
        before = len(app_processes(root))  # the zygote tabs are forked from
        sock = open_tab_without_a_browser(port)
        assert len(app_processes(root)) == before + 1
        if how == "server SIGTERM":
            proc.send_signal(signal.SIGTERM)
        elif how == "server SIGKILL":
            proc.send_signal(signal.SIGKILL)
        else:
            sock.close()
        left = 0 if how.startswith("server") else before  # a server gone takes its zygote too
        wait_until_os(lambda: len(app_processes(root)) == left, 2.0, f"the tab's process gone after {how}")
        if how == "server SIGTERM":
            assert proc.wait(5) == 0
    finally:
        if sock is not None:
            sock.close()
        stop_server(proc)
        for pid in app_processes(root):  # a failed test leaves nothing running either
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_without_the_zygote_a_tab_runs_in_a_process_of_its_own_and_ends_with_its_websocket(tmp_path):
    """The fallback where the zygote cannot fork: `python -m tui.serve_tab` per tab."""
    from aiohttp import WSMsgType
    from aiohttp.test_utils import TestClient, TestServer

    from tui.serve import tab_command

    root = str(tmp_path / "root")
    os.mkdir(root)
    command = tab_command(["--preset", "default", "--threads", "1"], root)

    async def open_and_close() -> str:
        server = make_server(command, "127.0.0.1", 0, None, str(tmp_path / "work"), None)
        async with TestClient(TestServer(await server._make_app())) as client:
            ws = await client.ws_connect("/ws?width=100&height=30")
            received, deadline = "", time.monotonic() + 90
            while not re.search(r"\bidle\b", ANSI.sub("", received)) and time.monotonic() < deadline:
                message = await ws.receive(timeout=max(deadline - time.monotonic(), 0.1))
                if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    break
                data = message.data
                received += data if isinstance(data, str) else data.decode("utf-8", "replace")
            assert len(app_processes(root)) == 1
            await ws.close()
            closed, deadline = time.monotonic(), time.monotonic() + 3.0
            while (server.tabs or app_processes(root)) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)  # the server's handler stops the tab: nothing to await here
            return ANSI.sub("", received), time.monotonic() - closed

    shown, took = asyncio.run(open_and_close())
    assert re.search(r"\bidle\b", shown)
    assert app_processes(root) == [] and took < 3.0  # the tab's process went with its websocket
    assert not os.path.exists(tmp_path / "work" / "tab-1")  # and its folder


def test_the_serve_tab_module_is_what_each_tab_runs():
    from tui.serve import tab_command

    command = tab_command(["--preset", "article"], "/srv/texts")
    assert command[:3] == [sys.executable, "-m", "tui.serve_tab"] and command[-2:] == ["--preset", "article"]
    out = subprocess.run([sys.executable, "-m", "tui.serve_tab", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--root" in out.stdout


@pytest.mark.slow
@pytest.mark.parametrize("gone", ["stdin closed", "stdin and stdout closed"])
def test_a_tab_whose_server_went_away_ends_by_itself(tmp_path, gone):
    """The orphan's cause: Textual's web driver ignored the end of stdin (and a broken stdout
    raised inside its shutdown), so a tab whose server had gone trained and redrew for nobody."""
    from tui.serve import tab_environment

    from .serve_helpers import REPO

    path = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    env = {**tab_environment(100, 30), "PYTHONPATH": path}
    tab = subprocess.Popen([sys.executable, "-m", "tui.serve_tab", "--root", str(tmp_path), "--",
                            "--preset", "default", "--threads", "1"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           cwd=tmp_path, env=env, start_new_session=True)
    try:
        out = b""
        deadline = time.monotonic() + 90
        while b"idle" not in out and time.monotonic() < deadline:  # the app is up, torch loaded
            out += os.read(tab.stdout.fileno(), 65536)
        assert b"idle" in out
        tab.stdin.close()  # no quit packet: the server is gone
        if gone == "stdin and stdout closed":
            tab.stdout.close()
        else:  # the pipe stays open and read, as a server that lost only its side of stdin
            threading.Thread(target=lambda: [None for _ in iter(lambda: tab.stdout.read(65536), b"")],
                             daemon=True).start()
        tab.wait(5)  # EXIT_GRACE_S (2 s) at most once stdin ends, and the app's own quit first
    finally:
        if tab.poll() is None:
            os.killpg(tab.pid, signal.SIGKILL)
            tab.wait(5)
