"""Cherenkov events in ctapipe's own formats.

- DL1 HDF5 is read with ctapipe's ``TableLoader`` (images joined with the simulated shower
  and impact tables by ``(obs_id, event_id, tel_id)``) and written with ctapipe's
  ``DataWriter``, so files from ``ctapipe-process`` and from ``sciimg simulate`` are one format.
- sim_telarray files are read through ``ctapipe.io.EventSource`` and calibrated into images
  with ``CameraCalibrator``.

The camera geometry always comes from the file itself (its subarray description); nothing
is downloaded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import astropy.units as u
import h5py
import numpy as np
from astropy.table import Table, vstack
from ctapipe.containers import ArrayEventContainer, SimulationConfigContainer
from ctapipe.core import Provenance
from ctapipe.instrument import CameraGeometry, SubarrayDescription

from sciimg.errors import InputError
from sciimg.io.atomic import atomic_path
from sciimg.io.hdf5 import open_hdf5

log = logging.getLogger(__name__)

EVENT_COLUMNS = ("obs_id", "event_id", "tel_id", "image", "peak_time")
SIMTEL_SUFFIXES = (".simtel", ".simtel.gz", ".simtel.zst")
GAMMA, PROTON = 0, 101  # CORSIKA primary ids, as ctapipe stores them in true_shower_primary_id


@dataclass
class CameraEvents:
    """Telescope events of one camera type.

    Attributes:
        geometry: the camera, as stored in the file.
        table: one row per telescope event: ``obs_id``, ``event_id``, ``tel_id``, ``image``
            (p.e.), ``peak_time`` (ns), plus ``true_*`` shower columns and
            ``true_impact_distance`` when the file holds simulation truth.
        source: the file read.
    """

    geometry: CameraGeometry
    table: Table
    source: Path

    @property
    def has_truth(self) -> bool:
        """Whether the events carry simulated shower parameters."""
        return "true_energy" in self.table.colnames


def _select_type(path: Path, types: dict[str, object], telescope_type: str | None) -> str:
    """Key of the one telescope type wanted (by full type string or camera name)."""
    if telescope_type is None:
        if len(types) != 1:
            raise InputError(f"{path}: holds several telescope types {sorted(types)}; choose one with telescope_type")
        return next(iter(types))
    matches = [key for key in types if telescope_type in (key, key.split("_")[-1])]
    if not matches:
        raise InputError(f"{path}: telescope_type must be one of {sorted(types)}, got {telescope_type!r}")
    return matches[0]


def _check_images(path: Path, table: Table, n_pixels: int) -> None:
    image = np.asarray(table["image"])
    if image.ndim != 2 or image.shape[1] != n_pixels:
        raise InputError(f"{path}: images must have shape (n_events, {n_pixels}), got {image.shape}")
    for column in ("image", "peak_time"):
        if column not in table.colnames:
            continue
        bad = ~np.isfinite(np.asarray(table[column], float).reshape(len(table), -1)).all(axis=1)
        if bad.any():
            raise InputError(
                f"{path}: {column} values must be finite, got NaN/inf in {int(bad.sum())} events "
                f"(first event_id {int(table['event_id'][bad][0])})"
            )


def read_dl1(path: str | os.PathLike, telescope_type: str | None = None) -> CameraEvents:
    """Read the DL1 images of one telescope type (with simulation truth when present)."""
    path = Path(path)
    with open_hdf5(path) as h5:
        if "dl1/event/telescope/images" not in h5:
            raise InputError(f"{path}: not a DL1 file with images (/dl1/event/telescope/images is missing)")
        if "configuration/instrument/subarray/layout" not in h5:
            raise InputError(f"{path}: DL1 file has no subarray description, so its camera geometry is unknown")
    try:
        geometry, table = _load_dl1(path, telescope_type)
    except InputError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, OSError) as error:  # ctapipe on an inconsistent file
        raise InputError(f"{path}: not a readable DL1 file ({type(error).__name__}: {error})") from None
    if len(table) == 0:
        raise InputError(f"{path}: DL1 file holds no event")
    if "impact_distance" in table.colnames:
        table.rename_column("impact_distance", "true_impact_distance")
    table = table[[c for c in table.colnames if c in EVENT_COLUMNS or c.startswith("true_")]]
    _check_images(path, table, geometry.n_pixels)
    return CameraEvents(geometry, table, path)


def _load_dl1(path: Path, telescope_type: str | None) -> tuple[CameraGeometry, Table]:
    """The camera geometry and the event table of one telescope type, by ctapipe's TableLoader."""
    from ctapipe.io import TableLoader

    loader = TableLoader(
        path,
        dl1_images=True,
        dl1_parameters=False,
        simulated=True,
        true_parameters=False,
        pointing=False,
        dl2=False,
        focal_length_choice="EQUIVALENT",  # geometry in metres is all we need; not every file has both
    )
    with loader:
        types = {str(t): t for t in loader.subarray.telescope_types}
        key = _select_type(path, types, telescope_type)
        return types[key].camera.geometry, loader.read_telescope_events([types[key]])


