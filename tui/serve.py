"""`gru-tui serve [--host H] [--port P] [--public-url URL] [--root DIR] [app flags]`: the app in
web browsers (textual-serve), for a class on other machines.

Each browser tab that opens the page gets its own app process (`python -m tui.serve_tab`),
with its own model and training thread, in its own temporary folder:

- the page's script and websocket addresses are the ones the browser used (its Host
  header), or --public-url: a server on 0.0.0.0 works from every student's machine;
- a tab's process ends when its tab goes, however it goes: the websocket closing (or
  missing its heartbeats) stops it, asking first and killing its process group after
  STOP_GRACE_S; SIGTERM to the server ends every tab the same way before it exits; the
  tab's process ends itself when its server dies (tui/serve_tab.py, tui/serve_driver.py);
- files: a tab opens files from --root only (default: a read-only folder of the built-in
  corpora) and writes only in its own folder, sent to the browser as downloads
  (tui/confine.py); the folders go with the server.

The app flags are checked here first, so a mistake is one line and exit status 2 instead
of a page that fails in every tab.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from gru_core.errors import GRUError
from gru_core.printable import visible

from .launch import make_parser as make_app_parser

STOP_GRACE_S = 1.0  # a tab's process asked to quit gets this long, then SIGKILL (its files are temporary)
HEARTBEAT_S = 10.0  # a client that vanished (no close, no FIN) is dropped after 1.5 times this
MAX_CELLS = 1000  # columns or rows a page may ask its tab for
PAGE = os.path.join(os.path.dirname(__file__), "serve_page.html")
HOST_HEADER = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def tab_command(app_argv: Sequence[str], root: str) -> list[str]:
    """The command each tab runs: this Python's serve_tab with the app's flags."""
    return [sys.executable, "-m", "tui.serve_tab", "--root", root, "--parent", str(os.getpid()),
            "--", *app_argv]


def check_host(host: str) -> str:
    """--host as given, or GRUError: an address or a name, printable, not empty."""
    if not host.strip():
        raise GRUError("--host is empty; give an address such as 127.0.0.1, or 0.0.0.0 for every "
                       "network this machine is on")
    if not re.fullmatch(r"[A-Za-z0-9.:\-\[\]]+", host):
        raise GRUError(f"--host {visible(host)!r} is not an address or a host name; give one such as "
                       f"127.0.0.1, or 0.0.0.0 for every network this machine is on")
    return host.strip("[]")


def check_public_url(url: str) -> str:
    """--public-url without its trailing slash, or GRUError: http(s)://host[:port][/path]."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or not HOST_HEADER.match(parts.netloc) \
            or parts.query or parts.fragment:
        raise GRUError(f"--public-url {visible(url)!r} is not an http(s) address; give the one students "
                       f"type, such as http://192.168.1.20:8080")
    return url.rstrip("/")


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """(the serve flags, the app's flags), the app's flags checked as `gru-tui` checks them."""
    from gru_core.cli import FlagParser, check_load_flags, config_from_args, int_arg

    parser = FlagParser(prog="gru-tui serve", allow_abbrev=False,
                        description="Serve the app to web browsers: one app process per browser tab. "
                        "Any other flag is an app flag (gru-tui --help).")
    parser.add_argument("--host", default="localhost",
                        help="address to listen on (default localhost; 0.0.0.0 for a whole network)")
    parser.add_argument("--port", type=int_arg("--port"), default=8000, help="port (default 8000)")
    parser.add_argument("--public-url", metavar="URL",
                        help="the address students open, when it is not the one their browser "
                        "sends (a proxy, say); by default the page uses the browser's own")
    parser.add_argument("--root", metavar="DIR",
                        help="the folder whose files students may open (default: a read-only "
                        "folder of the built-in corpora); nothing outside it can be opened")
    args, app_argv = parser.parse_known_args(list(argv))
    args.host = check_host(args.host)
    if not 1 <= args.port <= 65535:
        raise GRUError(f"--port must be from 1 to 65535; got {args.port}")
    if args.public_url is not None:
        args.public_url = check_public_url(args.public_url)
    if args.root is not None:
        if not os.path.isdir(args.root):
            raise GRUError(f"--root {visible(args.root)!r} is not a folder; give the folder whose "
                           f"files students may open")
        args.root = os.path.realpath(args.root)
    app_parser = make_app_parser()
    app_args = app_parser.parse_args(app_argv)
    check_load_flags(app_args, app_parser)
    config_from_args(app_args)  # a bad value or an unreadable file: said now, not in every tab
    if app_args.load:  # a checkpoint that cannot be loaded: refused now, as the app would
        from .launch import load_resume

        load_resume(app_args.load, app_args.epochs)
    # Each tab runs in a folder of its own: a relative --file or --load is made absolute (the
    # last one given is the one argparse keeps, whatever abbreviation came before)
    for flag, path in (("--file", app_args.file), ("--load", app_args.load)):
        if path:
            app_argv.append(f"{flag}={os.path.abspath(os.path.expanduser(path))}")
    return args, app_argv


