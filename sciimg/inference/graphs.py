"""Trained models as plain graphs for export: physical inputs in, physical outputs out.

Each kind that can be exported names a function here (:attr:`sciimg.kinds.Kind.graph`)
that turns its loaded model into a :class:`Graph`: a module holding the whole inference
path that can live in a graph (mappings, normalisation, the network, decoding to units),
an example input and the names ONNX gives the inputs and outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sciimg.data.climate_dataset import wrap_columns
from sciimg.errors import InputError
from sciimg.geometry.mappers import GridMapper
from sciimg.inference.climate import FieldFiller, FieldModel
from sciimg.inference.load import Regressor


@dataclass(frozen=True)
class Graph:
    """What ``sciimg export`` writes: ``module(*example)`` gives the outputs; axis 0 of every input is the batch."""

    module: nn.Module
    example: tuple[torch.Tensor, ...]
    inputs: list[str]
    outputs: list[str]


def gather_table(mapper: GridMapper) -> tuple[np.ndarray, np.ndarray]:
    """``(n_cells, K)`` pixel indices and weights: ``cell = sum_k weight[k] * pixel[index[k]]``."""
    matrix = mapper.matrix.tocsr()
    width = max(int(np.diff(matrix.indptr).max()), 1)
    index = np.zeros((matrix.shape[0], width), np.int64)
    weight = np.zeros((matrix.shape[0], width), np.float32)
    for cell in range(matrix.shape[0]):
        start, stop = matrix.indptr[cell], matrix.indptr[cell + 1]
        index[cell, : stop - start] = matrix.indices[start:stop]
        weight[cell, : stop - start] = matrix.data[start:stop]
    return index, weight


class CameraRegressor(nn.Module):
    """Pixel channels -> (prediction, std) of a trained :class:`Regressor`, as a plain module."""

    def __init__(self, model: Regressor) -> None:
        super().__init__()
        if model.mapper is None:
            raise InputError(f"{model.path}: only camera models (pixel inputs) can be exported")
        index, weight = gather_table(model.mapper)
        self.shape = model.mapper.shape
        self.register_buffer("index", torch.from_numpy(index.ravel()))
        self.register_buffer("weight", torch.from_numpy(weight))
        norms = model.normalisation.channels
        self.register_buffer("asinh", torch.tensor([n.kind == "asinh" for n in norms]).view(1, -1, 1, 1))
        for name in ("mean", "std", "scale"):
            values = torch.tensor([float(getattr(n, name)) for n in norms], dtype=torch.float32)
            self.register_buffer(name, values.view(1, -1, 1, 1))
        valid = model.valid if model.valid is not None else np.ones(self.shape, bool)
        self.register_buffer("valid", torch.from_numpy(valid.astype(np.float32)))
        self.network = model.network

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        batch, channels = pixels.shape[0], pixels.shape[1]
        gathered = pixels[:, :, self.index].view(batch, channels, *self.weight.shape)
        grid = (gathered * self.weight).sum(-1).view(batch, channels, *self.shape)
        grid = torch.where(self.asinh, torch.asinh(grid / self.scale), grid)
        grid = (grid - self.mean) / self.std * self.valid
        mean, std = self.network.decode(*self.network.split(self.network(grid)))
        return (mean,) if std is None else (mean, std)


def camera_graph(model: Regressor) -> Graph:
    """Camera regressors: ``pixels`` ``(batch, C, n_pixels)`` (p.e. and peak times as trained) in,
    ``energy`` (and ``energy_std``) in TeV out."""
    module = CameraRegressor(model)
    example = torch.zeros(2, len(model.metadata["channels"]), model.mapper.n_pixels)
    outputs = ["energy", "energy_std"] if model.metadata.get("heteroscedastic") else ["energy"]
    return Graph(module, (example,), ["pixels"], outputs)


def field_graph(model: FieldModel) -> Graph:
    """Temperature-field models: ``anomalies`` ``(batch, time_window, lat, lon)`` on the training grid,
    K about the training climatology, NaN unobserved; out ``anomaly`` (and ``anomaly_std``), ``(batch, lat, lon)``."""
    lat, lon = model.preprocess_arrays["lat"], model.preprocess_arrays["lon"]
    window = model.metadata["field"]["time_window"]
    example = torch.randn(2, window, len(lat), len(lon), generator=torch.Generator().manual_seed(0))
    example[:, :, ::3] = torch.nan
    outputs = ["anomaly", "anomaly_std"] if getattr(model.network, "heteroscedastic", False) else ["anomaly"]
    return Graph(FieldFiller(model, wrap_columns(lon)), (example,), ["anomalies"], outputs)
