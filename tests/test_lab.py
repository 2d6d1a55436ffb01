"""JupyterLab opens the percent-format chapter notebooks as notebooks, renders them, and leaves them unchanged."""

import asyncio
import contextlib
import difflib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import jupytext
import pytest
import websocket

from poisondetect import lab, paths, pipeline

CHAPTERS = pipeline.discover()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str | None = None):
    headers = {"Authorization": f"token {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def _lab_server(extra_args=(), env=None):
    """``make lab``'s server on a free port, without a browser; yields its URL and token, then stops it."""
    lab.write_settings_overrides()
    port, token = _free_port(), "poisondetect-test"
    server = subprocess.Popen(lab.lab_command(port, open_browser=False, token=token) + list(extra_args),
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/api/status", token)
                break
            except OSError:
                assert server.poll() is None, "jupyter lab exited during start-up"
                assert time.monotonic() < deadline, "jupyter lab did not answer within 60 s"
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_lab_serves_percent_notebook_as_notebook():
    with _lab_server() as (base, token):
        model = _get(f"{base}/api/contents/notebooks/01_data.py?type=notebook&content=1", token)
        assert model["type"] == "notebook"
        cells = model["content"]["cells"]
        assert any("parameters" in c["metadata"].get("tags", []) for c in cells)
        assert cells[0]["cell_type"] == "markdown"
        settings = _get(f"{base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin", token)
        # overrides change the schema's defaults, which apply unless the user set something else
        viewers = settings["schema"]["properties"]["defaultViewers"]["default"]
        assert viewers["python"] == "Jupytext Notebook"


def test_opening_and_saving_a_chapter_changes_nothing(tmp_path):
    """Get then save through the server's contents manager, with the metadata the kernel adds, is byte-identical."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(paths.ROOT / "jupytext.toml", tmp_path)
    for chapter in CHAPTERS:
        shutil.copy(chapter, tmp_path / "notebooks")
    manager = lab.ChapterContentsManager(root_dir=str(tmp_path))

    async def round_trip(path: str) -> None:
        model = await manager.get(path, type="notebook", content=True)
        metadata = model["content"]["metadata"]
        assert metadata["language_info"]["name"] == "python"
        # what JupyterLab sets when the kernel starts (display name from the kernel spec)
        metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        # view state that must not reach the file
        model["content"]["cells"][0]["metadata"]["jp-MarkdownHeadingCollapsed"] = True
        await manager.save(model, path)

    for chapter in CHAPTERS:
        asyncio.run(round_trip(f"notebooks/{chapter.name}"))
        assert (tmp_path / "notebooks" / chapter.name).read_bytes() == chapter.read_bytes(), chapter.name


class Chromium:
    """Headless Chromium with one page, driven through the DevTools protocol.

    Parameters
    ----------
    profile : Path
        An empty folder for the browser's profile.
    """

    def __init__(self, profile: Path) -> None:
        executable = shutil.which("chromium")
        if executable is None:
            pytest.fail("chromium is not installed: the JupyterLab browser test needs it. `make test` installs it "
                        "when run as root with apt-get; otherwise run: sudo apt-get install -y chromium")
        self.process = subprocess.Popen(
            [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-crash-reporter",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self.socket, self.calls = None, 0
        try:
            port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 60
            while not (port_file.exists() and port_file.read_text().count("\n")):
                assert self.process.poll() is None, f"chromium exited during start-up (code {self.process.returncode})"
                assert time.monotonic() < deadline, "chromium did not open its DevTools port within 60 s"
                time.sleep(0.1)
            port = port_file.read_text().split()[0]
            page = next(t for t in _get(f"http://127.0.0.1:{port}/json/list") if t["type"] == "page")
            self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], suppress_origin=True, timeout=120)
        except BaseException:
            self.close()
            raise

    def call(self, method: str, **params):
        """Send one DevTools command and return its result (events in between are dropped)."""
        self.calls += 1
        self.socket.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.calls:
                assert "error" not in message, f"{method}: {message['error']}"
                return message["result"]

    def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression in the page; promises are awaited."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in result, f"{expression[:200]}\n{result['exceptionDetails']}"
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 60):
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
            time.sleep(0.25)
        return value

    def close(self) -> None:
        """Close the connection and stop the browser and its helper processes (its own process group)."""
        if self.socket is not None:
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


#: The notebook panel of ``path`` as ``w``, and the application as ``app``.
_PANEL = "const app = window.jupyterapp; const w = [...app.shell.widgets('main')].find(x => x.context && x.context.path === path);"

#: What a reader sees of the chapter in ``w``: rendered markdown, typeset maths, leftover LaTeX (as ``view``).
_RENDERED = """
  const markdown = [...w.node.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')];
  const prose = markdown.map(node => {
    const copy = node.cloneNode(true);
    copy.querySelectorAll('mjx-container, code, pre').forEach(x => x.remove());
    return copy.textContent;
  }).join('\\n');
  const view = {
    panel: w.node.classList.contains('jp-NotebookPanel'), markdownCells: markdown.length,
    expectedMarkdown: w.content.widgets.filter(c => c.model.type === 'markdown' && !c.inputHidden).length,
    maths: w.node.querySelectorAll('.jp-RenderedMarkdown mjx-container').length,
    mathErrors: w.node.querySelectorAll('mjx-merror').length,
    latex: prose.match(/\\\\[A-Za-z]+|\\$/g) || [], dirty: w.context.model.dirty,
  };
"""

#: Run cells ``first`` to ``last`` with the notebook's run command; return each cell's output types.
_RUN = _PANEL + """
  app.shell.activateById(w.id);
  for (let i = first; i <= last; i++) {
    w.content.activeCellIndex = i;
    await app.commands.execute('notebook:run-cell');
  }
  return w.content.widgets.slice(first, last + 1).map(c => c.model.type !== 'code' ? [] :
    c.model.outputs.toJSON().map(o => o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : Object.keys(o.data || {stream: 1})));
"""


def _js(body: str, **arguments) -> str:
    """An async JavaScript function of ``arguments`` (JSON values) with ``body``, called at once."""
    return f"(async ({', '.join(arguments)}) => {{ {body} }})({', '.join(json.dumps(v) for v in arguments.values())})"


def _markdown(chapter: Path) -> str:
    return "".join(cell.source for cell in jupytext.read(chapter).cells if cell.cell_type == "markdown")


@pytest.mark.slow
def test_chapters_render_run_and_stay_unchanged_in_the_browser(tmp_path):
    """Each chapter opens as a rendered notebook (maths typeset, no LaTeX left) that is not marked modified;
    chapter 1 shows its first figure inline; opening, running, saving and closing leaves every file unchanged."""
    settings = tmp_path / "settings" / "@jupyterlab"
    # render every cell (not only those in view), so that all markdown can be checked; no news pop-up
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    # the kernel picks its backend as in a reader's JupyterLab (the test suite sets MPLBACKEND=Agg)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    with _lab_server(["--LabApp.expose_app_in_browser=True"], env) as (base, token):
        browser = Chromium(tmp_path / "chromium")
        try:
            first = f"notebooks/{CHAPTERS[0].name}"
            browser.call("Emulation.setFocusEmulationEnabled", enabled=True)  # a headless page has no focus otherwise
            browser.call("Page.navigate", url=f"{base}/lab/tree/{first}?reset&token={token}")
            browser.wait_for("window.jupyterapp && window.jupyterapp.restored.then(() => true)", "JupyterLab to start")
            for chapter in CHAPTERS:
                path, before, modified = f"notebooks/{chapter.name}", chapter.read_bytes(), chapter.stat().st_mtime_ns
                if path != first:
                    browser.evaluate(_js("await window.jupyterapp.commands.execute('docmanager:open', {path});", path=path))
                browser.wait_for(_js(_PANEL + """if (!w) return false;
                    await w.context.ready; await w.sessionContext.ready;
                    const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
                    return kernel !== null && kernel.status === 'idle';""", path=path), f"{path} and its kernel")
                # typesetting is asynchronous: wait until no '$' is left (or there is no maths)
                view = browser.wait_for(_js(_PANEL + _RENDERED + """return view.markdownCells === view.expectedMarkdown
                    && (view.maths > 0) === hasMaths && !view.latex.includes('$') ? view : null;""",
                    path=path, hasMaths="$" in _markdown(chapter)), f"{path} to render its markdown and maths")
                assert view["panel"], f"{path} did not open in the notebook view"
                assert view["mathErrors"] == 0, f"{path}: MathJax could not typeset {view['mathErrors']} formulas"
                assert view["latex"] == [], f"{path}: raw LaTeX in the rendered text: {sorted(set(view['latex']))}"
                assert not view["dirty"], f"{path} is marked modified just by opening it"
                if chapter == CHAPTERS[0]:
                    _run_to_first_figure(browser, path, chapter)
                browser.evaluate(_js(_PANEL + """app.shell.activateById(w.id);
                    await app.commands.execute('docmanager:save');
                    await w.sessionContext.shutdown(); w.close();""", path=path))
                assert chapter.stat().st_mtime_ns != modified, f"JupyterLab did not save {path}"
                after = chapter.read_bytes()
                if after != before:
                    chapter.write_bytes(before)  # do not leave the change behind
                    diff = difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), lineterm="")
                    pytest.fail(f"{path} changed on disk after open, save and close:\n" + "\n".join(list(diff)[:20]))
        finally:
            browser.close()


def _run_to_first_figure(browser: Chromium, path: str, chapter: Path) -> None:
    """Run the chapter's cells up to its first figure with ``profile = "smoke"``; the figure must appear inline."""
    cells = jupytext.read(chapter).cells
    parameters = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    figure = next(i for i, c in enumerate(cells) if i > parameters and "save_figure(" in c.source)
    outputs = browser.evaluate(_js(_RUN, path=path, first=0, last=parameters))
    # the smoke profile, set in the kernel only: the file keeps its parameters
    browser.evaluate(_js(_PANEL + """await w.sessionContext.session.kernel.requestExecute({code: 'profile = "smoke"'}).done;""",
                         path=path))
    outputs += browser.evaluate(_js(_RUN, path=path, first=parameters + 1, last=figure))
    errors = [output for cell in outputs for output in cell if isinstance(output, str)]
    assert not errors, f"{path}: {errors}"
    assert [output for output in outputs[figure] if "image/png" in output], f"{path}: the figure cell showed {outputs[figure]}"
    images = browser.wait_for(_js(_PANEL + """return w.content.widgets[figure].node.querySelectorAll(
        '.jp-OutputArea-output img[src^="data:image/png"]').length;""", path=path, figure=figure), f"{path}'s figure")
    assert images == 1, f"{path}: the figure is shown {images} times"


def test_in_jupyter_frontend_follows_the_servers_session_variable(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert not lab.in_jupyter_frontend()
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/04_optimal_transport.py")
    assert lab.in_jupyter_frontend()
