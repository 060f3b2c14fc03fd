"""Load a trained model directory for use in analysis scripts: numpy in, physical units out.

Loading imports torch and the networks only (not Lightning): a model folder holds the
predictor's options and weights (:mod:`sciimg.inference.export`).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import torch
from astropy.table import Table

from sciimg.data.camera_channels import camera_channels
from sciimg.data.transforms import ChannelNormalisation
from sciimg.errors import InputError
from sciimg.geometry.camera import geometry_from_arrays
from sciimg.geometry.mappers import GridMapper
from sciimg.inference.export import CARD, PREPROCESS, WEIGHTS, read_card
from sciimg.inference.runtime import check_runtime
from sciimg.io.store import SampleStore
from sciimg.kinds import kind_of
from sciimg.predictors import Predictor

CameraInput = np.ndarray | Table | str | os.PathLike
# Inputs per forward pass on CPU: a camera CNN's activations for 32 events stay in the CPU's
# caches, and a pass of 32 runs 3x faster per event than one of 256 (2 cores; `make bench`).
CPU_FORWARD_BATCH = 32


class TrainedModel:
    """A trained task with the exact preprocessing used in training.

    Attributes:
        metadata: the model card (task, modality, target, units, normalisation, provenance).
        network: the trained :class:`~sciimg.predictors.base.Predictor`, in eval mode on ``device``.
    """

    def __init__(self, path: str | os.PathLike, device: str = "cpu", runtime: str = "auto") -> None:
        self.path = Path(path)
        self.metadata: dict[str, Any] = read_card(self.path)
        self.device = torch.device(device)
        self.runtime = check_runtime(runtime)  # of sliding-window passes (sciimg.inference.runtime)
        self.network = self._load_network()
        graph = self.metadata.get("window_graph")  # a compressed (int8) graph of the window pass, if any
        self.window_graph = self.path / graph["file"] if graph else None
        normalisation = self.metadata.get("normalisation")
        self.normalisation = ChannelNormalisation.from_list(normalisation) if isinstance(normalisation, list) else None
        try:
            with np.load(self.path / PREPROCESS) as arrays:
                self.preprocess_arrays = {k: arrays[k] for k in arrays.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise InputError(f"{self.path / PREPROCESS}: not a readable preprocessing file ({error})") from None
        arrays = self.preprocess_arrays
        self.mapper = GridMapper.from_arrays(arrays) if "mapper_cell" in arrays else None
        self.geometry = geometry_from_arrays(arrays) if "pix_x" in arrays else None
        self.valid = arrays["valid_mask"].astype(bool) if "valid_mask" in arrays else None

    def _load_network(self) -> Predictor:
        """The predictor of the model's kind, built from the card's options, with the saved weights."""
        if "predictor_options" not in self.metadata:
            raise InputError(f"{self.path / CARD}: no predictor_options (an older sciimg wrote it); train it again")
        try:
            network = kind_of(self.metadata).load("predictor")(**self.metadata["predictor_options"])
        except (TypeError, ValueError, KeyError) as error:
            raise InputError(f"{self.path / CARD}: predictor_options do not build its network ({error})") from None
        try:
            state = torch.load(self.path / WEIGHTS, map_location=self.device, weights_only=True)
            network.load_state_dict(state)
        except (RuntimeError, OSError, EOFError, ValueError, TypeError) as error:
            raise InputError(f"{self.path / WEIGHTS}: weights do not fit the card's network ({error})") from None
        return network.to(self.device).eval()

    def normalise(self, grids: np.ndarray) -> np.ndarray:
        """Mapped, un-normalised network inputs (as in a sample store) -> normalised inputs."""
        return self.normalisation(finite_rows(grids), self.valid)

    def pixel_channels(self, images: np.ndarray, peak_time: np.ndarray | None = None) -> np.ndarray:
        """Camera-pixel images ``(n_events, n_pixels)`` -> the model's input channels ``(n_events, C, n_pixels)``.

        This is what ingest stores and what the exported ONNX graph takes as input.
        """
        if self.mapper is None or self.geometry is None:
            raise InputError(f"{self.path}: this model does not take camera-pixel images")
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 1:
            images = images[None]
        n_pixels = self.mapper.n_pixels
        if images.ndim != 2 or images.shape[1] != n_pixels:
            raise InputError(
                f"images must have shape (n_events, {n_pixels}) pixels of camera "
                f"{self.geometry.name}, got {images.shape}"
            )
        bad = ~np.isfinite(images).all(axis=1)
        if bad.any():
            raise InputError(f"images must be finite, got NaN/inf in rows {np.flatnonzero(bad)[:10].tolist()}")
        channels = self.metadata["channels"]
        masks = None
        if set(channels) - {"charge"}:
            from sciimg.data.image_parameters import Cleaning, cleaning_masks  # ctapipe: seconds, only if used

            masks = cleaning_masks(self.geometry, images, Cleaning(**self.metadata["cleaning"]))
        if "peak_time" in channels:
            if peak_time is None:
                raise InputError(f"{self.path}: this model uses peak-time images; pass peak_time=")
            peak_time = peak_times(peak_time, images.shape)
        radius = np.hypot(self.geometry.pix_x.to_value(u.m), self.geometry.pix_y.to_value(u.m))
        return camera_channels(images, peak_time, masks, channels, radius)

    def network_inputs(self, pixels: np.ndarray) -> np.ndarray:
        """Pixel channels ``(n_events, C, n_pixels)`` -> normalised network inputs on the grid.

        With a mapper that copies each pixel into its own cell, the pixels are normalised before
        mapping: the same numbers (the cells without a pixel, outside the valid mask, stay 0), from
        fewer values and passes.
        """
        if not self.mapper.copies_pixels:
            return self.normalise(self.mapper.to_grid(pixels))
        return self.mapper.to_grid(self.normalisation(finite_rows(pixels), spatial_dims=1))


def finite_rows(values: np.ndarray) -> np.ndarray:
    """``values`` as float32, after checking that every row (event) is finite.

    Raises:
        InputError: rows with NaN or inf (the first ten named).
    """
    values = np.asarray(values, dtype=np.float32)
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        raise InputError(f"images must be finite, got NaN/inf in rows {np.flatnonzero(bad)[:10].tolist()}")
    return values


def _camera_arrays(events: CameraInput) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixel images and peak times from an array, a Table with ``image`` columns, or a file."""
    if isinstance(events, str | os.PathLike):
        from sciimg.io.dl1 import read_events  # ctapipe: seconds to import, only for files

        events = read_events(events).table
    if isinstance(events, Table):
        if "image" not in events.colnames:
            raise InputError(f"event table must have an 'image' column, got {events.colnames}")
        peak = np.asarray(events["peak_time"]) if "peak_time" in events.colnames else None
        return np.asarray(events["image"]), peak
    images = np.asarray(events) if isinstance(events, np.ndarray | list | tuple) else np.empty(0, object)
    if images.dtype.kind not in "biuf" or images.ndim not in (1, 2):
        raise InputError(
            "events must be camera-pixel images (n_events, n_pixels) of numbers, an astropy Table with an "
            f"'image' column, or the path of a DL1 or sim_telarray file; got {type(events).__name__} "
            f"{getattr(events, 'shape', '')}".rstrip()
        )
    return images, None


