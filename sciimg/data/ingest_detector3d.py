"""Ingest 3D detector events: put sparse, dense or larnd-sim events on a voxel grid; split; write stores.

Each store sample is one event: ``image`` ``(1, Z, Y, X)`` charges (0 = empty) and, when the
files carry them, ``labels`` ``(Z, Y, X)`` semantic classes (-1 = empty), lzf-compressed in
chunks of at most 32^3 voxels, so a training crop reads only the chunks it touches. The
occupied voxels of every event (``extra/occupied``, their charges ``extra/occupied_value``
and classes ``extra/occupied_semantic``; rows ``meta/first_occupied`` onwards,
``meta/n_occupied`` of them) let training crop around charge, and evaluation score only
non-empty voxels. Keypoints (track start and end points) are kept in voxel units in
``extra/keypoints`` and ``extra/keypoint_kind``.

Denoising stores two classes, ``signal`` (0) and ``noise`` (1), as ``labels`` and
``extra/occupied_semantic``, and keep each voxel's original class in
``extra/occupied_truth_class`` (names in the ``truth_classes`` attribute), so the
evaluation can say which physics a method throws away.

Input problems are either one error naming the file and event (a missing dataset or
field, NaN charges) or a documented skip counted in the log: points with charge <= 0,
points in dead readout columns (the simulator marks them ``dead``), points and keypoints
outside the grid, and events left empty.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sciimg.data.splits import split_indices
from sciimg.errors import InputError
from sciimg.geometry.voxels import VoxelGrid, bin_points
from sciimg.io.store import StoreWriter
from sciimg.io.volumes import TRUTH_COLUMNS, SparseEvent, read_volume_events, volume_file_attrs
from sciimg.provenance import provenance

log = logging.getLogger(__name__)
CHUNK_SIDE = 32


@dataclass
class GridEvent:
    """One event on the grid: occupied voxels (raster order), charges, optional labels, keypoints in voxel units."""

    source: int
    event_id: int
    coords: np.ndarray
    values: np.ndarray
    semantic: np.ndarray | None
    instance: np.ndarray | None
    keypoints: np.ndarray
    keypoint_kind: np.ndarray
    truth: dict[str, Any]
    truth_class: np.ndarray | None = None  # the original class of each voxel when ``semantic`` is remapped


def place_event(event: SparseEvent, grid: VoxelGrid, source: int, counts: Counter) -> GridEvent | None:
    """Bin one event onto ``grid``; skipped points and events are added to ``counts``."""
    positive = event.values > 0
    counts["points with charge <= 0 dropped"] += int((~positive).sum())
    if event.dead is not None:  # a dead readout column records nothing: the charge is truth, not input
        counts["points in dead readout columns dropped"] += int((positive & event.dead).sum())
        positive &= ~event.dead
    index, inside = grid.index(event.coords)
    counts["points outside the grid dropped"] += int((positive & ~inside).sum())
    keep = positive & inside
    labels = {
        name: np.asarray(getattr(event, name))[keep]
        for name in ("semantic", "instance")
        if getattr(event, name) is not None
    }
    coords, values, binned = bin_points(index[keep], event.values[keep], grid.shape, labels)
    keypoints = grid.to_voxels(event.keypoints) if len(event.keypoints) else np.zeros((0, 3))
    in_grid = np.all((keypoints >= 0) & (keypoints <= grid.shape), axis=1)
    counts["keypoints outside the grid dropped"] += int((~in_grid).sum())
    if len(values) == 0:
        counts["events left empty skipped"] += 1
        return None
    return GridEvent(
        source=source,
        event_id=event.event_id,
        coords=coords.astype(np.int16),
        values=values,
        semantic=binned.get("semantic"),
        instance=binned.get("instance"),
        keypoints=keypoints[in_grid].astype(np.float32),
        keypoint_kind=np.asarray(event.keypoint_kind)[in_grid].astype(np.int8),
        truth=event.truth,
    )


def grid_of(data: Mapping[str, Any], path: Path) -> VoxelGrid:
    """The experiment's grid; pitch and origin default to the file's own (``pitch_mm``, ``origin_mm`` attributes)."""
    attrs = volume_file_attrs(path)
    pitch = data.get("pitch_mm") or attrs.get("pitch_mm")
    if pitch is None:
        raise InputError(f"{path}: the file has no pitch_mm attribute; set data.pitch_mm in the config")
    origin = data.get("origin_mm")
    if origin is None:
        origin = attrs.get("origin_mm")
    if origin is None:  # e.g. larnd-sim: the corner of the file's points
        mins = [event.coords.min(axis=0) for event in read_volume_events(path) if len(event.coords)]
        origin = np.min(mins, axis=0) if mins else (0.0, 0.0, 0.0)
    return VoxelGrid.of(data["grid"], float(pitch), origin)


def read_grid_events(inputs: list[Path], data: Mapping[str, Any]) -> tuple[list[GridEvent], VoxelGrid, Counter]:
    """Every event of every file on the grid, with the counts of what was skipped."""
    events, counts, grid = [], Counter(), None
    for source, path in enumerate(inputs):
        file_grid = grid_of(data, path)
        grid = grid or file_grid
        if file_grid.pitch_mm != grid.pitch_mm:
            raise InputError(f"{path}: pitch {file_grid.pitch_mm} mm differs from the first file's {grid.pitch_mm} mm")
        file_counts: Counter = Counter()
        n_read = 0
        for event in read_volume_events(path):
            n_read += 1
            placed = place_event(event, file_grid, source, file_counts)
            if placed is not None:
                events.append(placed)
        skipped = ", ".join(f"{n} {what}" for what, n in sorted(file_counts.items()) if n) or "nothing skipped"
        log.info("%s: %d events read onto the %s grid; %s", path, n_read, "x".join(map(str, file_grid.shape)), skipped)
        counts.update(file_counts)
    if not events:
        raise InputError(f"{inputs[0]}: no event has a voxel with positive charge inside the grid")
    return events, grid, counts


def _charge_scale(events: list[GridEvent]) -> float:
    """Median charge of occupied train voxels: the network sees log1p(charge / scale)."""
    return float(np.median(np.concatenate([e.values for e in events])))


def _write_split(path: Path, events: list[GridEvent], grid: VoxelGrid, attrs: dict[str, Any]) -> None:
    shape = grid.shape
    chunk = tuple(min(side, CHUNK_SIDE) for side in shape)
    labelled = all(e.semantic is not None for e in events)
    layouts = {"image": ((1, *shape), np.float32)}
    chunks = {"image": (1, *chunk)}
    if labelled:
        layouts["labels"] = (shape, np.int8)
        chunks["labels"] = chunk
    n_occupied = np.array([len(e.values) for e in events], np.int64)
    n_keypoints = np.array([len(e.keypoints) for e in events], np.int64)
    meta = {
        "event_id": np.array([e.event_id for e in events], np.int64),
        "source": np.array([e.source for e in events], np.int16),
        "first_occupied": np.r_[0, np.cumsum(n_occupied)[:-1]].astype(np.int64),
        "n_occupied": n_occupied,
        "charge_sum": np.array([e.values.sum() for e in events], np.float64),
        "first_keypoint": np.r_[0, np.cumsum(n_keypoints)[:-1]].astype(np.int64),
        "n_keypoints": n_keypoints,
    }
    for column in TRUTH_COLUMNS:
        if all(column in e.truth for e in events):
            meta[column] = np.array([e.truth[column] for e in events])
    extra = {
        "occupied": np.concatenate([e.coords for e in events]),
        "occupied_value": np.concatenate([e.values for e in events]),
        "keypoints": np.concatenate([e.keypoints for e in events]).reshape(-1, 3),
        "keypoint_kind": np.concatenate([e.keypoint_kind for e in events]),
    }
    if labelled:
        extra["occupied_semantic"] = np.concatenate([e.semantic for e in events])
    if all(e.truth_class is not None for e in events):
        extra["occupied_truth_class"] = np.concatenate([e.truth_class for e in events])
    if all(e.instance is not None for e in events):
        extra["occupied_instance"] = np.concatenate([e.instance for e in events])
    with StoreWriter(path, len(events), layouts, meta, extra, attrs, chunks, compression="lzf") as store:
        for i, event in enumerate(events):
            image = np.zeros((1, *shape), np.float32)
            image[(0, *event.coords.T)] = event.values
            block = {"image": image[None]}
            if labelled:
                labels = np.full(shape, -1, np.int8)
                labels[tuple(event.coords.T)] = event.semantic
                block["labels"] = labels[None]
            store.write(i, block)


def _regression_events(
    spec: Mapping[str, Any], events: list[GridEvent], path: Path, counts: Counter
) -> tuple[str, list[GridEvent]]:
    """The truth column a regression learns and the events that can learn it.

    Every event must carry the column; with a log10 target, events whose value is not positive
    (e.g. only noise hits, nothing deposited) are skipped and counted.
    """
    target = spec["data"]["target"]
    missing = [e.event_id for e in events if not np.isfinite(e.truth.get(target, np.nan))]
    if missing:
        raise InputError(
            f"{path}: regression needs the per-event truth column {target!r}; events {missing[:5]} lack it"
        )
    if spec["model"].get("target_log10", True):
        kept = [e for e in events if e.truth[target] > 0]
        counts[f"events with {target} <= 0 skipped (log10 target)"] += len(events) - len(kept)
        log.info("%s: %d events with %s <= 0 skipped (log10 target)", path, len(events) - len(kept), target)
        events = kept
    if not events:
        raise InputError(f"{path}: no event has a positive {target}")
    return target, events


DENOISING_CLASSES = ["signal", "noise"]


def _denoising_events(events: list[GridEvent], classes: list[str] | None, path: Path) -> list[GridEvent]:
    """Events with two classes, signal (0) and noise (1), each voxel's original class kept in ``truth_class``."""
    if classes is None or "noise" not in classes or any(e.semantic is None for e in events):
        raise InputError(
            f"{path}: denoising needs per-point semantic labels and a 'classes' attribute naming 'noise', "
            f"got classes {classes!r}"
        )
    noise = classes.index("noise")
    return [replace(e, semantic=(e.semantic == noise).astype(np.int8), truth_class=e.semantic) for e in events]


