"""Start JupyterLab on the chapter notebooks: ``python -m poisondetect.lab`` (``make lab``).

The percent-format ``notebooks/*.py`` open as notebooks: jupytext's server
extension serves them, and a lab settings override makes "Jupytext Notebook"
the default viewer for Python files. Runs as root too (``--allow-root``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import paths

#: JupyterLab setting that opens .py files with jupytext's notebook view.
DEFAULT_VIEWERS = {
    "@jupyterlab/docmanager-extension:plugin": {
        "defaultViewers": {"python": "Jupytext Notebook"},
    }
}


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
