"""Cherenkov DL1 files in ctapipe's HDF5 layout (images per telescope, simulated showers).

Layout (tables are HDF5 compound datasets; units in ``<column>_UNIT`` attributes, as
PyTables/ctapipe write them)::

    /configuration/instrument/telescope/camera/geometry_<CAM>   pix_id, pix_x, pix_y, pix_area
    /configuration/instrument/telescope/optics                  tel_id, equivalent_focal_length
    /dl1/event/telescope/images/tel_<NNN>                       obs_id, event_id, tel_id, image,
                                                                peak_time, is_valid
    /simulation/event/subarray/shower                           obs_id, event_id, true_energy, true_alt, true_az,
                                                                true_core_x, true_core_y
    /simulation/event/telescope/impact/tel_<NNN>                obs_id, event_id, tel_id, impact_distance
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciimg.errors import InputError
from sciimg.geometry.camera import Camera
from sciimg.io.atomic import atomic_path

GEOMETRY_GROUP = "/configuration/instrument/telescope/camera"
OPTICS_TABLE = "/configuration/instrument/telescope/optics"
IMAGES_GROUP = "/dl1/event/telescope/images"
SHOWER_TABLE = "/simulation/event/subarray/shower"
IMPACT_GROUP = "/simulation/event/telescope/impact"

SHOWER_UNITS = {
    "true_energy": "TeV",
    "true_alt": "deg",
    "true_az": "deg",
    "true_core_x": "m",
    "true_core_y": "m",
}


@dataclass
class DL1Events:
    """Images of one telescope with the matching simulated shower parameters (if any)."""

    camera: Camera
    event_id: np.ndarray
    obs_id: np.ndarray
    image: np.ndarray
    peak_time: np.ndarray
    shower: dict[str, np.ndarray]
    units: dict[str, str]


def _table(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Pack equal-length columns (scalars or fixed-size vectors) into a structured array."""
    n = len(next(iter(columns.values())))
    dtype = [(name, col.dtype, col.shape[1:]) for name, col in columns.items()]
    table = np.empty(n, dtype=dtype)
    for name, col in columns.items():
        table[name] = col
    return table


