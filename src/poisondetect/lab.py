"""Start JupyterLab on the chapter notebooks: ``python -m poisondetect.lab`` (``make lab``).

The percent-format ``notebooks/*.py`` open as notebooks: jupytext's contents
manager serves them, and a lab settings override makes "Jupytext Notebook"
the default viewer for Python files. Runs as root too (``--allow-root``).

Reading a chapter leaves it unchanged: ``jupytext.toml`` keeps the header to
what the files hold (no jupytext version), and :class:`ChapterContentsManager`
gives each chapter the kernel's ``language_info``, so that starting the kernel
does not mark a chapter just opened as modified.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ipykernel.ipkernel import IPythonKernel
from jupytext import AsyncTextFileContentsManager

from . import paths

#: JupyterLab settings: .py files open with jupytext's notebook view, and every cell of a chapter is
#: rendered when it opens (JupyterLab 4 otherwise renders only the cells in view, so a search of the page
#: or a scroll to a formula finds nothing until it has been scrolled past).
DEFAULT_VIEWERS = {
    "@jupyterlab/docmanager-extension:plugin": {
        "defaultViewers": {"python": "Jupytext Notebook"},
    },
    "@jupyterlab/notebook-extension:tracker": {
        "windowingMode": "none",
    },
}


class ChapterContentsManager(AsyncTextFileContentsManager):
    """Jupytext's contents manager, with the kernel's ``language_info`` in every text notebook.

    JupyterLab copies the kernel's ``language_info`` into a notebook's metadata
    when the kernel starts, and any change of metadata marks the notebook as
    modified (the unsaved-changes dot, a save prompt on closing). Percent files
    do not store it (jupytext's header filter drops it on saving), so the model
    of a text notebook gets the value that ipykernel, run by this Python,
    reports; the kernel then changes nothing.
    """

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        """The model of ``path``; a text notebook's metadata gets ipykernel's ``language_info`` if it has none."""
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if content and model["type"] == "notebook" and not path.endswith(".ipynb"):
            model["content"]["metadata"].setdefault("language_info", dict(IPythonKernel.language_info))
        return model


def write_settings_overrides(prefix: Path | None = None) -> Path:
    """Merge :data:`DEFAULT_VIEWERS` into ``<prefix>/share/jupyter/lab/settings/overrides.json``."""
    target = Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    current = json.loads(target.read_text()) if target.exists() else {}
    for plugin, settings in DEFAULT_VIEWERS.items():
        current.setdefault(plugin, {}).update(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(current, indent=2) + "\n")
    return target


def lab_command(port: int = 8888, open_browser: bool = True, token: str | None = None) -> list[str]:
    """The ``jupyter lab`` command line rooted at the repository, bound to localhost."""
    command = [
        sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={paths.ROOT}", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=20",
        f"--ServerApp.default_url=/lab/tree/notebooks/01_data.py",
        "--ServerApp.contents_manager_class=poisondetect.lab.ChapterContentsManager",
    ]
    if not open_browser:
        command.append("--no-browser")
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def in_jupyter_frontend() -> bool:
    """Whether this kernel was started by a Jupyter server (JupyterLab or Notebook), so widgets can show.

    A Jupyter server gives each kernel it starts the environment variable
    ``JPY_SESSION_NAME`` (the notebook's path); papermill, ``make figures`` and
    the tests start kernels without a server, so notebooks skip their
    interactive cells there.
    """
    return bool(os.environ.get("JPY_SESSION_NAME"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m poisondetect.lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    write_settings_overrides()
    command = lab_command(args.port, open_browser=not args.no_browser)
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