def peak_times(peak_time: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Peak times as ``float32`` of the images' ``shape``, one per pixel, all finite.

    Raises:
        InputError: not numbers, another number of values, or NaN/inf (naming the rows).
    """
    values = np.asarray(peak_time)
    if values.dtype.kind not in "biuf" or values.size != int(np.prod(shape)):
        raise InputError(f"peak_time must be one number per pixel, shape {tuple(shape)}, got {values.shape}")
    values = values.astype(np.float32).reshape(shape)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise InputError(f"peak_time must be finite, got NaN/inf in rows {np.flatnonzero(bad)[:10].tolist()}")
    return values


class Regressor(TrainedModel):
    """A trained regressor: ``predict(events)`` returns the target as an astropy Quantity."""

    @property
    def units(self) -> str:
        """Units of the predictions."""
        return self.metadata["units"].get("target", "")

    def predict_normalised(self, inputs: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions (and std if heteroscedastic) for normalised network inputs, in batches.

        On CPU the network sees at most :data:`CPU_FORWARD_BATCH` inputs per pass.
        """
        step = batch_size if self.device.type == "cuda" else min(batch_size, CPU_FORWARD_BATCH)
        means, stds = [], []
        with torch.inference_mode():
            for start in range(0, len(inputs), step):
                x = torch.from_numpy(np.ascontiguousarray(inputs[start : start + step])).to(self.device)
                out = self.network.predict({"image": x})
                means.append(out["prediction"].double().cpu().numpy())
                if "std" in out:
                    stds.append(out["std"].double().cpu().numpy())
        mean = np.concatenate(means) if means else np.empty(0)
        return mean, (np.concatenate(stds) if stds else None)

    def predict(
        self,
        events: CameraInput,
        peak_time: np.ndarray | None = None,
        return_std: bool = False,
        batch_size: int = 256,
    ) -> u.Quantity | tuple[u.Quantity, u.Quantity]:
        """Predict for any number of events, ``batch_size`` at a time (bounded memory).

        Args:
            events: camera-pixel images ``(n_events, n_pixels)`` (or one ``(n_pixels,)``),
                an astropy Table with ``image`` (and ``peak_time``) columns, or the path of
                a ctapipe DL1 or sim_telarray file.
            peak_time: peak-time images, for models with a ``peak_time`` channel when
                ``events`` is an array.
            return_std: also return the per-event standard deviation (heteroscedastic
                models only).

        Returns:
            predictions in :attr:`units`, and their standard deviations if asked.
        """
        self._check_arguments(return_std, batch_size)
        images, table_peak_time = _camera_arrays(events)
        peak_time = peak_time if peak_time is not None else table_peak_time
        images = images[None] if images.ndim == 1 else images
        if peak_time is not None:
            peak_time = peak_times(peak_time, images.shape)

        def batches() -> Iterator[np.ndarray]:
            for start in range(0, len(images), batch_size):
                chunk_time = None if peak_time is None else peak_time[start : start + batch_size]
                yield self.network_inputs(self.pixel_channels(images[start : start + batch_size], chunk_time))

        try:
            return self.predict_batches(batches(), return_std, batch_size)
        except InputError as error:
            if isinstance(events, str | os.PathLike) and str(events) not in str(error):
                raise InputError(f"{events}: {error}") from None  # name the file the bad events came from
            raise

    def file_predictions(self, path: Path) -> tuple[Table, np.ndarray, np.ndarray | None]:
        """Event columns (ids, truth when known) and predictions (and std) for a sample store or a DL1 file."""
        if SampleStore.is_store(path):
            store = SampleStore(path)
            columns = Table(store.meta())
            images = store.read("image")
            inputs = self.network_inputs(images) if self.mapper is not None else self.normalise(images)
            mean, std = self.predict_normalised(inputs)
            store.close()
            return columns, mean, std
        from sciimg.io.dl1 import read_events  # ctapipe: seconds to import, only for native files

        events = read_events(path)
        columns = events.table[[c for c in events.table.colnames if c not in ("image", "peak_time")]]
        try:
            if self.metadata.get("heteroscedastic"):
                mean, std = self.predict(events.table, return_std=True)
                mean, std = mean.value, std.value
            else:
                mean, std = self.predict(events.table).value, None
        except InputError as error:
            raise InputError(f"{path}: {error}") from None  # name the file the bad events came from
        passed = self.passes_quality_cuts(events.table)
        columns["quality_cuts_passed"] = passed
        return columns, np.where(passed, mean, np.nan), None if std is None else np.where(passed, std, np.nan)

    def passes_quality_cuts(self, events: Table) -> np.ndarray:
        """Events passing the quality cuts the model was trained under (the card's), from their cleaned images.

        An event that fails (too faint, too much leakage, nothing left after cleaning) gets no
        prediction: it lies outside what the model learned.
        """
        cuts = self.metadata.get("quality_cuts") or {}
        if not cuts or self.geometry is None:
            return np.ones(len(events), bool)
        from sciimg.data.image_parameters import Cleaning, image_parameters, quality_cut  # ctapipe: files only

        images = np.asarray(events["image"], np.float32)
        times = np.asarray(events["peak_time"], np.float32) if "peak_time" in events.colnames else np.zeros_like(images)
        parameters, _ = image_parameters(self.geometry, images, times, Cleaning(**self.metadata["cleaning"]))
        return quality_cut(parameters, cuts)

    def _check_arguments(self, return_std: bool, batch_size: int) -> None:
        """``predict``'s options: a std only from a heteroscedastic model, a batch of at least one event."""
        if return_std and not self.metadata.get("heteroscedastic"):
            raise InputError(f"{self.path}: return_std needs a model trained with heteroscedastic: true")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise InputError(f"batch_size must be a whole number of events, at least 1, got {batch_size!r}")

    def predict_batches(
        self, batches: Iterable[np.ndarray], return_std: bool, batch_size: int
    ) -> u.Quantity | tuple[u.Quantity, u.Quantity]:
        """Predictions in :attr:`units` (and their std) for batches of normalised network inputs."""
        means, stds = [], []
        for inputs in batches:
            mean, std = self.predict_normalised(inputs, batch_size)
            means.append(mean)
            stds.append(std)
        unit = u.Unit(self.units) if self.units else u.dimensionless_unscaled
        mean = np.concatenate(means) * unit if means else np.empty(0) * unit
        if return_std:
            return mean, (np.concatenate(stds) if stds else np.empty(0)) * unit
        return mean


def load_model(path: str | os.PathLike, device: str = "cpu", runtime: str = "auto") -> TrainedModel:
    """Load any trained sciimg model directory (``results/<experiment>/model``), as its kind's model class.

    Args:
        runtime: where sliding-window passes run (:mod:`sciimg.inference.runtime`): ``auto``,
            ``onnxruntime`` or ``torch``.
    """
    card = read_card(path, check_weights=False)  # the kind; the model class reads the card again, hashing the weights
    return kind_of(card).load("model_class")(path, device, runtime)


def load_regressor(path: str | os.PathLike, device: str = "cpu") -> Regressor:
    """Load a trained regressor directory; see :class:`Regressor`."""
    model = load_model(path, device)
    if not isinstance(model, Regressor):
        raise InputError(f"{path}: model task must be 'regression', got {model.metadata['task']!r}")
    return model
