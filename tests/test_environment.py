"""The two descriptions of the environment (pyproject.toml, environment.yml) must pin the same versions."""

import re
import tomllib

from poisondetect import paths


def _pins(lines):
    return {name.lower(): version for name, version in (line.split("==") for line in lines)}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    pyproject_pins = _pins(project["dependencies"])
    yml = (paths.ROOT / "environment.yml").read_text()
    conda_pins = _pins(re.findall(r"^\s+- ([A-Za-z0-9_.\-]+==[^\s#]+)", yml, flags=re.M))
    assert conda_pins == pyproject_pins
    assert re.search(r"^\s+- python=3\.12$", yml, flags=re.M)


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    assert all("==" in dep for dep in project["dependencies"]), project["dependencies"]
