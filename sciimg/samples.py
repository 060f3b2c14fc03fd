"""Real sample files that ship with sciimg in ``data/samples/``, by name.

``sciimg.samples.path("lst_camera")`` returns a file's path, as scikit-image and ctapipe
name their example data; ``sciimg samples`` lists them. Sources, licences and hashes are in
``data/samples/README.md`` and ``data/samples/SHA256SUMS``. Nothing is downloaded: the files
are part of the repository.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

from sciimg.errors import InputError

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "data" / "samples"


class Sample(NamedTuple):
    """One sample file: where it lies under ``data/samples/`` and what it is."""

    file: str
    description: str


SAMPLES = {
    "lst_camera": Sample("cherenkov/LSTCam.camgeom.fits.gz", "CTA LST camera geometry: 1855 hexagonal pixels"),
    "lst_muons": Sample("cherenkov/lst_muons.simtel.zst", "sim_telarray file: 30 LST muon-ring events"),
    "hadcm3_north_america": Sample(
        "climate/E1_north_america.nc", "HadCM3 near-surface air temperature (K), 240 months on 37 x 49 cells"
    ),
    "hadcrut4_gaps": Sample(
        "climate/tas_hadcrut_187709_189308.nc", "HadCRUT4 monthly anomalies, 2 x 72 x 72, real coverage gaps"
    ),
    "wfde5_britain": Sample(
        "climate/wfde5_air_temperature_unifhy.nc", "WFDE5 hourly air temperature (K) over Britain, January 2017"
    ),
    "larndsim_cosmics": Sample(
        "detector3d/larndsim_evd_qc_tpc.h5", "larnd-sim LArPix events: 324 cosmic-ray events with fitted tracks"
    ),
    "horsehead_plate": Sample("sky/HorseHead.fits", "DSS photographic plate scan of the Horsehead nebula, int16"),
    "m67_plate": Sample("sky/M6707HH.fits", "plate of the open cluster M67: many point sources, int16"),
    "spitzer_irac": Sample("sky/spitzer_example_image.fits", "Spitzer IRAC image of the Galactic plane, MJy/sr"),
    "saao_ccd": Sample("sky/saao_ccd_a8280271.fits", "raw SAAO 1.0 m CCD frame with GAIN and RDNOISE cards, uint16"),
}


def available() -> list[str]:
    """Names of the sample files."""
    return sorted(SAMPLES)


def path(name: str) -> Path:
    """The path of sample ``name`` (one of :func:`available`).

    Raises:
        ValueError: an unknown name.
        InputError: the file is missing (``data/samples/`` comes with a clone of the repository).
    """
    if name not in SAMPLES:
        raise ValueError(f"sample must be one of {available()}, got {name!r}")
    file = SAMPLES_DIR / SAMPLES[name].file
    if not file.is_file():
        raise InputError(
            f"{file}: sample {name!r} is missing; data/samples/ comes with a clone of the sciimg repository"
        )
    return file


def expected_sha256() -> dict[str, str]:
    """File (relative to ``data/samples/``) -> its SHA-256, from ``SHA256SUMS``."""
    lines = (SAMPLES_DIR / "SHA256SUMS").read_text().splitlines()
    return {file: digest for digest, file in (line.split() for line in lines if line.strip())}


def verify(name: str) -> Path:
    """The path of sample ``name`` after checking its SHA-256 against ``SHA256SUMS``.

    Raises:
        InputError: the file differs from the one that shipped.
    """
    file = path(name)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    if digest != expected_sha256()[SAMPLES[name].file]:
        raise InputError(f"{file}: SHA-256 {digest} differs from data/samples/SHA256SUMS; the file was changed")
    return file
