"""Event energies from detector volumes: a trained 3D regressor on whole events, numpy or files in, MeV out."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table

from sciimg.data.detector3d_dataset import volume_input
from sciimg.data.ingest_detector3d import GridEvent
from sciimg.errors import InputError
from sciimg.geometry.voxels import VoxelGrid
from sciimg.inference.detector3d import input_events
from sciimg.inference.load import Regressor
from sciimg.io.store import SampleStore
from sciimg.io.volumes import TRUTH_COLUMNS, SparseEvent

VolumeEvents = np.ndarray | Iterable[GridEvent | SparseEvent] | str | os.PathLike


class VolumeRegressor(Regressor):
    """A trained per-event regressor of detector volumes (e.g. deposited energy in MeV).

    Events are put on the model's grid (:attr:`grid`, from the card) as in training.
    """

    def __init__(self, path: str | os.PathLike, device: str = "cpu", runtime: str = "auto") -> None:
        super().__init__(path, device, runtime)
        grid = self.metadata["volume"]["grid"]
        self.grid = VoxelGrid.of(grid["shape"], grid["pitch_mm"], grid["origin_mm"])
        self.scale = float(self.metadata["normalisation"]["scale"])

    def _dense(self, events: list[GridEvent | SparseEvent]) -> np.ndarray:
        """Point lists on the grid -> network inputs ``(n, 1, Z, Y, X)``."""
        inputs = np.zeros((len(events), 1, *self.grid.shape), np.float32)
        for row, event in enumerate(events):
            inputs[(row, 0, *np.asarray(event.coords, np.int64).T)] = volume_input(event.values, self.scale)
        return inputs

    def _batches(self, events: VolumeEvents, batch_size: int) -> Iterator[np.ndarray]:
        if isinstance(events, np.ndarray):
            charges = events[None] if events.ndim == 3 else events
            if charges.shape[1:] != self.grid.shape:
                raise InputError(
                    f"volumes must have shape (n_events, {', '.join(map(str, self.grid.shape))}), got {events.shape}"
                )
            bad = ~np.isfinite(charges.reshape(len(charges), -1)).all(axis=1)
            if bad.any():
                raise InputError(f"volumes must be finite, got NaN/inf in events {np.flatnonzero(bad)[:10].tolist()}")
            for start in range(0, len(charges), batch_size):
                yield volume_input(charges[start : start + batch_size, None], self.scale)
            return
        if isinstance(events, str | os.PathLike):
            events = self.file_events(Path(events))
        batch = []
        for event in events:
            batch.append(event)
            if len(batch) == batch_size:
                yield self._dense(batch)
                batch = []
        if batch:
            yield self._dense(batch)

    def file_events(self, path: Path) -> list[GridEvent | SparseEvent]:
        """The events of a volume store or of a sparse, dense or larnd-sim file, on the model's grid."""
        return list(input_events(path, self.grid))

    def predict(  # type: ignore[override]
        self, events: VolumeEvents, return_std: bool = False, batch_size: int = 8
    ) -> u.Quantity | tuple[u.Quantity, u.Quantity]:
        """Predict for any number of events, ``batch_size`` dense volumes at a time.

        Args:
            events: charges ``(n_events, Z, Y, X)`` (or one ``(Z, Y, X)``) on the model's grid,
                events with ``coords`` (voxel indices) and ``values``, or the path of a volume
                store or of a sparse, dense or larnd-sim HDF5 file (points off the grid are dropped
                and counted in the log).
            return_std: also return the per-event standard deviation (heteroscedastic models only).
        """
        self._check_arguments(return_std, batch_size)
        return self.predict_batches(self._batches(events, batch_size), return_std, batch_size)

    def file_predictions(self, path: Path) -> tuple[Table, np.ndarray, np.ndarray | None]:
        """Event ids and truth (where the file has it) with the predictions and their std, for one file."""
        events = self.file_events(path)
        truth = [c for c in TRUTH_COLUMNS if events and all(c in e.truth for e in events)]
        if SampleStore.is_store(path):  # stored_events keeps no truth: the store's meta has it
            meta = SampleStore(path).meta()
            columns = Table({"event_id": meta["event_id"], **{c: meta[c] for c in TRUTH_COLUMNS if c in meta}})
        else:
            columns = Table(
                {"event_id": [e.event_id for e in events], **{c: [e.truth[c] for e in events] for c in truth}}
            )
        if self.metadata.get("heteroscedastic"):
            mean, std = self.predict(events, return_std=True)
            return columns, mean.value, std.value
        return columns, self.predict(events).value, None
