"""Camera geometries as ctapipe describes them, read from files (never downloaded).

A geometry comes from a ctapipe camera-geometry table (``CameraGeometry.from_table``, e.g.
``LSTCam.camgeom.fits.gz``), from the subarray description inside a DL1 file, or, for
simulations with no file at hand, from :func:`hexagonal_camera`.
"""

from __future__ import annotations

import os
from pathlib import Path

import astropy.units as u
import numpy as np
from ctapipe.instrument import CameraGeometry, PixelShape

from sciimg.errors import InputError

REQUIRED_COLUMNS = ("pix_id", "pix_x", "pix_y", "pix_area")


def load_camera_geometry(path: str | os.PathLike) -> CameraGeometry:
    """Read a ctapipe camera-geometry table (FITS, ECSV or HDF5).

    Raises:
        InputError: if the file is missing or is not a camera-geometry table.
    """
    from astropy.table import Table

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: camera geometry file does not exist")
    try:
        table = Table.read(path)
    except Exception as error:  # astropy raises many types for unreadable files
        raise InputError(f"{path}: not a readable camera geometry table ({error})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.colnames]
    if missing:
        raise InputError(f"{path}: not a camera geometry table, columns {missing} are missing")
    try:
        return CameraGeometry.from_table(table)
    except Exception as error:
        raise InputError(f"{path}: not a valid camera geometry table ({error})") from None


def hexagonal_camera(
    n_pixels: int = 1855,
    pitch_m: float = 0.05,
    rotation_deg: float = 100.893,
    name: str = "SimHexCam",
) -> CameraGeometry:
    """A round LST-like camera: the central lattice site and the ``(n_pixels - 1) / 6`` nearest
    6-fold orbits around it, so the camera is symmetric under rotations by 60 deg.

    The lattice is rotated by ``rotation_deg`` (LST's pixel grid sits at 100.893 deg).
    """
    if n_pixels < 7 or (n_pixels - 1) % 6:
        raise ValueError(f"n_pixels must be 1 + 6k (whole rings of 6-fold orbits), at least 7, got {n_pixels!r}")
    extent = int(np.sqrt(n_pixels)) + 2
    q, r = (a.ravel() for a in np.meshgrid(np.arange(-extent, extent + 1), np.arange(-extent, extent + 1)))
    orbit = np.stack([q, r])
    members = [orbit]
    for _ in range(5):
        orbit = np.stack([-orbit[1], orbit[0] + orbit[1]])  # rotate by 60 degrees
        members.append(orbit)
    stacked = np.stack(members)  # (6, 2, n_sites): the orbit of every site
    representative = np.min(stacked[:, 0] * 10_000 + stacked[:, 1], axis=0)  # orbit id
    x = pitch_m * (q + r / 2.0)
    y = pitch_m * (np.sqrt(3.0) / 2.0 * r)
    order = np.lexsort((np.arctan2(y, x), representative, np.round(np.hypot(x, y), 9)))[:n_pixels]
    angle = np.radians(rotation_deg)
    pix_x = np.cos(angle) * x[order] - np.sin(angle) * y[order]
    pix_y = np.sin(angle) * x[order] + np.cos(angle) * y[order]
    return CameraGeometry(
        name=name,
        pix_id=np.arange(n_pixels),
        pix_x=pix_x * u.m,
        pix_y=pix_y * u.m,
        pix_area=np.full(n_pixels, np.sqrt(3.0) / 2.0 * pitch_m**2) * u.m**2,
        pix_type=PixelShape.HEXAGON,
        pix_rotation=rotation_deg * u.deg,
    )


def geometry_to_arrays(geometry: CameraGeometry) -> dict[str, np.ndarray]:
    """The geometry as plain arrays (SI units, degrees), to store with data and models."""
    return {
        "camera_name": np.asarray(geometry.name),
        "pix_id": np.asarray(geometry.pix_id),
        "pix_x": geometry.pix_x.to_value(u.m),
        "pix_y": geometry.pix_y.to_value(u.m),
        "pix_area": geometry.pix_area.to_value(u.m**2),
        "pix_type": np.asarray(geometry.pix_type.value),
        "pix_rotation_deg": np.asarray(geometry.pix_rotation.to_value(u.deg)),
        "cam_rotation_deg": np.asarray(geometry.cam_rotation.to_value(u.deg)),
    }


def geometry_from_arrays(arrays: dict[str, np.ndarray]) -> CameraGeometry:
    """Inverse of :func:`geometry_to_arrays`."""
    return CameraGeometry(
        name=str(arrays["camera_name"]),
        pix_id=np.asarray(arrays["pix_id"]),
        pix_x=np.asarray(arrays["pix_x"]) * u.m,
        pix_y=np.asarray(arrays["pix_y"]) * u.m,
        pix_area=np.asarray(arrays["pix_area"]) * u.m**2,
        pix_type=PixelShape(str(arrays["pix_type"])),
        pix_rotation=float(arrays["pix_rotation_deg"]) * u.deg,
        cam_rotation=float(arrays["cam_rotation_deg"]) * u.deg,
    )