def read_simtel(path: str | os.PathLike, telescope_type: str | None = None) -> CameraEvents:
    """Calibrate the sim_telarray events of one telescope type into images."""
    from ctapipe.calib import CameraCalibrator
    from ctapipe.io import EventSource

    path = Path(path)
    try:
        source = EventSource(path, focal_length_choice="EQUIVALENT")
    except Exception as error:  # ctapipe raises its own types for unknown formats
        raise InputError(f"{path}: not a readable sim_telarray or ctapipe event file ({error})") from None
    rows = []
    with source:
        types = {str(t): t for t in source.subarray.telescope_types}
        key = _select_type(path, types, telescope_type)
        geometry = types[key].camera.geometry
        tel_ids = set(source.subarray.get_tel_ids_for_type(types[key]))
        calibrate = CameraCalibrator(subarray=source.subarray)
        for event in source:
            calibrate(event)
            for tel_id, dl1 in event.dl1.tel.items():
                if tel_id not in tel_ids:
                    continue
                row = {
                    "obs_id": event.index.obs_id,
                    "event_id": event.index.event_id,
                    "tel_id": tel_id,
                    "image": dl1.image.astype(np.float32),
                    "peak_time": dl1.peak_time.astype(np.float32),
                }
                shower = event.simulation.shower if event.simulation is not None else None
                if shower is not None:
                    row.update({f"true_{k}": v for k, v in shower.items() if k != "prefix"})
                    row["true_impact_distance"] = event.simulation.tel[tel_id].impact.distance
                rows.append(row)
    if not rows:
        raise InputError(f"{path}: no events of telescope type {key}")
    table = Table(rows=rows)
    for name in table.colnames:
        first = rows[0][name]
        if isinstance(first, u.Quantity):
            table[name] = u.Quantity([r[name] for r in rows])
    _check_images(path, table, geometry.n_pixels)
    return CameraEvents(geometry, table, path)


def read_events(path: str | os.PathLike, telescope_type: str | None = None) -> CameraEvents:
    """Read DL1 HDF5 or sim_telarray files (chosen by content for HDF5, by suffix otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: input file does not exist")
    if h5py.is_hdf5(path):
        return read_dl1(path, telescope_type)
    if path.name.endswith(SIMTEL_SUFFIXES):
        return read_simtel(path, telescope_type)
    raise InputError(f"{path}: input must be a ctapipe DL1 HDF5 file or a sim_telarray file {list(SIMTEL_SUFFIXES)}")


def concatenate(events: list[CameraEvents]) -> CameraEvents:
    """Join events from several files of the same camera."""
    first = events[0]
    for other in events[1:]:
        same = other.geometry.n_pixels == first.geometry.n_pixels and np.allclose(
            other.geometry.pix_x.to_value(u.m), first.geometry.pix_x.to_value(u.m)
        )
        if not same:
            raise InputError(
                f"{other.source}: camera geometry differs from {first.source}; ingest one camera at a time"
            )
    if len(events) == 1:
        return first
    return CameraEvents(first.geometry, vstack([e.table for e in events], join_type="inner"), first.source)


def write_dl1(
    path: str | os.PathLike,
    subarray: SubarrayDescription,
    events: Iterable[ArrayEventContainer],
    obs_id: int,
    simulation_config: SimulationConfigContainer | None = None,
    provenance: dict | None = None,
) -> None:
    """Write events with DL1 images as a ctapipe DL1 file, atomically, with ctapipe's ``DataWriter``.

    ``provenance`` (sciimg version, config hash, seed) goes in the root attribute ``sciimg_provenance``.
    """
    from ctapipe.io import DataWriter

    header = SimpleNamespace(
        is_simulation=simulation_config is not None,
        subarray=subarray,
        obs_ids=[obs_id],
        scheduling_blocks={},
        observation_blocks={},
        simulation_config={obs_id: simulation_config} if simulation_config is not None else {},
        atmosphere_density_profile=None,
    )
    logging.getLogger("ctapipe.io.hdf5tableio").setLevel(logging.ERROR)  # "true_image not writable" notes
    activity = Provenance()
    activity.start_activity("sciimg simulate")
    with atomic_path(path) as tmp:
        tmp.unlink()  # DataWriter creates the file itself
        writer = DataWriter(header, output_path=tmp, overwrite=True, write_dl1_images=True, write_dl1_parameters=False)
        with writer:
            for event in events:
                writer(event)
        with h5py.File(tmp, "a") as h5:
            h5.attrs["sciimg_provenance"] = json.dumps(provenance or {})
    activity.finish_activity()
