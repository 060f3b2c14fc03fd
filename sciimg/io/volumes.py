"""HDF5 files of 3D detector events: sparse point lists, dense voxel grids, and larnd-sim LArPix output.

**Sparse** (what the simulator writes; PILArNet-like point lists)::

    /voxels     (M,) table: event (int64), z, y, x (float32, mm), value (float32),
                and optionally semantic (int8), instance (int32), dead (bool)
    /events     (N,) table: event_id, first_voxel, n_voxels (int64), and optional truth columns
                (true_energy_mev, deposited_energy_mev, contained)
    /keypoints  (K,) table (optional): event, z, y, x (mm), kind (0 start, 1 end), instance
    attrs       grid, pitch_mm, origin_mm, classes (JSON), value_units

**Dense**: ``/volumes`` (N, Z, Y, X) charges (0 = empty), optional ``/labels`` (N, Z, Y, X)
semantic classes (-1 = empty) and an optional ``/events`` table of truth columns; attrs as above.

**larnd-sim** (``events``, ``hits``, ``tracks`` linked by region references): hits give the
pixel position (px, py, mm), the time tick ``ts`` and the charge ``q``; the drift
coordinate is ``z = (ts - ts_start of the event) * vd * clock_period`` (the ``tracks``
attributes), and each fitted track's ``start`` and ``end`` (x, y, z mm) become keypoints.

Readers yield :class:`SparseEvent` in millimetres; :mod:`sciimg.data.ingest_detector3d` puts them
on a grid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciimg.errors import InputError
from sciimg.io.atomic import atomic_path
from sciimg.io.hdf5 import open_hdf5

VOXEL_DTYPE = np.dtype(
    [
        ("event", "<i8"),
        ("z", "<f4"),
        ("y", "<f4"),
        ("x", "<f4"),
        ("value", "<f4"),
        ("semantic", "i1"),
        ("instance", "<i4"),
        ("dead", "?"),
    ]
)
KEYPOINT_DTYPE = np.dtype(
    [("event", "<i8"), ("z", "<f4"), ("y", "<f4"), ("x", "<f4"), ("kind", "i1"), ("instance", "<i4")]
)
TRUTH_COLUMNS = ("true_energy_mev", "deposited_energy_mev", "contained")


@dataclass
class SparseEvent:
    """One event as a point list.

    Coordinates are ``(n, 3)`` (z, y, x): voxel indices as the simulator makes them, or mm
    as the readers return them (``coords_mm``). Labels and keypoints are optional.
    """

    event_id: int
    coords: np.ndarray
    values: np.ndarray
    semantic: np.ndarray | None = None
    instance: np.ndarray | None = None
    dead: np.ndarray | None = None
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    keypoint_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    keypoint_instance: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    truth: dict[str, Any] = field(default_factory=dict)
    scores: np.ndarray | None = None  # (n, n_classes) class probabilities of a prediction


def _write_attrs(h5: h5py.File, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        h5.attrs[key] = (
            json.dumps(value) if isinstance(value, dict | list) and key not in ("grid", "origin_mm") else value
        )


def _event_table(events: list[SparseEvent], columns: list[tuple[str, str]]) -> tuple[np.dtype, list[str]]:
    """The per-event table's dtype (``columns``, then the truth columns every event has) and those truth columns."""
    truth = [c for c in TRUTH_COLUMNS if all(c in e.truth for e in events)]
    return np.dtype(columns + [(c, "?" if c == "contained" else "<f8") for c in truth]), truth


def write_sparse_volumes(path: str | os.PathLike, events: Iterable[SparseEvent], attrs: dict[str, Any]) -> Path:
    """Write events with voxel-index coordinates as a sparse file in mm, atomically.

    Events with ``scores`` (predictions) also write ``/scores`` ``(M, n_classes)`` float16.
    """
    pitch, origin = float(attrs["pitch_mm"]), np.asarray(attrs["origin_mm"], float)
    events = list(events)
    voxels, keypoints, rows, first = [], [], [], 0
    columns = [("event_id", "<i8"), ("first_voxel", "<i8"), ("n_voxels", "<i8")]
    table_dtype, truth = _event_table(events, columns)
    for event in events:
        table = np.zeros(len(event.values), VOXEL_DTYPE)
        table["event"] = event.event_id
        table["z"], table["y"], table["x"] = ((np.asarray(event.coords, float) + 0.5) * pitch + origin).T
        table["value"] = event.values
        for name in ("semantic", "instance", "dead"):
            column = getattr(event, name)
            table[name] = column if column is not None else (-1 if name != "dead" else False)
        voxels.append(table)
        points = np.zeros(len(event.keypoints), KEYPOINT_DTYPE)
        points["event"] = event.event_id
        points["z"], points["y"], points["x"] = (np.asarray(event.keypoints, float) * pitch + origin).T
        points["kind"], points["instance"] = event.keypoint_kind, event.keypoint_instance
        keypoints.append(points)
        rows.append((event.event_id, first, len(table), *(event.truth[c] for c in truth)))
        first += len(table)
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("voxels", data=np.concatenate(voxels) if voxels else np.zeros(0, VOXEL_DTYPE))
        h5.create_dataset("events", data=np.array(rows, table_dtype))
        h5.create_dataset("keypoints", data=np.concatenate(keypoints) if keypoints else np.zeros(0, KEYPOINT_DTYPE))
        if events and all(e.scores is not None for e in events):
            h5.create_dataset("scores", data=np.concatenate([e.scores for e in events]).astype(np.float16))
        _write_attrs(h5, attrs)
    return path


