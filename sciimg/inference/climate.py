"""Trained temperature-field models on stores and NetCDF files; outputs are CF NetCDF like the input.

Outputs keep the source file's variable name, attributes, units, coordinates and calendar
(:func:`sciimg.io.netcdf.write_fields`) and add ``<variable>_infilled``, 1 where sciimg
filled (inpainting) or replaced (denoising) the value.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from sciimg.data.climate_dataset import FieldDataset, wrap_columns
from sciimg.data.ingest_climate import block_steps, calendar_of, train_climatology
from sciimg.errors import InputError
from sciimg.inference.export import WEIGHTS
from sciimg.inference.load import TrainedModel
from sciimg.io.netcdf import CELSIUS, FieldInfo, encode_times, open_field, write_fields
from sciimg.io.store import SampleStore
from sciimg.kinds import kind_of
from sciimg.outputs import filled_cells, write_store_fields
from sciimg.provenance import provenance

log = logging.getLogger(__name__)

BATCH = 32


class FieldModel(TrainedModel):
    """A trained inpainting or denoising model with its training climatology and anomaly scale."""

    @property
    def scale(self) -> float:
        return float(self.metadata["normalisation"]["scale"])

    @property
    def corruption(self) -> str:
        """``gaps`` (the model fills unobserved cells) or ``noise`` (it denoises every cell)."""
        stored = self.metadata["field"].get("corruption")  # cards written before it was recorded: the kind's
        return stored or kind_of(self.metadata).ingest_options["corruption"]

    def dataset(self, store_path: str | os.PathLike) -> FieldDataset:
        field = self.metadata["field"]
        window, axis = field["time_window"], field["time_axis"]
        return FieldDataset(store_path, time_window=window, time_axis=axis, scale=self.scale)

    def _run(self, batches: Iterable[dict[str, torch.Tensor]], pad: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Anomalies (K) ``(N, Y, X)`` for the batches, and their std (K) from a heteroscedastic model, else None;
        ``pad`` wrapped columns on each side of the inputs are cut from the outputs."""
        outputs: dict[str, list[np.ndarray]] = {"prediction": [], "std": []}
        with torch.no_grad():
            for batch in batches:
                result = self.network.predict({k: v.to(self.device) for k, v in batch.items()})
                for key, value in result.items():
                    outputs[key].append(value[:, 0, :, pad : value.shape[-1] - pad].float().cpu().numpy())
        scale = np.float32(self.scale)
        std = np.concatenate(outputs["std"]) * scale if outputs["std"] else None
        return np.concatenate(outputs["prediction"]) * scale, std

    def predict_store(self, store_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Anomalies for a store's samples, the cells the model filled, and their std (heteroscedastic models)."""
        dataset = self.dataset(store_path)
        anomalies, std = self._run(DataLoader(dataset, batch_size=BATCH), dataset.pad)
        store = dataset.store
        domain = store.read("extra/domain")
        filled = filled_cells(self.corruption, store.read("mask")[:, 0].astype(bool), domain)
        anomalies[:, ~domain] = np.nan
        if std is not None:
            std[:, ~domain] = np.nan
        return anomalies, filled, std

    def predict_file(
        self, path: str | os.PathLike
    ) -> tuple[np.ndarray, np.ndarray, FieldInfo, Any, tuple, np.ndarray | None]:
        """Fill the NaN cells of a NetCDF field (inpainting) or denoise it, on any regular grid.

        Anomalies are taken about the model's training climatology when the file is on the
        training grid, else about the file's own monthly means per cell (a file of anomalies,
        e.g. HadCRUT, needs none). Cells are filled within the training domain on the
        training grid, else within the cells the file ever observes. Values the model does
        not write are the file's own, bit for bit.

        Returns:
            values ``(T, Y, X)`` in the file's units, the filled-cell flags, the file's info,
            its lat/lon, its CF times, and the std of each value (heteroscedastic models, else None).
        """
        field, info = open_field(path, kelvin=False)
        arrays = self.preprocess_arrays
        lat, lon = field.lat.values, field.lon.values
        same_grid = np.array_equal(lat, arrays["lat"]) and np.array_equal(lon, arrays["lon"])
        values = field.values  # files given to predict are read whole
        if not np.isfinite(values).any():
            raise InputError(f"{path}: variable {info.variable!r} is NaN everywhere: no observation to fill from")
        _, months = calendar_of(field)
        if info.is_anomaly:
            climatology = np.zeros((12, *values.shape[1:]), np.float32)
        elif same_grid:
            kelvin_offset = np.float32(273.15) if info.units in CELSIUS else np.float32(0.0)
            climatology = arrays["climatology"] - kelvin_offset
        else:
            climatology = self._file_climatology(field.copy(data=values), months, path)  # no second read
        anomalies = values - climatology[months - 1]
        domain = arrays["domain"].astype(bool) if same_grid else np.isfinite(values).any(axis=0)
        observed = np.isfinite(anomalies)
        filled = filled_cells(self.corruption, observed, domain)
        predicted, std = self._predict_series(anomalies, observed, lon)
        result = np.where(filled, predicted + climatology[months - 1], values)
        times = encode_times(field.time if "time" in field.coords else None, len(values))
        return result, filled, info, (lat, lon), times, None if std is None else np.where(filled, std, 0.0)

    def _file_climatology(self, field: Any, months: np.ndarray, path: str | os.PathLike) -> np.ndarray:
        """Monthly means per cell of a file's own observed values (a month never observed at a cell: its mean)."""
        trained = self.preprocess_arrays
        climatology, _, _ = train_climatology(field, np.arange(len(months)), months, block_steps(*field.shape[1:]))
        log.info(
            "%s: a %d x %d grid (the model trained on %d x %d): anomalies about the file's own monthly means",
            path,
            *field.shape[1:],
            len(trained["lat"]),
            len(trained["lon"]),
        )
        return climatology

    def _predict_series(
        self, anomalies: np.ndarray, observed: np.ndarray, lon: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Model anomalies (and std) for a whole ``(T, Y, X)`` series on longitudes ``lon``: each step with
        its neighbours (NaN beyond the series) through :class:`FieldFiller`, as the exported graph does."""
        half = self.metadata["field"]["time_window"] // 2
        filler = FieldFiller(self, wrap_columns(lon)).eval()
        observed_only = np.where(observed, anomalies, np.nan).astype(np.float32)
        series = np.pad(observed_only, [(half, half), (0, 0), (0, 0)], constant_values=np.nan)
        outputs: list[tuple[torch.Tensor, ...]] = []
        with torch.no_grad():
            for start in range(0, len(anomalies), BATCH):
                windows = np.stack(
                    [series[t : t + 2 * half + 1] for t in range(start, min(start + BATCH, len(anomalies)))]
                )
                outputs.append(filler(torch.from_numpy(windows).to(self.device)))
        prediction, *std = (torch.cat(parts).float().cpu().numpy() for parts in zip(*outputs, strict=True))
        return prediction, std[0] if std else None


class FieldFiller(nn.Module):
    """Windows of anomalies (K, NaN where unobserved) -> the centre step filled (or denoised) in K, and its std.

    The input is ``(batch, time_window, Y, X)``; the module makes the mask from the NaNs, divides by
    the model's anomaly scale, wraps ``columns`` columns round the date line (global grids), runs
    the network and crops and rescales its outputs: the whole path of a field model on a file,
    and the graph ``sciimg export`` writes.
    """

    def __init__(self, model: FieldModel, columns: int) -> None:
        super().__init__()
        self.network, self.scale, self.columns = model.network, float(model.scale), columns
        self.depth = model.metadata["field"]["time_axis"] == "depth"

    def _wrap(self, x: torch.Tensor) -> torch.Tensor:
        if self.columns == 0:
            return x
        return torch.cat([x[..., -self.columns :], x, x[..., : self.columns]], dim=-1)

    def forward(self, anomalies: torch.Tensor) -> tuple[torch.Tensor, ...]:
        observed = torch.isfinite(anomalies)
        image = self._wrap(torch.where(observed, anomalies / self.scale, torch.zeros_like(anomalies)))
        mask = self._wrap(observed.to(anomalies.dtype))
        if self.depth:
            image, mask = image[:, None], mask[:, None]
        result = self.network.predict({"image": image, "mask": mask})
        width = anomalies.shape[-1]
        return tuple(result[key][:, 0, :, self.columns : self.columns + width] * self.scale for key in sorted(result))


def predict_fields(model: FieldModel, inputs: list[Path], output: str | os.PathLike) -> Path:
    """Run a field model on one sample store or one NetCDF file; write NetCDF to ``output``."""
    if len(inputs) != 1:
        raise InputError(f"temperature-field models take one input file at a time, got {len(inputs)}")
    path = inputs[0]
    sources = [path, model.path / WEIGHTS]
    if SampleStore.is_store(path):
        start = time.process_time()
        anomalies, filled, std = model.predict_store(path)
        timing = {"cpu_seconds_per_field": (time.process_time() - start) / max(len(anomalies), 1)}
        method = f"{model.metadata['task']} by {model.metadata.get('backbone')} ({model.path})"
        return write_store_fields(path, anomalies, filled, output, method, sources, method_attrs=timing, std=std)
    values, filled, info, (lat, lon), times, std = model.predict_file(path)
    history = f"sciimg: {model.metadata['task']} by {model.metadata.get('backbone')} ({model.path})"
    prov = provenance(inputs=sources)
    return write_fields(output, values, info, lat, lon, times, filled, history, prov, kelvin=False, std=std)