def ingest_detector3d(
    inputs: list[Path],
    out_dir: Path,
    spec: Mapping[str, Any],
    voxel_labels: str | None = None,
    event_target: bool = False,
) -> dict[str, Path]:
    """Detector events -> ``out_dir/{train,val,test}.h5`` (see the module docstring).

    Args:
        voxel_labels: ``classes`` (the file's semantic classes, required), ``signal_noise``
            (two classes, each voxel's original class kept) or None (labels kept if present).
        event_target: every event must carry the ``data.target`` truth column (regression).
    """
    data = spec["data"]
    events, grid, counts = read_grid_events(inputs, data)
    first_attrs = volume_file_attrs(inputs[0])
    classes = first_attrs.get("classes")
    if voxel_labels == "classes" and (classes is None or any(e.semantic is None for e in events)):
        raise InputError(f"{inputs[0]}: segmentation needs per-point semantic labels and a 'classes' attribute")
    target = None
    if event_target:
        target, events = _regression_events(spec, events, inputs[0], counts)
    truth_classes = None
    if voxel_labels == "signal_noise":
        events, truth_classes, classes = _denoising_events(events, classes, inputs[0]), classes, DENOISING_CLASSES
    splits = split_indices(len(events), data["split"], spec["seed"])
    scale = _charge_scale([events[i] for i in splits["train"]])
    attrs = {
        "modality": "detector3d",
        "task": spec["task"],
        "axes": "C,Z,Y,X",
        "channels": ["charge"],
        "units": {"image": first_attrs.get("value_units", ""), **({"target": "MeV"} if target else {})},
        "target_name": target,
        "classes": classes,
        **({"truth_classes": truth_classes} if truth_classes else {}),
        "grid": {"shape": list(grid.shape), "pitch_mm": grid.pitch_mm, "origin_mm": list(grid.origin_mm)},
        "normalisation": {"kind": "log1p", "scale": scale},
        "skipped": dict(counts),
        "provenance": provenance(spec, inputs, spec["seed"]),
    }
    outputs = {}
    for name, index in splits.items():
        outputs[name] = out_dir / f"{name}.h5"
        _write_split(outputs[name], [events[i] for i in index], grid, {**attrs, "split": name})
    return outputs
