"""`gru-tui serve` for a class, in a real browser: Debian's chromium, headless, driven by playwright.

The server listens on every address (as README's class recipe has it) and the browsers
reach it through 127.0.0.2, a Host other than localhost, as a student's machine would.
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
import subprocess
import time

import pytest

from .serve_helpers import ANSI, STUDENT_ADDRESS, app_processes, start_server, stop_server, wait_until

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and os.path.exists(p)), None)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed")]

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


@pytest.fixture
def served(tmp_path):
    proc, port, root = start_server(tmp_path)
    try:
        yield f"http://{STUDENT_ADDRESS}:{port}/", root, tmp_path / "cwd"
    finally:
        stop_server(proc)


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


def launch_chromium(tmp_path, name: str) -> subprocess.Popen:
    """Debian's chromium, headless, with a DevTools port for playwright: its process is the
    test's own, so the test can kill it outright."""
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", f"--user-data-dir={tmp_path / name}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    return proc


def devtools_url(proc: subprocess.Popen) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # chromium prints the address once, early: read lines until it
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        if found := re.search(r"DevTools listening on (ws://\S+)", line):
            return found.group(1)
    raise AssertionError("chromium never printed its DevTools address")


def open_tab(browser, url: str, requests: list[str]):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    page.add_init_script(RECORD_FRAMES)
    page.goto(url)
    return context, page


def test_a_class_of_two_on_another_address_types_at_once_saves_as_a_download_and_leaves_nothing(
        served, tmp_path):
    url, root, server_cwd = served
    baseline = len(app_processes(root))  # no tab yet: the zygote tabs are forked from, if it is up
    browsers = [launch_chromium(tmp_path, "a"), launch_chromium(tmp_path, "b")]
    try:
        with sync_api.sync_playwright() as p:
            cdp = [p.chromium.connect_over_cdp(devtools_url(proc)) for proc in browsers]
            requests: list[str] = []
            context_a, page_a = open_tab(cdp[0], url, requests)
            context_b, page_b = open_tab(cdp[1], url, requests)
            assert page_a.title() == "gru-tui"
            wait_for_text(page_a, r"\bidle\b", timeout=90)  # the app is up, torch loaded, waiting
            wait_for_text(page_b, r"\bidle\b", timeout=90)
            assert len(app_processes(root)) >= 2

            # keys without a click: the terminal has the keyboard from the start (and so the
            # "click the terminal" line is hidden)
            assert page_a.locator("#focus-hint").is_hidden()
            start_a = len(screen_text(page_a))
            page_a.keyboard.press("Space")
            wait_for_text(page_a, r"\btraining\b", timeout=30, since=start_a)
            wait_for_text(page_a, r"step\s+[1-9]", timeout=60, since=start_a)
            # two runs: B's model did not train because A's did
            start_b = len(screen_text(page_b))
            page_b.keyboard.press("q")  # in a browser, q asks first
            wait_for_text(page_b, r"Quit\? This tab's run ends", timeout=30, since=start_b)
            page_b.keyboard.press("Escape")
            assert "training" not in screen_text(page_b)

            # a save arrives as a download, and nothing is written where the server runs
            page_a.keyboard.press("Space")  # pause
            wait_for_text(page_a, r"\bpaused\b", timeout=30, since=start_a)
            page_a.keyboard.press("Control+s")
            wait_for_text(page_a, r"save a checkpoint to", timeout=30, since=start_a)
            with page_a.expect_download(timeout=60_000) as download:
                page_a.keyboard.press("Enter")
            assert download.value.suggested_filename.endswith(".ckpt")
            with open(download.value.path(), "rb") as f:
                assert len(f.read()) > 1000
            assert list(server_cwd.iterdir()) == []

            # a path outside --root is refused with one line; a file inside it can be picked
            start_b = len(screen_text(page_b))
            page_b.keyboard.press("Control+o")
            wait_for_text(page_b, r"load a checkpoint from", timeout=30, since=start_b)
            # appended to the proposed path: printable keys only (a key with a binding, such as
            # ctrl+u to clear the field, can be handled after characters typed in the same burst)
            page_b.keyboard.type("/../../../../../../../../etc/hostname")
            page_b.keyboard.press("Enter")
            wait_for_text(page_b, r"outside the served folder", timeout=30, since=start_b)
            page_b.keyboard.press("Escape")

            # the page fetched nothing from outside the server
            here = rf"(http|ws)://{re.escape(STUDENT_ADDRESS)}:\d+/"
            outside = [u for u in requests if not re.match(here, u)]
            assert outside == []

            context_a.close()  # one tab closed as a student closes it
            browsers[1].send_signal(signal.SIGKILL)  # the other browser killed outright
            os.killpg(browsers[1].pid, signal.SIGKILL)
            wait_until(lambda: len(app_processes(root)) <= baseline, 5, "every tab's app process ended")
    finally:
        for proc in browsers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