def write_dense_volumes(path: str | os.PathLike, events: Iterable[SparseEvent], n_events: int, attrs: dict) -> Path:
    """Write events as dense ``/volumes`` and ``/labels`` grids (and an ``/events`` truth table), atomically."""
    shape = tuple(attrs["grid"])
    events = list(events)
    table_dtype, truth = _event_table(events, [("event_id", "<i8")])
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        chunks = (1, *shape)
        volumes = h5.create_dataset("volumes", (n_events, *shape), np.float32, chunks=chunks, compression="lzf")
        labels = h5.create_dataset("labels", (n_events, *shape), np.int8, chunks=chunks, compression="lzf")
        for i, event in enumerate(events):
            grid = np.zeros(shape, np.float32)
            grid[tuple(event.coords.T)] = event.values
            volumes[i] = grid
            codes = np.full(shape, -1, np.int8)
            codes[tuple(event.coords.T)] = event.semantic
            labels[i] = codes
        rows = [(e.event_id, *(e.truth[c] for c in truth)) for e in events]
        h5.create_dataset("events", data=np.array(rows, table_dtype))
        _write_attrs(h5, attrs)
    return path


def file_attrs(h5: h5py.File) -> dict[str, Any]:
    """The file's attributes, JSON strings decoded."""
    out = {}
    for key, value in h5.attrs.items():
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str) and value[:1] in "[{":
            value = json.loads(value)
        out[key] = value.tolist() if isinstance(value, np.ndarray) else value
    return out


def volume_format(h5: h5py.File) -> str:
    """``sparse``, ``dense`` or ``larndsim`` from the datasets a file holds."""
    if "hits" in h5 and "events" in h5:
        return "larndsim"
    if "voxels" in h5:
        return "sparse"
    if "volumes" in h5:
        return "dense"
    raise InputError(
        f"{h5.filename}: not a detector-volume file: it must hold 'voxels' and 'events' (sparse), "
        f"'volumes' (dense) or larnd-sim's 'events' and 'hits'; it holds {sorted(h5)}"
    )


def _require(h5: h5py.File, name: str, fields: Iterable[str]) -> np.ndarray:
    if name not in h5:
        raise InputError(f"{h5.filename}: dataset {name!r} is missing (it holds {sorted(h5)})")
    data = h5[name]
    names = data.dtype.names or ()
    missing = [f for f in fields if f not in names]
    if missing:
        raise InputError(f"{h5.filename}: dataset {name!r} must have fields {missing} (it has {list(names)})")
    return data


