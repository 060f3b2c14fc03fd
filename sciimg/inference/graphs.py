"""Trained models as plain graphs for export: physical inputs in, physical outputs out.

Every kind names a function here (:attr:`sciimg.kinds.Kind.graph`)
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
from sciimg.data.sky_scale import STRETCH_SOFTENING
from sciimg.errors import InputError
from sciimg.geometry.mappers import GridMapper
from sciimg.inference.climate import FieldFiller, FieldModel
from sciimg.inference.detector3d import VolumeModel
from sciimg.inference.detector3d_energy import VolumeRegressor
from sciimg.inference.detector3d_keypoints import KeypointModel
from sciimg.inference.load import Regressor
from sciimg.inference.sky import SkyModel
from sciimg.inference.sky_clean import CleaningModel
from sciimg.inference.sky_detect import DetectionModel, logit
from sciimg.predictors.detection import HEAT, LOG_FLUX, OFFSET_X, OFFSET_Y


@dataclass(frozen=True)
class Graph:
    """What ``sciimg export`` writes: ``module(*example)`` gives the outputs; axis 0 of every input is the batch."""

    module: nn.Module
    example: tuple[torch.Tensor, ...]
    inputs: list[str]
    outputs: list[str]
    spatial: bool = False  # the first input's axes from 2 on (image or volume sides) are dynamic too

    def dynamic_shapes(self) -> tuple[dict[int, torch.export.Dim], ...]:
        """The dynamic axes of each input, for :func:`torch.onnx.export`."""
        batch = torch.export.Dim("batch", min=1)
        shapes = [{0: batch} for _ in self.example]
        if self.spatial:
            sides = range(2, self.example[0].dim())
            shapes[0].update({axis: torch.export.Dim(f"side{axis - 1}", min=16, max=16384) for axis in sides})
        return tuple(shapes)


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


SCALE_COLUMNS = ("background", "sigma", "gain", "read_noise_e", "pedestal")


class SkyScale(nn.Module):
    """:class:`~sciimg.data.sky_scale.TileScale` in torch, one row of :data:`SCALE_COLUMNS` per image.

    A row whose gain is NaN is on the standardised scale ``(adu - background) / sigma``; the
    others on the generalised Anscombe scale of the electrons above the pedestal.
    """

    @staticmethod
    def _columns(scale: torch.Tensor) -> list[torch.Tensor]:
        return [scale[:, i].view(-1, 1, 1, 1) for i in range(len(SCALE_COLUMNS))]

    @staticmethod
    def _anscombe(electrons: torch.Tensor, read_noise: torch.Tensor) -> torch.Tensor:
        return 2.0 * torch.sqrt(torch.clamp(electrons + 3.0 / 8.0 + read_noise**2, min=0.0))

    def forward(self, adu: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        background, sigma, gain, read_noise, pedestal = self._columns(scale)
        stabilised = torch.isfinite(gain)
        gain, read_noise = torch.nan_to_num(gain, nan=1.0), torch.nan_to_num(read_noise, nan=0.0)
        zero = self._anscombe((background - pedestal) * gain, read_noise)
        anscombe = self._anscombe((adu - pedestal) * gain, read_noise) - zero
        return torch.where(stabilised, anscombe, (adu - background) / sigma)

    def inverse(self, values: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        background, sigma, gain, read_noise, pedestal = self._columns(scale)
        stabilised = torch.isfinite(gain)
        gain, read_noise = torch.nan_to_num(gain, nan=1.0), torch.nan_to_num(read_noise, nan=0.0)
        zero = self._anscombe((background - pedestal) * gain, read_noise)
        electrons = ((values + zero) / 2.0) ** 2 - 3.0 / 8.0 - read_noise**2
        return torch.where(stabilised, electrons / gain + pedestal, values * sigma + background)


def sky_windows(image: torch.Tensor, scale: torch.Tensor, to_scale: SkyScale) -> tuple[torch.Tensor, torch.Tensor]:
    """ADU (NaN unusable) -> the windows a sky model's pass takes (scaled image, usable mask), and the usable mask."""
    usable = torch.isfinite(image)
    values = torch.where(usable, to_scale(image, scale), 0.0)
    return torch.cat([values, usable.to(values.dtype)], dim=1), usable


