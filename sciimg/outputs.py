"""Writers of one method's outputs on a test split, shared by the trained models (``inference``)
and the classical methods (``baselines``), so both write the same files the same way:
temperature fields as NetCDF, keypoints as a catalog of points, denoised events as sparse HDF5.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from astropy.table import Table

from sciimg.geometry.voxels import VoxelGrid
from sciimg.io.netcdf import FieldInfo, write_fields
from sciimg.io.store import SampleStore
from sciimg.io.volumes import SparseEvent, write_sparse_volumes
from sciimg.provenance import provenance

log = logging.getLogger(__name__)

COLUMNS = ("event_id", "z", "y", "x", "z_mm", "y_mm", "x_mm", "score")  # of a keypoint catalog


class Voxels(Protocol):
    """An event's occupied voxels (a stored or a read event)."""

    event_id: int
    coords: np.ndarray
    values: np.ndarray


def filled_cells(corruption: str, observed: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """Cells a method writes: the gaps within the domain (``gaps``), or the whole domain (``noise``)."""
    return (observed if corruption == "noise" else ~observed) & domain


def store_fields(store: SampleStore, anomalies: np.ndarray) -> np.ndarray:
    """Anomalies ``(N, Y, X)`` of a store's samples -> absolute values (adds the train climatology)."""
    climatology = store.read("extra/climatology")
    return anomalies + climatology[store.read("meta/month") - 1]


def write_store_fields(
    store_path: str | os.PathLike,
    anomalies: np.ndarray,
    filled: np.ndarray,
    output: str | os.PathLike,
    method: str,
    inputs: list[str | os.PathLike],
    config: Mapping[str, Any] | None = None,
    method_attrs: Mapping[str, Any] | None = None,
    std: np.ndarray | None = None,
) -> Path:
    """Write a method's fields for every sample of a store as NetCDF in the source file's form
    (``method_attrs``, ``std`` in K: see :func:`sciimg.io.netcdf.write_fields`)."""
    store = SampleStore(store_path)
    info = FieldInfo.from_json(store.attrs["field_info"])
    if store.attrs["time_units"] == "steps":
        info.time_name = info.time_name or "time"  # several steps: keep a time axis
    values = store_fields(store, anomalies)
    times = (store.read("meta/time"), store.attrs["time_units"], store.attrs["calendar"])
    extra = store.extra()
    history = f"sciimg: {method} on the {store.attrs['split']} split of {Path(store_path).name}"
    record = provenance(config, inputs)
    lat, lon = extra["lat"], extra["lon"]
    write_fields(output, values, info, lat, lon, times, filled, history, record, True, method_attrs, std)
    store.close()
    return Path(output)


def point_rows(event_id: int, coords: np.ndarray, scores: np.ndarray, grid: VoxelGrid) -> dict[str, np.ndarray]:
    """Catalog columns of one event's points (voxel centres, in voxel units and mm)."""
    centres = np.asarray(coords, float).reshape(-1, 3) + 0.5
    millimetres = np.asarray(grid.origin_mm) + centres * grid.pitch_mm
    return {
        "event_id": np.full(len(centres), event_id, np.int64),
        **{axis: centres[:, i] for i, axis in enumerate("zyx")},
        **{f"{axis}_mm": millimetres[:, i] for i, axis in enumerate("zyx")},
        "score": np.asarray(scores, np.float32),
    }


def point_catalog(rows: Iterable[dict[str, np.ndarray]], grid: VoxelGrid, seconds: list[float]) -> Table:
    """One table of the points of all events, with the grid and the time per event in its meta."""
    rows = list(rows)
    table = Table({c: np.concatenate([r[c] for r in rows]) if rows else np.zeros(0) for c in COLUMNS})
    for axis in "zyx":
        table[f"{axis}_mm"].unit = "mm"
    table.meta.update(
        {
            "grid": {"shape": list(grid.shape), "pitch_mm": grid.pitch_mm, "origin_mm": list(grid.origin_mm)},
            "seconds_per_event": seconds,
        }
    )
    return table


def kept_voxels(event: Voxels, keep: np.ndarray, scores: np.ndarray | None = None) -> SparseEvent:
    """The event's voxels where ``keep`` is true, each called signal (class 0)."""
    return SparseEvent(
        event_id=event.event_id,
        coords=np.asarray(event.coords)[keep],
        values=np.asarray(event.values)[keep],
        semantic=np.zeros(int(keep.sum()), np.int8),
        scores=scores[keep] if scores is not None else None,
    )


def write_denoised(
    output: str | os.PathLike,
    events: list[SparseEvent],
    n_removed: list[int],
    seconds: list[float],
    grid: dict[str, Any],
    attrs: dict[str, Any],
) -> Path:
    """Write denoised events (voxel indices on ``grid``) as one sparse file, with removal counts and timings."""
    log.info(
        "%d events, %d voxels removed, median %.3f s per event",
        len(events),
        sum(n_removed),
        float(np.median(seconds)) if seconds else 0.0,
    )
    return write_sparse_volumes(
        output,
        events,
        {
            "grid": list(grid["shape"]),
            "pitch_mm": grid["pitch_mm"],
            "origin_mm": list(grid["origin_mm"]),
            "classes": ["signal", "noise"],
            "n_removed": n_removed,
            "seconds_per_event": seconds,
            **attrs,
        },
    )