def _check_values(path: str, event_id: int, values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        raise InputError(f"{path}: event {event_id} has NaN or infinite charges")


def _truth(row: np.void, names: Iterable[str]) -> dict[str, Any]:
    return {c: row[c].item() for c in TRUTH_COLUMNS if c in names}


def _read_sparse(h5: h5py.File) -> Iterator[SparseEvent]:
    events = _require(h5, "events", ("event_id", "first_voxel", "n_voxels"))[()]
    voxels = _require(h5, "voxels", ("z", "y", "x", "value"))
    scores = h5.get("scores", None)
    names = voxels.dtype.names
    keypoints = h5["keypoints"][()] if "keypoints" in h5 else np.zeros(0, KEYPOINT_DTYPE)
    for row in events:
        first, count = int(row["first_voxel"]), int(row["n_voxels"])
        if first < 0 or count < 0 or first + count > len(voxels):
            raise InputError(f"{h5.filename}: event {row['event_id']} points past the end of 'voxels'")
        table = voxels[first : first + count]
        _check_values(h5.filename, int(row["event_id"]), table["value"])
        points = keypoints[keypoints["event"] == row["event_id"]]
        yield SparseEvent(
            event_id=int(row["event_id"]),
            coords=np.stack([table["z"], table["y"], table["x"]], axis=1).astype(float),
            values=table["value"].astype(np.float32),
            semantic=table["semantic"] if "semantic" in names else None,
            instance=table["instance"] if "instance" in names else None,
            dead=table["dead"] if "dead" in names else None,
            keypoints=np.stack([points["z"], points["y"], points["x"]], axis=1).astype(float),
            keypoint_kind=points["kind"],
            keypoint_instance=points["instance"],
            truth=_truth(row, events.dtype.names),
            scores=scores[first : first + count].astype(np.float32) if scores is not None else None,
        )


def _read_dense(h5: h5py.File) -> Iterator[SparseEvent]:
    volumes = h5["volumes"]
    if volumes.ndim != 4:
        raise InputError(f"{h5.filename}: 'volumes' must have shape (events, Z, Y, X), got {volumes.shape}")
    labels = h5.get("labels", None)
    if labels is not None and labels.shape != volumes.shape:
        raise InputError(
            f"{h5.filename}: 'labels' must have the shape of 'volumes' {volumes.shape}, got {labels.shape}"
        )
    table = h5["events"][()] if "events" in h5 else None
    if table is not None and len(table) != len(volumes):
        raise InputError(f"{h5.filename}: 'events' must have one row per volume ({len(volumes)}), got {len(table)}")
    pitch = float(file_attrs(h5).get("pitch_mm", 1.0))
    origin = np.asarray(file_attrs(h5).get("origin_mm", (0.0, 0.0, 0.0)), float)
    for i in range(len(volumes)):
        grid = volumes[i]
        event_id = int(table["event_id"][i]) if table is not None and "event_id" in table.dtype.names else i
        _check_values(h5.filename, event_id, grid)
        index = np.argwhere(grid != 0)
        yield SparseEvent(
            event_id=event_id,
            coords=(index + 0.5) * pitch + origin,
            values=grid[tuple(index.T)].astype(np.float32),
            semantic=labels[i][tuple(index.T)] if labels is not None else None,
            truth=_truth(table[i], table.dtype.names) if table is not None else {},
        )


def _read_larndsim(h5: h5py.File) -> Iterator[SparseEvent]:
    events = _require(h5, "events", ("evid", "hit_ref", "ts_start"))[()]
    hits = _require(h5, "hits", ("px", "py", "ts", "q"))
    tracks = h5.get("tracks", None)
    if tracks is not None:
        z_scale = float(tracks.attrs["vd"]) * float(tracks.attrs["clock_period"])
    elif "vd" in h5["hits"].attrs:
        z_scale = float(h5["hits"].attrs["vd"]) * float(h5["hits"].attrs["clock_period"])
    else:
        raise InputError(f"{h5.filename}: larnd-sim file has no 'tracks' attributes vd and clock_period for z")
    for row in events:
        table = hits[row["hit_ref"]]
        event_id = int(row["evid"])
        _check_values(h5.filename, event_id, table["q"])
        z = (table["ts"] - row["ts_start"]) * z_scale
        start = end = np.zeros((0, 4))
        if tracks is not None and "track_ref" in events.dtype.names and row["track_ref"]:
            fitted = tracks[row["track_ref"]]
            start, end = np.atleast_2d(fitted["start"]), np.atleast_2d(fitted["end"])
        ends = np.concatenate([start, end])[:, [2, 1, 0]]  # (x, y, z, t) -> (z, y, x)
        n = len(start)
        yield SparseEvent(
            event_id=event_id,
            coords=np.stack([z, table["py"], table["px"]], axis=1).astype(float),
            values=table["q"].astype(np.float32),
            keypoints=ends,
            keypoint_kind=np.repeat(np.array([0, 1], np.int8), n),
            keypoint_instance=np.tile(np.arange(n, dtype=np.int32), 2),
        )


READERS = {"sparse": _read_sparse, "dense": _read_dense, "larndsim": _read_larndsim}


def read_volume_events(path: str | os.PathLike) -> Iterator[SparseEvent]:
    """Events of a sparse, dense or larnd-sim file, coordinates in mm (z, y, x).

    Raises:
        InputError: not HDF5, a dataset or field missing, or NaN/infinite charges (naming the event).
    """
    with open_hdf5(path) as h5:
        yield from READERS[volume_format(h5)](h5)


def volume_file_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """The attributes of a volume file (grid, pitch_mm, origin_mm, classes, ...); empty for larnd-sim."""
    with open_hdf5(path) as h5:
        return file_attrs(h5) if volume_format(h5) != "larndsim" else {}