def _write_table(h5: h5py.File, path: str, columns: dict[str, np.ndarray], units: dict[str, str]) -> None:
    table = _table(columns)
    row_bytes = max(table.dtype.itemsize, 1)
    chunk_rows = max(1, min(len(table), (1 << 20) // row_bytes))
    dataset = h5.create_dataset(path, data=table, chunks=(chunk_rows,), compression="gzip", compression_opts=4)
    dataset.attrs["CLASS"] = "TABLE"
    for name, unit in units.items():
        if name in columns:
            dataset.attrs[f"{name}_UNIT"] = unit


def write_dl1(
    path: str | os.PathLike,
    camera: Camera,
    tel_id: int,
    obs_id: int,
    event_id: np.ndarray,
    image: np.ndarray,
    peak_time: np.ndarray,
    shower: dict[str, np.ndarray],
    impact_distance: np.ndarray,
    provenance: dict[str, Any],
) -> None:
    """Write one telescope's simulated events as a DL1 file (atomically)."""
    n = len(event_id)
    ids = {
        "obs_id": np.full(n, obs_id, np.int32),
        "event_id": np.asarray(event_id, np.int64),
    }
    tel = {"tel_id": np.full(n, tel_id, np.int16)}
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        geometry = {
            "pix_id": np.arange(camera.n_pixels, dtype=np.int32),
            "pix_x": camera.pix_x.astype(np.float64),
            "pix_y": camera.pix_y.astype(np.float64),
            "pix_area": camera.pix_area.astype(np.float64),
        }
        geometry_path = f"{GEOMETRY_GROUP}/geometry_{camera.name}"
        _write_table(h5, geometry_path, geometry, {"pix_x": "m", "pix_y": "m", "pix_area": "m2"})
        h5[geometry_path].attrs.update(
            {
                "CAM_ID": camera.name,
                "PIX_TYPE": "hexagon",
                "PIX_ROT": camera.pix_rotation_deg,
                "CAM_ROT": 0.0,
            }
        )
        optics = {
            "tel_id": np.array([tel_id], np.int16),
            "camera_name": np.array([camera.name.encode()]),
            "equivalent_focal_length": np.array([camera.focal_length]),
        }
        _write_table(h5, OPTICS_TABLE, optics, {"equivalent_focal_length": "m"})
        images = {
            **ids,
            **tel,
            "image": np.asarray(image, np.float32),
            "peak_time": np.asarray(peak_time, np.float32),
            "is_valid": np.ones(n, bool),
        }
        _write_table(h5, f"{IMAGES_GROUP}/tel_{tel_id:03d}", images, {"peak_time": "ns"})
        _write_table(h5, SHOWER_TABLE, {**ids, **shower}, SHOWER_UNITS)
        impact = {**ids, **tel, "impact_distance": np.asarray(impact_distance, np.float64)}
        _write_table(h5, f"{IMPACT_GROUP}/tel_{tel_id:03d}", impact, {"impact_distance": "m"})
        h5.attrs["CTA PRODUCT DATA LEVELS"] = "DL1_IMAGES"
        h5.attrs["sciimg_provenance"] = json.dumps(provenance)


def _require(h5: h5py.File, path: str, key: str) -> h5py.Dataset:
    if key not in h5:
        raise InputError(f"{path}: DL1 file must contain {key!r}, but it is missing")
    return h5[key]


def read_dl1(path: str | os.PathLike, tel_id: int = 1) -> DL1Events:
    """Read one telescope's images, its camera, and the simulated showers if present.

    Raises:
        InputError: missing/corrupt file, missing table, or NaN/inf pixel values.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: DL1 file does not exist")
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"{path}: not a readable HDF5 file ({error})") from None
    with h5:
        images = _require(h5, path, f"{IMAGES_GROUP}/tel_{tel_id:03d}")[:]
        geometry_group = _require(h5, path, GEOMETRY_GROUP)
        if len(geometry_group) != 1:
            raise InputError(f"{path}: expected one camera geometry in {GEOMETRY_GROUP}, got {list(geometry_group)}")
        geometry_ds = next(iter(geometry_group.values()))
        geometry = geometry_ds[:]
        optics = _require(h5, path, OPTICS_TABLE)[:]
        focal = optics["equivalent_focal_length"][optics["tel_id"] == tel_id]
        if len(focal) != 1:
            raise InputError(f"{path}: optics table has no focal length for tel_id {tel_id}")
        camera = Camera(
            name=str(geometry_ds.attrs.get("CAM_ID", "unknown")),
            pix_x=geometry["pix_x"],
            pix_y=geometry["pix_y"],
            pix_area=geometry["pix_area"],
            focal_length=float(focal[0]),
            pix_rotation_deg=float(geometry_ds.attrs.get("PIX_ROT", 0.0)),
        )
        image = images["image"]
        if image.ndim != 2 or image.shape[1] != camera.n_pixels:
            raise InputError(f"{path}: images must have shape (n_events, {camera.n_pixels}), got {image.shape}")
        bad = ~np.isfinite(image).all(axis=1)
        if bad.any():
            raise InputError(
                f"{path}: images must be finite, got NaN/inf in {int(bad.sum())} events "
                f"(first event_id {int(images['event_id'][bad][0])})"
            )
        shower: dict[str, np.ndarray] = {}
        units: dict[str, str] = {}
        if SHOWER_TABLE in h5:
            table_ds = h5[SHOWER_TABLE]
            table = table_ds[:]
            lookup = {int(e): i for i, e in enumerate(table["event_id"])}
            try:
                rows = np.array([lookup[int(e)] for e in images["event_id"]], dtype=np.int64)
            except KeyError as missing:
                raise InputError(f"{path}: event_id {missing} has an image but no simulated shower") from None
            for name in table.dtype.names:
                if name not in ("obs_id", "event_id"):
                    shower[name] = table[name][rows]
                    units[name] = str(table_ds.attrs.get(f"{name}_UNIT", ""))
    return DL1Events(
        camera=camera,
        event_id=images["event_id"],
        obs_id=images["obs_id"],
        image=image.astype(np.float32),
        peak_time=images["peak_time"].astype(np.float32),
        shower=shower,
        units=units,
    )