class SkyDenoiser(nn.Module):
    """ADU (NaN unusable) and the image's scale row -> the denoised image in ADU (NaN where unusable)."""

    def __init__(self, model: SkyModel) -> None:
        super().__init__()
        self.scale, self.windows = SkyScale(), model.window_module()

    def forward(self, image: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        windows, usable = sky_windows(image, scale, self.scale)
        return torch.where(usable, self.scale.inverse(self.windows(windows), scale), torch.nan)


class SkyCleaner(nn.Module):
    """ADU (NaN unusable) and the scale row -> artefact probability, replaced-pixel mask and cleaned ADU.

    Pixels are replaced where the probability passes the card's calibrated threshold (grown by
    the card's dilation) and where the input was unusable; the others keep their input value.
    """

    def __init__(self, model: CleaningModel) -> None:
        super().__init__()
        self.scale, self.windows = SkyScale(), model.window_module()

    def forward(self, image: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, ...]:
        windows, _ = sky_windows(image, scale, self.scale)
        probability, replaced, cleaned = self.windows(windows).split(1, dim=1)
        replaced = replaced > 0.5
        return probability, replaced, torch.where(replaced, self.scale.inverse(cleaned, scale), image)


class SkyDetector(nn.Module):
    """ADU (NaN unusable) and (background, sigma) per image -> the source map.

    Outputs per pixel: ``score`` (probability that a source is centred there), ``peak``
    (a local 3 x 3 maximum at or above the card's calibrated threshold), the sub-pixel
    offsets ``dx``, ``dy`` and the ``flux`` in the image's units.
    """

    def __init__(self, model: DetectionModel) -> None:
        super().__init__()
        self.windows = model.window_module()
        self.threshold_logit = logit(model.threshold)

    def forward(self, image: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        usable = torch.isfinite(image)
        background, sigma = noise[:, 0].view(-1, 1, 1, 1), noise[:, 1].view(-1, 1, 1, 1)
        z = (image - background) / sigma
        stretched = torch.where(usable, STRETCH_SOFTENING * torch.asinh(z / STRETCH_SOFTENING), 0.0)
        out = self.windows(torch.cat([stretched, usable.to(stretched.dtype)], dim=1))
        heat = torch.where(usable, out[:, HEAT : HEAT + 1], -torch.inf)
        local = nn.functional.max_pool2d(heat, 3, stride=1, padding=1)
        peak = (heat == local) & (heat > self.threshold_logit)
        flux = torch.exp(out[:, LOG_FLUX : LOG_FLUX + 1]) * sigma
        return torch.sigmoid(heat), peak, out[:, OFFSET_X : OFFSET_X + 1], out[:, OFFSET_Y : OFFSET_Y + 1], flux


def sky_example(model: SkyModel, columns: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A small image with a bad column, and its scale row(s)."""
    generator = torch.Generator().manual_seed(0)
    image = 1000.0 + 10.0 * torch.randn(2, 1, 64, 48, generator=generator)
    image[:, :, :, 5] = torch.nan
    scale = torch.tensor([[1000.0, 10.0, 2.0, 5.0, 200.0], [1000.0, 10.0, torch.nan, torch.nan, 0.0]])
    return image, scale[:, :columns]


def sky_graph(model: SkyModel) -> Graph:
    """Sky models: ``image`` ``(batch, 1, y, x)`` in ADU, NaN where unusable, and ``scale`` ``(batch, 5)``
    (:data:`SCALE_COLUMNS`, as :meth:`SkyModel.image_scale` finds them; gain NaN for the standardised scale).

    Denoisers give ``denoised``; cleaners ``probability``, ``replaced`` and ``cleaned``; detectors take
    ``noise`` ``(batch, 2)`` (background, sigma) and give ``score``, ``peak``, ``dx``, ``dy``, ``flux``.
    Any window of 16 or more pixels a side; large images go window by window, as ``sciimg predict`` does.
    """
    if isinstance(model, DetectionModel):
        example = sky_example(model, 2)
        return Graph(SkyDetector(model), example, ["image", "noise"], ["score", "peak", "dx", "dy", "flux"], True)
    example = sky_example(model, len(SCALE_COLUMNS))
    if isinstance(model, CleaningModel):
        return Graph(SkyCleaner(model), example, ["image", "scale"], ["probability", "replaced", "cleaned"], True)
    return Graph(SkyDenoiser(model), example, ["image", "scale"], ["denoised"], True)


def volume_input(charge: torch.Tensor, scale: float) -> torch.Tensor:
    """:func:`sciimg.data.detector3d_dataset.volume_input` in torch: ``log1p(charge / scale)``, negatives 0."""
    return torch.log1p(torch.clamp(charge, min=0.0) / scale)


class VoxelScorer(nn.Module):
    """Charges ``(batch, 1, z, y, x)`` in the card's units -> per-voxel class probabilities (or keypoint heat)."""

    def __init__(self, model: VolumeModel) -> None:
        super().__init__()
        self.windows, self.scale = model.window_module(), model.scale

    def forward(self, charge: torch.Tensor) -> torch.Tensor:
        return self.windows(volume_input(charge, self.scale))


class VolumeEnergy(nn.Module):
    """Whole events ``(batch, z, y, x)`` of charges on the model's grid -> the regressed quantity (and its std)."""

    def __init__(self, model: VolumeRegressor) -> None:
        super().__init__()
        self.network, self.scale = model.network, model.scale

    def forward(self, charge: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.network(volume_input(charge[:, None], self.scale))
        mean, std = self.network.decode(*self.network.split(out))
        return (mean,) if std is None else (mean, std)


def volume_graph(model: VolumeModel | VolumeRegressor) -> Graph:
    """Detector volumes, charges in the card's units (``units.image``), empty voxels 0.

    Voxel models take ``charge`` windows ``(batch, 1, z, y, x)`` of any side from 16 voxels
    (large grids go window by window, as ``sciimg predict`` does) and give ``probabilities``
    ``(batch, n_classes, z, y, x)`` (keypoint models: ``heat``, ``(batch, 1, z, y, x)``).
    Energy regressors take whole events ``(batch, Z, Y, X)`` on the model's grid and give
    ``energy`` (and ``energy_std``).
    """
    generator = torch.Generator().manual_seed(0)
    if isinstance(model, VolumeRegressor):
        shape = (2, *model.grid.shape)
        example = torch.rand(shape, generator=generator) * (torch.rand(shape, generator=generator) > 0.95)
        outputs = ["energy", "energy_std"] if model.metadata.get("heteroscedastic") else ["energy"]
        return Graph(VolumeEnergy(model), (example * model.scale,), ["charge"], outputs)
    shape = (2, 1, 32, 32, 32)
    example = torch.rand(shape, generator=generator) * (torch.rand(shape, generator=generator) > 0.95)
    outputs = ["heat"] if isinstance(model, KeypointModel) else ["probabilities"]
    return Graph(VoxelScorer(model), (example * model.scale,), ["charge"], outputs, True)
