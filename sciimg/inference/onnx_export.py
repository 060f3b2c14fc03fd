"""Export a trained camera regressor to ONNX: pixels in, energy and uncertainty out, in one graph.

The graph holds everything :meth:`Regressor.predict` does after the channels are built:
the hexagon-to-grid mapping (as a gather table), the per-channel normalisation, the
network and the decoding to physical units. Its input is ``pixels`` ``(batch, C,
n_pixels)`` (for a charge-only model simply the calibrated images in p.e.); its outputs
are ``energy`` and, for heteroscedastic models, ``energy_std``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sciimg.errors import InputError
from sciimg.geometry.mappers import GridMapper
from sciimg.inference.load import Regressor, load_model
from sciimg.io.atomic import atomic_path
from sciimg.kinds import all_kinds, kind_of


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


def export_onnx(model_dir: str | os.PathLike, output: str | os.PathLike, opset: int = 18) -> Path:
    """Write the regressor in ``model_dir`` as an ONNX file (dynamic batch size), atomically.

    Raises:
        InputError: the model's kind has no ONNX export (only exportable kinds do).
    """
    model = load_model(model_dir)
    kind = kind_of(model.metadata)
    if not kind.exportable:
        exportable = [k.name for k in all_kinds() if k.exportable]
        raise InputError(f"{model_dir}: ONNX export is available for the kinds {exportable}, not {kind.name}")
    module = CameraRegressor(model).eval()
    channels = len(model.metadata["channels"])
    example = torch.zeros(2, channels, model.mapper.n_pixels)
    outputs = ["energy", "energy_std"] if model.metadata.get("heteroscedastic") else ["energy"]
    with atomic_path(output) as tmp, torch.no_grad():
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            opset_version=opset,
            input_names=["pixels"],
            output_names=outputs,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
        )
        program.save(str(tmp))
    return Path(output)
