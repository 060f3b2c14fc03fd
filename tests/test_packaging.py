"""environment.yml (conda, and its pip section for what conda-forge lacks) and pyproject.toml list the same packages."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).parents[1]
CONDA_TO_PYPI = {"pytorch": "torch", "pytables": "tables"}
NOT_PACKAGES = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].strip().lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pypi = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {CONDA_TO_PYPI.get(_name(d), _name(d)) for d in env["dependencies"] if isinstance(d, str)}
    from_pip = {_name(r) for d in env["dependencies"] if isinstance(d, dict) for r in d.get("pip", [])}
    assert conda.isdisjoint(from_pip)
    assert (conda | from_pip) - NOT_PACKAGES == pypi


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
