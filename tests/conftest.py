"""Shared fixtures: tiny simulated DL1 files and sample stores made by the package itself."""

from pathlib import Path

import pytest
import yaml

from sciimg import samples
from sciimg.config import validate_config
from sciimg.data.ingest_cherenkov import ingest_cherenkov
from sciimg.simulate.cherenkov import simulate_cherenkov_file

TINY_CONFIG = Path(__file__).parent / "data" / "tiny.yaml"


@pytest.fixture(scope="session")
def lst_geometry():
    """The real LST camera (1855 hexagonal pixels), from data/samples."""
    from sciimg.geometry.camera import load_camera_geometry

    return load_camera_geometry(samples.path("lst_camera"))


@pytest.fixture(scope="session")
def lst_muons() -> Path:
    """The real LST sim_telarray file (30 muon events), from data/samples."""
    return samples.path("lst_muons")


@pytest.fixture(scope="session")
def tiny_spec() -> dict:
    """The validated experiment of tests/data/tiny.yaml."""
    config = validate_config(yaml.safe_load(TINY_CONFIG.read_text()))
    return config["experiments"]["tiny_energy"]


@pytest.fixture(scope="session")
def tiny_dl1(tmp_path_factory, tiny_spec) -> Path:
    """A small simulated DL1 file, as the tiny config's simulate rule writes it."""
    path = tmp_path_factory.mktemp("dl1") / "tiny.dl1.h5"
    options = dict(tiny_spec["data"]["simulate"])
    simulate_cherenkov_file(path, options.pop("n_events"), options.pop("seed"), **options)
    return path


@pytest.fixture(scope="session")
def tiny_stores(tmp_path_factory, tiny_dl1, tiny_spec) -> dict[str, Path]:
    """train/val/test sample stores ingested from ``tiny_dl1``."""
    out = tmp_path_factory.mktemp("stores")
    return ingest_cherenkov([tiny_dl1], out, tiny_spec)
