"""The browser tier's machinery (tests/test_browser.py): headless Chromium through Playwright, a JupyterLab
server on 127.0.0.1, and the page-side probes of the playground. No tests here.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it when it runs as root), driven by
Playwright for Python pointed at that binary: Playwright's own browser download is not used. Every request
the page makes goes through :func:`guard_network`, which lets 127.0.0.1 through and aborts (and records)
everything else.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
#: Screenshots of the browser tier (git-ignored): look at them after a run.
ARTIFACTS = ROOT / "output" / "browser"
LOCAL_HOSTS = ("127.0.0.1",)


def why_no_browser() -> str | None:
    """Why the browser tier cannot run here (a sentence for pytest's skip), or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]' brings it)"
    if shutil.which("chromium") is None:
        return ("no Chromium on this machine: apt-get install chromium (.ci/run installs it when it runs as "
                "root)")
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Outside:
    """Requests that tried to leave 127.0.0.1 (aborted): (resource type, URL)."""

    requests: list[tuple[str, str]] = field(default_factory=list)


def guard_network(context, outside: Outside) -> None:
    """Route every request of ``context``: 127.0.0.1 passes, anything else is aborted and recorded."""

    def route(r) -> None:
        url = r.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            r.continue_()
        else:
            outside.requests.append((r.request.resource_type, url))
            r.abort()

    context.route("**/*", route)


