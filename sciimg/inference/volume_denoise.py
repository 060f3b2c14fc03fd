"""Noise-voxel removal in detector events: the denoised events, written as sparse HDF5.

A denoising model is a two-class voxel classifier (signal, noise) run by the same
bounded-memory sliding window as segmentation (:class:`~sciimg.inference.volumes.VolumeModel`).
A voxel is removed when its noise probability exceeds one half. The output holds the kept
voxels only, with their charges as read, so it is an event file like its input. The
``/scores`` dataset holds the kept voxels' class probabilities, and the ``n_removed``
attribute holds each event's count of removed voxels.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from sciimg.data.ingest_volumes import GridEvent
from sciimg.inference.volumes import VolumeModel, input_events
from sciimg.io.volumes import SparseEvent, write_sparse_volumes
from sciimg.provenance import provenance

log = logging.getLogger(__name__)


def kept_voxels(event: GridEvent | SparseEvent, keep: np.ndarray, scores: np.ndarray | None = None) -> SparseEvent:
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


def predict_denoised(model: VolumeModel, inputs: list[Path], output: str | os.PathLike) -> Path:
    """Remove the noise voxels of every event of ``inputs`` (volume stores or native files); write one file."""
    noise = model.classes.index("noise")
    events, n_removed, seconds = [], [], []
    for path in inputs:
        for event in input_events(path, model.grid):
            started = time.perf_counter()
            scores = model.classify(event.coords, event.values)
            keep = scores[:, noise] <= 0.5
            seconds.append(time.perf_counter() - started)
            events.append(kept_voxels(event, keep, scores))
            n_removed.append(int((~keep).sum()))
    grid = model.grid
    attrs = {
        "value_units": model.metadata["units"].get("image", ""),
        "model": str(model.path),
        "provenance": provenance(inputs=[*inputs, model.path / "model.ckpt"]),
    }
    grid_attrs = {"shape": grid.shape, "pitch_mm": grid.pitch_mm, "origin_mm": grid.origin_mm}
    return write_denoised(output, events, n_removed, seconds, grid_attrs, attrs)
