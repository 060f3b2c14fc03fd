"""Noise-voxel removal in detector events: the denoised events, written as sparse HDF5.

A denoising model is a two-class voxel classifier (signal, noise) run by the same
bounded-memory sliding window as segmentation (:class:`~sciimg.inference.detector3d.VolumeModel`).
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

from sciimg.inference.detector3d import VolumeModel, input_events
from sciimg.inference.export import WEIGHTS
from sciimg.outputs import kept_voxels, write_denoised
from sciimg.provenance import provenance

log = logging.getLogger(__name__)


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
        "provenance": provenance(inputs=[*inputs, model.path / WEIGHTS]),
    }
    grid_attrs = {"shape": grid.shape, "pitch_mm": grid.pitch_mm, "origin_mm": grid.origin_mm}
    return write_denoised(output, events, n_removed, seconds, grid_attrs, attrs)
