"""JupyterLab opens the percent-format chapter notebooks as notebooks."""

import json
import socket
import subprocess
import time
import urllib.request

import pytest

from poisondetect import lab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str):
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_lab_serves_percent_notebook_as_notebook():
    lab.write_settings_overrides()
    port, token = _free_port(), "poisondetect-test"
    server = subprocess.Popen(lab.lab_command(port, open_browser=False, token=token),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        model = _get(f"{base}/api/contents/notebooks/01_data.py?type=notebook&content=1", token)
        assert model["type"] == "notebook"
        cells = model["content"]["cells"]
        assert any("parameters" in c["metadata"].get("tags", []) for c in cells)
        assert cells[0]["cell_type"] == "markdown"
        settings = _get(f"{base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin", token)
        # overrides change the schema's defaults, which apply unless the user set something else
        viewers = settings["schema"]["properties"]["defaultViewers"]["default"]
        assert viewers["python"] == "Jupytext Notebook"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_in_jupyter_frontend_follows_the_servers_session_variable(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert not lab.in_jupyter_frontend()
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/04_optimal_transport.py")
    assert lab.in_jupyter_frontend()
