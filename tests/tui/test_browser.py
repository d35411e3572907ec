"""`gru-tui serve` in a real browser: Debian's chromium, headless, driven by playwright.

The page draws the terminal on a canvas (xterm.js), so the test reads what the browser's
terminal was sent: every websocket frame the page receives is decoded and kept in the
page (an init script wraps WebSocket), and the test waits for the words the app draws.
Skipped where no chromium or playwright is installed (.ci/run installs both where it can).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and os.path.exists(p)), None)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed")]

RECORD_FRAMES = """
window.__received = "";
const decoder = new TextDecoder();
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Native(...args);
  ws.addEventListener("message", async (event) => {
    const data = event.data;
    if (typeof data === "string") window.__received += data;
    else if (data instanceof Blob) window.__received += decoder.decode(await data.arrayBuffer());
    else window.__received += decoder.decode(data);
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\\\)|\x1b[()][0-9A-Za-z]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gru-tui serve exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet: nothing to wait on
    raise AssertionError(f"gru-tui serve did not listen on port {port} within {timeout} s")


@pytest.fixture
def served(tmp_path):
    """`gru-tui serve` on a free port, in tmp_path; stopped (with its app processes) afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--preset", "default", "--epochs", "100000", "--threads", "1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and each tab's app process
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def screen_text(page) -> str:
    return ANSI.sub("", page.evaluate("window.__received"))


def wait_for_text(page, pattern: str, timeout: float, since: int = 0) -> re.Match:
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, screen_text(page)[since:])
        if found:
            return found
        if time.monotonic() > deadline:
            tail = screen_text(page)[-600:]
            raise AssertionError(f"the browser never showed {pattern!r} within {timeout} s; last: {tail!r}")
        page.wait_for_timeout(100)  # the browser's own event loop must run to receive frames


def test_a_browser_loads_the_app_presses_space_and_sees_it_train_and_sample(served, tmp_path):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
            page.add_init_script(RECORD_FRAMES)
            page.goto(served)
            wait_for_text(page, r"\bidle\b", timeout=90)  # the app is up, torch loaded, waiting
            page.locator(".textual-terminal").click()
            start = len(screen_text(page))
            page.keyboard.press("Space")
            wait_for_text(page, r"\btraining\b", timeout=30, since=start)
            wait_for_text(page, r"epoch\s+\d+\s+Ma", timeout=60, since=start)  # an epoch-end sample

            # ctrl+e writes the exports on the server; the browser user gets them as downloads
            page.keyboard.press("Control+e")
            wait_for_text(page, r"export", timeout=30, since=start)
            with page.expect_download(timeout=30_000) as download:
                page.keyboard.press("Enter")
            assert download.value.suggested_filename.endswith((".csv", ".json"))
            assert "step" in open(download.value.path(), encoding="utf-8").read(200)
        finally:
            browser.close()
