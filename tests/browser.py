"""Open a page in headless Chromium over the DevTools protocol: errors, requests, DOM checks, screenshot.

Used by the report tests to check that ``report.html`` renders in a real
browser, offline.  Chromium comes from the system (``scripts/setup-system.sh``
installs Debian's ``chromium``); :func:`chromium` is None without it.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=1400,1000"]


def chromium() -> str | None:
    """The Chromium executable, or None when none is installed."""
    return next(filter(None, (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome"))), None)


@dataclass
class Rendered:
    """What the browser saw: console errors and uncaught exceptions, requests that left the machine,
    and the values of the JavaScript expressions asked for."""

    errors: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)
    values: dict = field(default_factory=dict)


class _DevTools:
    def __init__(self, ws_url: str, timeout: float):
        import websocket  # websocket-client, from the test extra

        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events = []

    def call(self, method: str, **params):
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(f"no {method} within {timeout} s")


def _port(profile: Path, proc, timeout: float) -> int:
    file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if file.is_file() and file.read_text().strip():
            return int(file.read_text().split()[0])
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


def render(page: Path, screenshot: Path | None = None, evaluate: dict | None = None, timeout: float = 60,
           max_height: int = 8000) -> Rendered:
    """Load ``page`` in headless Chromium, collect errors, evaluate ``evaluate`` (name -> JS expression)
    and save a full-page ``screenshot`` (PNG, at most ``max_height`` pixels tall)."""
    profile = Path(tempfile.mkdtemp(prefix="sfcbench-chromium-"))
    proc = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = _port(profile, proc, timeout)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as r:
            target = next(t for t in json.load(r) if t["type"] == "page")
        tools = _DevTools(target["webSocketDebuggerUrl"], timeout)
        for domain in ("Runtime", "Log", "Network", "Page"):
            tools.call(f"{domain}.enable")
        tools.call("Page.navigate", url=Path(page).resolve().as_uri())
        tools.wait_for("Page.loadEventFired", timeout)
        time.sleep(1.0)  # let plotly finish drawing after load
        out = Rendered()
        for name, expression in (evaluate or {}).items():
            out.values[name] = tools.call("Runtime.evaluate", expression=expression, returnByValue=True)[
                "result"].get("value")
        if screenshot is not None:
            size = tools.call("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
            shot = tools.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        for event in tools.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                out.errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                out.errors.append("exception: " + details.get("exception", {}).get("description", details["text"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.errors.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "about:", "blob:")):
                    out.remote_requests.append(url)
        tools.ws.close()
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
