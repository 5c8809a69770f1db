"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, and a static page server.

No browser download: the project's setup installs the system package. Only what the tests need:
open a page, evaluate JavaScript, click at a point, take a screenshot, close the page.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
from websockets.sync.client import ClientConnection, connect

from analytics_pipeline.launcher import kill_survivors

# Without the background-networking flags Chromium dials out at start and, on a closed network, stalls.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature is the base class's
        pass


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free loopback port; yields the origin (``http://127.0.0.1:<port>``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class DevTools:
    """A minimal DevTools protocol client on the browser's websocket (flattened target sessions)."""

    def __init__(self, socket: ClientConnection):
        self.socket, self.last_id = socket, 0

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:  # events of the protocol are not needed here: skip them
            reply = json.loads(self.socket.recv(timeout=30))
            if reply.get("id") == self.last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]


class Page:
    def __init__(self, devtools: DevTools, target_id: str, session: str):
        self.devtools, self.target_id, self.session = devtools, target_id, session

    def evaluate(self, expression: str):
        """The value of ``expression`` (promises awaited); a JavaScript exception fails the test."""
        result = self.devtools.call(
            "Runtime.evaluate", self.session, expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"page exception: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the centre of the element."""
        x, y = self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.devtools.call(
                "Input.dispatchMouseEvent", self.session, type=kind, x=x, y=y, button="left", clickCount=1
            )

    def screenshot(self, path: Path) -> Path:
        """What the page shows now, as a PNG of the browser's viewport."""
        data = self.devtools.call("Page.captureScreenshot", self.session, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Close the tab, as a user does: the page gets pagehide and visibilitychange."""
        self.devtools.call("Target.closeTarget", targetId=self.target_id)


class Browser:
    def __init__(self, devtools: DevTools):
        self.devtools = devtools

    def open(self, url: str, width: int = 1440, height: int = 900) -> Page:
        """A new tab on ``url``, with a viewport of ``width`` x ``height`` CSS pixels."""
        target_id = self.devtools.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.devtools.call("Target.attachToTarget", targetId=target_id, flatten=True)["sessionId"]
        page = Page(self.devtools, target_id, session)
        self.devtools.call("Runtime.enable", session)
        self.devtools.call(
            "Emulation.setDeviceMetricsOverride", session, width=width, height=height, deviceScaleFactor=1, mobile=False
        )
        self.devtools.call("Page.navigate", session, url=url)
        return page


def chromium_path() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is not installed: `make setup` installs the Debian package (apt-get install chromium)"
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium with a throwaway profile; killed (not left behind) when the block ends."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        process = subprocess.Popen(
            [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text().strip()):
                assert process.poll() is None, "chromium exited during startup"
                assert time.monotonic() < deadline, "chromium did not open its DevTools port"
                time.sleep(0.05)
            port = int(port_file.read_text().splitlines()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=10) as response:
                url = json.load(response)["webSocketDebuggerUrl"]
            with connect(url, max_size=None, open_timeout=30) as socket:
                yield Browser(DevTools(socket))
        finally:
            # Its helpers (zygote, renderers, crashpad) write into the profile until they end too: the
            # profile can only go once the whole family is gone.
            try:
                helpers = psutil.Process(process.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                helpers = []
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            kill_survivors(helpers, grace=10)