def write_corpora(folder: str) -> str:
    """The built-in corpora as NAME.txt in `folder`/corpora, read-only; that folder's path."""
    from gru_core.corpora import CORPORA, load_corpus

    root = os.path.join(folder, "corpora")
    os.mkdir(root)
    for name in CORPORA:
        try:
            text = load_corpus(name)
        except GRUError:  # the stdlib corpus on a Python without its sources
            continue
        path = os.path.join(root, f"{name}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.chmod(root, stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return root


def remove_folder(folder: str) -> None:
    """rmtree, read-only folders included."""
    for dirpath, dirnames, _ in os.walk(folder):
        for name in dirnames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, name), stat.S_IRWXU)
    shutil.rmtree(folder, ignore_errors=True)


def page_base(request: Any, public_url: str | None) -> str:
    """http(s)://host[:port] the browser reached (its Host header), or --public-url."""
    if public_url is not None:
        return public_url
    host = request.host
    if not HOST_HEADER.match(host or ""):
        from aiohttp import web

        raise web.HTTPBadRequest(text="the Host header is not an address; open the server by its address")
    return f"{request.scheme}://{host}"


def tab_environment(width: int = 80, height: int = 24) -> dict[str, str]:
    """A tab's environment: textual-serve's (its web driver, truecolor) with ours in place."""
    from importlib.metadata import version

    return {**os.environ, "TEXTUAL_DRIVER": "tui.serve_driver:ServeDriver",
            "TEXTUAL_FPS": "30",  # textual-serve's 60 costs each tab CPU for nothing here
            "TEXTUAL_COLOR_SYSTEM": "truecolor", "TERM_PROGRAM": "textual",
            "TERM_PROGRAM_VERSION": version("textual-serve"), "COLUMNS": str(width), "ROWS": str(height)}