@contextmanager
def chromium() -> Iterator[object]:
    """Headless Debian Chromium under Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Lab:
    """A JupyterLab server: its base URL, token and root folder."""

    base: str
    token: str
    root: Path
    log: Path

    def url(self, path: str, workspace: str) -> str:
        """``path`` opened in a workspace of its own, emptied first: a page must not restore the notebooks that
        another page left open in a shared workspace (its current notebook would not be ``path``)."""
        return f"{self.base}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.token}"


@contextmanager
def jupyterlab(root: Path, scratch: Path, env: dict[str, str]) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 with a token, serving ``root``, with its config, runtime, settings and
    workspaces in ``scratch`` (nothing of the user's own set-up), the app exposed to the page's scripts
    (``window.jupyterapp``), and nothing that would reach out (news, update checks, the extension manager)."""
    token = secrets.token_hex(16)
    port = free_port()
    settings = scratch / "settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")
    env = dict(env, JUPYTER_CONFIG_DIR=str(scratch / "config"), JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
               JUPYTER_DATA_DIR=str(scratch / "data"), IPYTHONDIR=str(scratch / "ipython"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--ServerApp.terminals_enabled=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = scratch / "jupyterlab.log"
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer in 120 s:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.5)
        yield Lab(base, token, root, log)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# ------------------------------------------------------------------------------------------------
# The notebook page
# ------------------------------------------------------------------------------------------------

_KERNEL = "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"

#: Installed in the page once the notebook's kernel is up: every IOPub message of that kernel is kept, so a
#: test can ask whether anything printed to stderr or raised (widget callbacks print into the log console,
#: not into a cell, so the page alone would not show it).
_LISTEN = """() => {
  const kernel = KERNEL;
  window.__iopub = [];
  kernel.iopubMessage.connect((_, msg) => {
    const c = msg.content || {};
    if (msg.header.msg_type === 'error') window.__iopub.push({kind: 'error', text: c.ename + ': ' + c.evalue});
    if (msg.header.msg_type === 'stream' && c.name === 'stderr') window.__iopub.push({kind: 'stderr', text: c.text});
  });
}""".replace("KERNEL", _KERNEL)

#: The SHA-256 (hex) and length of the bytes the playground's result <img> shows now; null without a picture.
_IMAGE = """async () => {
  const img = document.querySelector('img.adain-result');
  if (!img || !img.src) return null;
  const bytes = await (await fetch(img.src)).arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, '0')).join('') + ':' + bytes.byteLength;
}"""

_EXECUTE = """async (code) => {
  const future = KERNEL.requestExecute({code: code, stop_on_error: true});
  const replies = [];
  future.onIOPub = (msg) => { if (msg.header.msg_type === 'error') replies.push(msg.content.evalue); };
  await future.done;
  return replies;
}""".replace("KERNEL", _KERNEL)


@dataclass(frozen=True)
class View:
    """What the playground shows: the result image's hash, the timing readout, the message line."""

    image: str | None
    timing: str
    message: str


class NotebookPage:
    """One notebook open in JupyterLab: run it, then read and drive its playground as a person would."""

    def __init__(self, page, name: str, path: str) -> None:
        self.page = page
        self.name = name
        self.path = path

    def run_all(self, timeout_s: float = 600) -> None:
        """Wait for the notebook ``path`` to be the current one with its kernel idle, run every cell (Run > Run
        All Cells), and wait until every cell has run."""
        self.page.wait_for_function(
            f"""p => {{ try {{ const w = window.jupyterapp.shell.currentWidget;
                           return w.context.path === p && {_KERNEL}.status === 'idle'; }}
                       catch (e) {{ return false; }} }}""", arg=self.path, timeout=timeout_s * 1000)
        self.page.evaluate(_LISTEN)
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_selector("img.adain-result", timeout=timeout_s * 1000)
        self.wait_idle(timeout_s)

    def wait_idle(self, timeout_s: float = 300) -> None:
        """Until every cell has run: no cell waits with ``[*]``, and the kernel is idle."""
        self.page.wait_for_function(
            f"""() => {{
              const nb = window.jupyterapp.shell.currentWidget.content;
              const pending = nb.widgets.some(c => c.model.type === 'code' && c.promptNode &&
                                             c.promptNode.textContent.includes('*'));
              return !pending && {_KERNEL}.status === 'idle';
            }}""", timeout=timeout_s * 1000)

    def cell_errors(self) -> list[str]:
        """The error outputs of the notebook's cells (ename: evalue)."""
        return self.page.evaluate("""() => {
          const out = [];
          const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
          for (let i = 0; i < cells.length; i++) {
            const cell = cells.get(i);
            if (cell.type !== 'code') continue;
            const outputs = cell.outputs;
            for (let j = 0; j < outputs.length; j++) {
              const o = outputs.get(j).toJSON();
              if (o.output_type === 'error') out.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
            }
          }
          return out;
        }""")

    def printed_problems(self) -> list[str]:
        """What the kernel printed to stderr or raised since the last call (then forgotten)."""
        found = self.page.evaluate("() => { const f = window.__iopub || []; window.__iopub = []; return f; }")
        return [f"{item['kind']}: {item['text'].strip()[:300]}" for item in found]

    def execute(self, code: str) -> list[str]:
        """Run ``code`` in the notebook's kernel (as a cell would, but without a cell); its errors."""
        return self.page.evaluate(_EXECUTE, code)

    def view(self) -> View:
        return View(
            image=self.page.evaluate(_IMAGE),
            timing=self.page.text_content(".adain-timing"),
            message=self.page.inner_html(".adain-message"),
        )

    def wait_for_redraw(self, before: View, timeout_s: float = 90) -> View:
        """Wait until the playground shows another picture than in ``before`` and its timing readout has
        changed; then return what it shows. AssertionError when the picture stays the same (a control that
        does not redraw), when the readout does not follow, or when the message line reports an error."""
        deadline = time.monotonic() + timeout_s
        now = self.view()
        while now.image == before.image and time.monotonic() < deadline:
            self.page.wait_for_timeout(250)
            now = self.view()
        assert now.image is not None and now.image != before.image, (
            f"{self.name}: the picture did not change within {timeout_s:.0f} s")
        deadline = time.monotonic() + 15
        while now.timing == before.timing and time.monotonic() < deadline:
            self.page.wait_for_timeout(250)
            now = self.view()
        assert now.timing != before.timing, f"{self.name}: the timing readout stayed {before.timing!r}"
        assert "#b00020" not in now.message.lower(), f"{self.name}: the playground reports {now.message!r}"
        return now

    def screenshot(self, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        self.page.locator(".adain-playground").screenshot(path=str(path))
        return path

    # -- a person's actions -------------------------------------------------------------------------
    def drag_alpha(self, dx: float) -> str:
        """Drag the alpha slider's handle by ``dx`` pixels with the mouse; returns the new readout."""
        handle = self.page.locator(".adain-alpha .noUi-handle")
        handle.click()  # a click on the handle changes nothing, but selects the cell (JupyterLab may scroll)
        self.page.wait_for_timeout(300)
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        self.page.mouse.move(x + dx, y, steps=8)
        self.page.mouse.up()
        return self.page.text_content(".adain-alpha .widget-readout")

    def choose_next(self, css: str) -> str:
        """Choose, in the dropdown ``css``, the option after the selected one (after the last: the second;
        the first is "none"); returns its label."""
        select = self.page.locator(f"{css} select")
        select.scroll_into_view_if_needed()
        count = select.locator("option").count()
        current = select.evaluate("s => s.selectedIndex")
        index = current + 1 if current + 1 < count else 1
        assert index != current, f"{css} offers nothing else to choose"
        select.select_option(index=index)
        return select.locator("option").nth(index).text_content()

    def toggle(self, css: str) -> bool:
        """Click the checkbox ``css``; returns whether it is ticked now."""
        box = self.page.locator(f"{css} input[type=checkbox]")
        box.scroll_into_view_if_needed()
        box.click()
        return box.is_checked()


# ------------------------------------------------------------------------------------------------
# Static files (the slide decks) on 127.0.0.1
# ------------------------------------------------------------------------------------------------


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a thread); yields the base URL."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


#: How the deck stands: reveal.js ready, the top-level slides that can be seen, the indices, whether the
#: page is one screen (a deck) rather than a long scrolling page.
DECK_STATE = """() => {
  const top = Array.from(document.querySelectorAll('.reveal .slides > section'));
  const seen = top.filter(s => {
    const st = getComputedStyle(s);
    return st.display !== 'none' && st.visibility !== 'hidden' && parseFloat(st.opacity) > 0;
  });
  return {
    ready: !!(window.Reveal && Reveal.isReady()),
    slides: top.length,
    present: document.querySelectorAll('.reveal .slides > section.present').length,
    seen: seen.length,
    indices: window.Reveal ? Reveal.getIndices() : null,
    current: window.Reveal ? Reveal.getCurrentSlide().textContent.trim().slice(0, 80) : null,
    oneScreen: document.documentElement.scrollHeight <= window.innerHeight + 2,
  };
}"""

#: Waits until MathJax has typeset everything queued; then what it made and what it could not parse.
MATH_STATE = """async () => {
  if (!window.MathJax || !MathJax.Hub) return {loaded: false};
  await new Promise(resolve => MathJax.Hub.Queue(resolve));
  return {
    loaded: true,
    typeset: document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_SVG, .MathJax_CHTML').length,
    scripts: document.querySelectorAll('script[type^="math/tex"]').length,
    errors: Array.from(document.querySelectorAll('.MathJax_Error, merror')).map(e => e.textContent).slice(0, 5),
  };
}"""
