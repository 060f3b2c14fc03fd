"""Voxel classes of detector events: 3D sliding-window inference from point lists, bounded memory.

An event is kept as its point list; each inference window is filled from the points inside
it, and each finished block of z-slices hands over the class probabilities of its occupied
voxels only. Memory holds the points, one batch of windows and one window's depth of
blended slices, never the dense volume, so a 256^3 event needs about what a 64^3 one
does per slice. Outputs are sparse HDF5 (:mod:`sciimg.io.volumes`) with the predicted
class in ``semantic`` and the probabilities in ``/scores``.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sciimg.data.detector3d_dataset import volume_input
from sciimg.data.ingest_detector3d import GridEvent, place_event
from sciimg.geometry.voxels import VoxelGrid
from sciimg.inference.export import WEIGHTS
from sciimg.inference.load import TrainedModel
from sciimg.inference.runtime import WindowRunner
from sciimg.inference.sliding_window import sliding_window, window_starts
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import stored_events
from sciimg.io.volumes import SparseEvent, read_volume_events, write_sparse_volumes
from sciimg.provenance import provenance

log = logging.getLogger(__name__)
OVERLAP = 0.25
MIN_WINDOW = 64  # a fully convolutional network predicts larger windows than it was trained on, faster
VOXELS_PER_PASS = 2 * MIN_WINDOW**3  # bounds memory: two 64^3 windows, or one 80^3, per network pass
WINDOW_MULTIPLE = 16  # window sides a U-Net of up to four 2x downsamplings takes


def window_side(side: int, smallest: int) -> int:
    """The window side (clipped to the grid) that covers a grid ``side`` with the fewest voxels computed.

    Candidates run from ``smallest`` up to what one pass's voxels allow; the cost of one is
    its windows along the side times its width (ties go to the smaller window, which
    skips more empty space). A 128 side takes two 80-voxel windows instead of three of 64;
    in `make bench` a 128^3 event went from 29x to 14x the time of a 64^3 one.
    """
    largest = max(smallest, round(VOXELS_PER_PASS ** (1 / 3)) // WINDOW_MULTIPLE * WINDOW_MULTIPLE)
    candidates = range(smallest, largest + 1, WINDOW_MULTIPLE)
    widths = sorted({min(width, side) for width in candidates})
    return min(widths, key=lambda width: len(window_starts(side, width, OVERLAP)) * width)


def window_reader(coords: np.ndarray, values: np.ndarray, scale: float):
    """A ``read(region)`` for :func:`sliding_window` that fills a window from a point list."""

    def read(region: tuple[slice, ...]) -> np.ndarray:
        window = np.zeros((1, *(r.stop - r.start for r in region)), np.float32)
        lower = np.array([r.start for r in region])
        upper = np.array([r.stop for r in region])
        inside = np.all((coords >= lower) & (coords < upper), axis=1)
        window[(0, *(coords[inside] - lower).T)] = volume_input(values[inside], scale)
        return window

    return read


def charged_only(
    predict: Callable[[torch.Tensor], torch.Tensor], out_channels: int
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``predict`` on the windows of a batch that hold charge; the others (no occupied voxel) get zeros."""

    def run(batch: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((len(batch), out_channels, *batch.shape[2:]))
        charged = batch.flatten(1).amax(dim=1) > 0
        if charged.any():
            out[charged] = predict(batch[charged])
        return out

    return run


class VoxelProbabilities(nn.Module):
    """Network inputs ``(B, 1, z, y, x)`` -> class probabilities (softmax over channels) or, for one
    independent score per channel (``exclusive=False``: keypoint heat), sigmoids."""

    def __init__(self, network: nn.Module, exclusive: bool = True) -> None:
        super().__init__()
        self.network, self.exclusive = network, exclusive

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits = self.network(inputs)
        return torch.softmax(logits, dim=1) if self.exclusive else torch.sigmoid(logits)


class VolumeModel(TrainedModel):
    """A trained voxel classifier with its grid, window and input scale (from the card)."""

    def __init__(self, path: str | os.PathLike, device: str = "cpu", runtime: str = "auto") -> None:
        super().__init__(path, device, runtime)
        volume = self.metadata["volume"]
        grid = volume["grid"]
        self.grid = VoxelGrid.of(grid["shape"], grid["pitch_mm"], grid["origin_mm"])
        self.classes = list(volume["classes"] or [])  # none for data without voxel classes (keypoint models)
        smallest = max(int(volume["patch_size"]), MIN_WINDOW)
        self.window = tuple(window_side(side, smallest) for side in self.grid.shape)
        self.windows_per_pass = max(1, VOXELS_PER_PASS // int(np.prod(self.window)))
        self.scale = float(self.metadata["normalisation"]["scale"])

    def window_module(self) -> nn.Module:
        """What one pass does: network inputs ``(B, 1, z, y, x)`` -> class probabilities ``(B, C, z, y, x)``."""
        return VoxelProbabilities(self.network)

    @cached_property
    def windows(self) -> WindowRunner:
        """:meth:`window_module` in the model's runtime (:mod:`sciimg.inference.runtime`)."""
        example = torch.rand(1, 1, 16, 16, 16, generator=torch.Generator().manual_seed(0))
        # PyTorch unless asked: ONNX Runtime classified events 0.46-1.03x as fast (`make bench`)
        return WindowRunner(
            self.window_module(), example, self.runtime, self.device, preferred="torch", graph=self.window_graph
        )

    def _probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        return self.windows(batch).float().cpu()

    def classify(self, coords: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` of the occupied voxels ``coords`` ``(n, 3)``."""
        coords = np.asarray(coords, np.int64)
        scores = np.zeros((len(coords), len(self.classes)), np.float32)
        order = np.argsort(coords[:, 0], kind="stable")
        z_sorted = coords[order, 0]

        def sink(first: int, block: np.ndarray) -> None:
            lo, hi = np.searchsorted(z_sorted, [first, first + block.shape[1]])
            rows = order[lo:hi]
            z, y, x = coords[rows].T
            scores[rows] = block[:, z - first, y, x].T

        sliding_window(
            window_reader(coords, values, self.scale),
            self.grid.shape,
            charged_only(self._probabilities, len(self.classes)),
            self.window,
            OVERLAP,
            self.windows_per_pass,
            len(self.classes),
            sink,
        )
        return scores

    def predict_event(self, event: GridEvent | SparseEvent) -> SparseEvent:
        """The event's occupied voxels with their predicted class and probabilities."""
        started = time.perf_counter()
        scores = self.classify(event.coords, event.values)
        return SparseEvent(
            event_id=event.event_id,
            coords=event.coords,
            values=event.values,
            semantic=scores.argmax(axis=1).astype(np.int8),
            scores=scores,
            truth={"seconds": time.perf_counter() - started},
        )


def file_events(path: Path, grid: VoxelGrid) -> Iterator[GridEvent]:
    """A user's sparse, dense or larnd-sim file put on the model's grid (skips counted in the log)."""
    counts: Counter = Counter()
    for event in read_volume_events(path):
        placed = place_event(event, grid, 0, counts)
        if placed is not None:
            yield placed
    skipped = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()) if n) or "nothing skipped"
    log.info("%s: %s", path, skipped)


def input_events(path: Path, grid: VoxelGrid) -> Iterable[GridEvent | SparseEvent]:
    """The events of a volume store (already on its grid) or of a user's file put on ``grid``."""
    return stored_events(SampleStore(path)) if SampleStore.is_store(path) else file_events(path, grid)


def predict_volumes(model: VolumeModel, inputs: list[Path], output: str | os.PathLike) -> Path:
    """Classify every event of ``inputs`` (volume stores or native files); write one sparse file."""
    predicted = []
    for path in inputs:
        predicted += [model.predict_event(event) for event in input_events(path, model.grid)]
    seconds = [e.truth["seconds"] for e in predicted]
    log.info("%d events, median %.3f s per event", len(predicted), float(np.median(seconds)) if seconds else 0.0)
    for event in predicted:
        event.truth = {}
    grid = model.grid
    attrs = {
        "grid": list(grid.shape),
        "pitch_mm": grid.pitch_mm,
        "origin_mm": list(grid.origin_mm),
        "classes": model.classes,
        "value_units": model.metadata["units"].get("image", ""),
        "seconds_per_event": seconds,
        "model": str(model.path),
        "provenance": provenance(inputs=[*inputs, model.path / WEIGHTS]),
    }
    return write_sparse_volumes(output, predicted, attrs)