def make_server(command: list[str], host: str, port: int, public_url: str | None, work: str,
                zygote: Any = None) -> Any:
    """A textual-serve Server that forks a tab from `zygote` (tui/serve_zygote.py), or runs
    `command` for it where the zygote cannot (a class here: textual-serve loads late)."""
    import aiohttp_jinja2
    from aiohttp import web
    from aiohttp.web_runner import GracefulExit
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, to_int

    class TabService(AppService):
        """One tab's app process: exec'd (no shell), in its own process group and folder."""

        def __init__(self, folder: str, **kwargs: Any) -> None:
            super().__init__(" ".join(command), **kwargs)
            self.folder = folder

        def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
            return tab_environment(width, height)

        async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
            os.makedirs(self.folder, exist_ok=True)
            environment = self._build_environment(width, height)
            forked = None if zygote is None else await zygote.fork(self.folder, environment)
            if forked is not None:
                self._process, self._stdin = forked, forked.stdin
                return forked
            self._process = process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=environment,
                cwd=self.folder, start_new_session=True)
            self._stdin = process.stdin
            return process

        def kill(self) -> None:
            process = self._process
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)

        async def stop(self) -> None:
            """Ask the app to quit; after STOP_GRACE_S, kill its process group. Then its folder goes."""
            task = self._task
            if task is not None:
                self._task = None
                await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
                await self.send_meta({"type": "quit"})
                try:
                    await asyncio.wait_for(asyncio.shield(task), STOP_GRACE_S)
                except asyncio.TimeoutError:
                    self.kill()
                    await task
                process = self._process
                if process is not None:
                    try:
                        await asyncio.wait_for(process.wait(), STOP_GRACE_S)
                    except asyncio.TimeoutError:
                        self.kill()
                        await process.wait()
            remove_folder(self.folder)

    class ClassServer(Server):
        def __init__(self) -> None:
            super().__init__(" ".join(command), host=host, port=port, title="gru-tui", public_url=public_url)
            self.public_url_given = public_url
            self.templates_path = os.path.dirname(PAGE)  # tui/serve_page.html: a title, no outside font
            self.tabs: dict[TabService, asyncio.Task | None] = {}  # each tab's websocket handler
            self.stopping: set[asyncio.Future] = set()  # tabs being stopped (a reference keeps each task)
            self.tab_count = 0

        async def on_startup(self, app: web.Application) -> None:
            """Nothing said before the address is bound (textual-serve's logo and address here)."""

        def announce(self, *_: object) -> None:
            where = public_url or f"http://{host if ':' not in host else f'[{host}]'}:{port}"
            if public_url is None and ipaddress.ip_address(_literal(host) or "127.0.0.1").is_unspecified:
                where += " (students: this machine's address, the same port)"
            print(f"gru-tui serve: serving on {where}; ctrl+c stops it and every tab", flush=True)

        def serve(self, debug: bool = False) -> None:
            """textual-serve's, announcing the address once it is bound."""
            self.debug = debug
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            loop.add_signal_handler(signal.SIGINT, self.request_exit)
            loop.add_signal_handler(signal.SIGTERM, self.request_exit)
            web.run_app(self._make_app(), host=host, port=port, handle_signals=False, loop=loop,
                        print=self.announce)

        async def handle_index(self, request: web.Request) -> web.Response:
            base = page_base(request, self.public_url_given)
            router = request.app.router
            static = f"{base}{router['static'].url_for(filename='/')}".rstrip("/") + "/"
            ws_base = ("wss:" if base.startswith("https:") else "ws:") + base.split(":", 1)[1]
            context = {
                "font_size": to_int(request.query.get("fontsize", "16"), 16),
                "app_websocket_url": f"{ws_base}{router['websocket'].url_for()}",
                "config": {"static": {"url": static}},
                "application": {"name": self.title},
            }
            return aiohttp_jinja2.render_template(os.path.basename(PAGE), request, context)

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            websocket = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
            # a page's own size, within reason: a huge one would make its tab draw for nothing
            width = min(max(to_int(request.query.get("width", "80"), 80), 20), MAX_CELLS)
            height = min(max(to_int(request.query.get("height", "24"), 24), 10), MAX_CELLS)
            self.tab_count += 1
            tab = TabService(os.path.join(work, f"tab-{self.tab_count}"), write_bytes=websocket.send_bytes,
                             write_str=websocket.send_str, close=websocket.close,
                             download_manager=self.download_manager, debug=self.debug)
            handler = asyncio.current_task()
            self.tabs[tab] = handler
            try:
                await websocket.prepare(request)
                await tab.start(width, height)
                await self._process_messages(websocket, tab)
            except asyncio.CancelledError:  # the server is stopping, or aiohttp dropped the connection
                tab.kill()
                raise
            except Exception:  # a malformed message from the browser ends its tab, not the server
                pass
            finally:
                # In a task of its own: aiohttp cancels this handler once the connection has
                # gone (a closed tab), and a stop cancelled halfway left the tab's folder behind.
                stopping = asyncio.ensure_future(self.end_tab(tab))
                self.stopping.add(stopping)
                stopping.add_done_callback(self.stopping.discard)
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(stopping)
            return websocket

        async def end_tab(self, tab: TabService) -> None:
            try:
                await tab.stop()
            finally:
                self.tabs.pop(tab, None)

        def end_tabs(self) -> None:
            """Kill every tab's process group now and end its handler (the server is stopping:
            aiohttp would wait for each open websocket)."""
            for tab, handler in list(self.tabs.items()):
                tab.kill()
                if handler is not None:
                    with contextlib.suppress(RuntimeError):  # its loop already closed
                        handler.cancel()

        def request_exit(self) -> None:
            self.end_tabs()
            raise GracefulExit()

    return ClassServer()


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def serve_main(argv: Sequence[str]) -> int:
    try:
        args, app_argv = parse(argv)
    except GRUError as exc:
        print(f"gru-tui serve: error: {visible(str(exc))}", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="gru-tui-serve-")
    try:
        root = args.root or write_corpora(work)
        from .serve_zygote import Zygote

        zygote = Zygote(root, app_argv, tab_environment())
        server = make_server(tab_command(app_argv, root), args.host, args.port, args.public_url, work, zygote)
        try:
            server.serve()
        except OSError as exc:  # the port is taken, or the address is not this machine's
            hint = ("try another --port" if exc.errno == errno.EADDRINUSE
                    else "give an address of this machine, or 0.0.0.0")
            print(f"gru-tui serve: error: cannot listen on {visible(args.host)}:{args.port}: "
                  f"{visible(exc.strerror or str(exc))}; {hint}", file=sys.stderr)
            return 2
        finally:
            server.end_tabs()
            zygote.close()
    finally:
        remove_folder(work)
    return 0
