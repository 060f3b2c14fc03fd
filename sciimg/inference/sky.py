"""Sky-image models and methods on stores and FITS files; outputs are FITS with the input's headers.

On a store (the test split), every method writes one multi-extension FITS file of tiles
(:mod:`sciimg.io.fits_tiles`), each with its source image's header and WCS. On a user's
FITS file, a model writes a FITS file of the same layout and headers, row block by row block.

A model on the Anscombe scale takes the detector's gain and read noise from the user, else
from the header (:func:`~sciimg.data.sky_scale.resolve_detector_noise`); an image with
neither goes onto the standardised scale (sky level and MAD noise from the image), which
treats its noise as constant. The log and a HISTORY card of the output say which was used.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sciimg.data.sky_dataset import SkyDenoisingDataset
from sciimg.data.sky_scale import (
    TileScale,
    overscan_pedestal,
    resolve_detector_noise,
    sampled_noise_level,
    sampled_pixel_noise,
)
from sciimg.errors import InputError
from sciimg.inference.export import WEIGHTS
from sciimg.inference.load import TrainedModel
from sciimg.inference.runtime import WindowRunner
from sciimg.inference.sliding_window import Sink, sliding_window
from sciimg.io.fits import FitsImage, FitsImageWriter, Region
from sciimg.io.fits_tiles import write_tile_images
from sciimg.io.store import SampleStore
from sciimg.provenance import provenance

log = logging.getLogger(__name__)

WINDOW = 256
OVERLAP = 0.25


class DenoisingWindows(nn.Module):
    """A denoiser's pass: windows ``(B, 2, y, x)`` (image on the network's scale, usable mask) -> ``(B, 1, y, x)``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.network.predict({"image": windows[:, :1], "mask": windows[:, 1:]})["prediction"]


class SkyModel(TrainedModel):
    """A trained sky denoiser: the training scale, sliding-window inference, ADU out.

    Subclasses (:class:`~sciimg.inference.sky_clean.CleaningModel`) change what a window
    yields (:attr:`out_channels`, :meth:`window_module`) and how blended rows become
    output rows and masks (:meth:`finish_rows`).
    """

    out_channels = 1

    @property
    def windows_per_pass(self) -> int:
        """Windows the network sees at once: 4 on a GPU; on CPU one, 1.4x faster per pixel (2 cores)."""
        return 4 if self.device.type == "cuda" else 1

    def slide(
        self,
        read: Callable[[tuple[slice, ...]], np.ndarray],
        shape: Sequence[int],
        predict: Callable[[torch.Tensor], torch.Tensor],
        out_channels: int = 1,
        sink: Sink | None = None,
    ) -> np.ndarray | None:
        """:func:`sliding_window` with the sky models' window, overlap and windows per pass."""
        return sliding_window(read, shape, predict, WINDOW, OVERLAP, self.windows_per_pass, out_channels, sink)

    def window_module(self) -> nn.Module:
        """What one pass does: windows ``(B, 2, y, x)`` (image on the network's scale, usable mask) in,
        ``(B, out_channels, y, x)`` out."""
        return DenoisingWindows(self.network)

    @cached_property
    def windows(self) -> WindowRunner:
        """:meth:`window_module` in the model's runtime (:mod:`sciimg.inference.runtime`)."""
        example = torch.cat(
            [torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)), torch.ones(1, 1, 32, 32)], 1
        )
        return WindowRunner(self.window_module(), example, self.runtime, self.device, graph=self.window_graph)

    def _predict_windows(self, batch: torch.Tensor) -> torch.Tensor:
        """Windows ``(B, 2, y, x)`` -> outputs ``(B, out_channels, y, x)``, by :attr:`windows`."""
        return self.windows(batch)

    def predict_normalised(self, image: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """Output ``(out_channels, Y, X)`` of an image on the network's scale (unusable pixels 0), by sliding window."""
        stacked = np.stack([np.where(usable, image, 0.0), usable]).astype(np.float32)
        read = lambda region: stacked[(slice(None), *region)]  # noqa: E731
        return self.slide(read, image.shape, self._predict_windows, self.out_channels)

    def predict_store(self, store_path: str | os.PathLike) -> dict[str, np.ndarray]:
        """Per output layer (``TILE``: denoised ADU), the tiles of every sample of a store."""
        dataset = SkyDenoisingDataset(store_path, training_target="noise2void")  # no truth needed to predict
        outputs = []
        for index in range(len(dataset)):
            arrays = dataset.normalised(index)
            outputs.append(dataset.scales[index].inverse(self.predict_normalised(arrays["image"], arrays["usable"])[0]))
        return {"TILE": np.stack(outputs).astype(np.float32)}

    def history(self) -> str:
        """The HISTORY line of an output file."""
        return f"denoised by {self.metadata.get('backbone')} ({self.path.name})"

    def finish_rows(
        self, block: np.ndarray, values: np.ndarray, usable: np.ndarray, scale: TileScale
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Output rows (ADU) and mask rows by extension name, from a block of blended window outputs.

        Args:
            block: ``(out_channels, rows, X)`` on the network's scale.
            values: the input rows (ADU); usable: their usable pixels.
        """
        denoised = scale.inverse(block[0])
        denoised[~usable] = np.nan
        return denoised, {"BADPIX": ~usable}

    def image_scale(
        self, source: FitsImage, gain: float | None = None, read_noise: float | None = None
    ) -> tuple[TileScale, str]:
        """The map of a whole image onto the network's scale (sky and noise from its rows), and how it was chosen.

        Args:
            gain, read_noise: the detector's, in electrons/ADU and electrons (else the header's).
        """
        background, sigma = sampled_noise_level(source)
        noise = resolve_detector_noise(source.header, gain, read_noise, str(source.path))
        standardised = f"standardised scale: sky {background:.6g} and MAD noise {sigma:.4g} from the image"
        if self.metadata["sky"]["pixel_scale"] != "anscombe":
            return TileScale(background, sigma), standardised
        if not noise.known:
            return self._constant_noise_scale(source, background, "no gain or read noise given or in the header")
        pedestal, bias_note = overscan_pedestal(source)
        if (background - pedestal - 3 * sigma) * noise.gain + 3 / 8 + noise.read_noise_e**2 < 0:
            electrons = (background - pedestal) * noise.gain
            why = f"a sky of {electrons:.4g} e- is too near or below zero for Poisson noise: sky- or bias-subtracted?"
            return self._constant_noise_scale(source, background, why)
        note = f"Anscombe scale: gain {noise.gain:.4g} e-/ADU, read noise {noise.read_noise_e:.4g} e- ({noise.origin})"
        note += f", {bias_note}" if bias_note else ""
        return TileScale(background, sigma, noise.gain, noise.read_noise_e, pedestal), note

    def _constant_noise_scale(self, source: FitsImage, background: float, why: str) -> tuple[TileScale, str]:
        """The standardised scale for an Anscombe-scale model: noise taken as constant, at the image's pixel noise."""
        pixel_noise = sampled_pixel_noise(source)
        note = (
            f"standardised scale: sky {background:.6g} and wavelet pixel noise {pixel_noise:.4g} from the image "
            f"({why}: noise taken as constant)"
        )
        log.warning("%s: this Anscombe-scale model runs on the %s", source.path, note)
        return TileScale(background, pixel_noise), note

    def network_input(self, values: np.ndarray, scale: TileScale) -> np.ndarray:
        """Pixels (ADU) on the network's scale."""
        return scale.forward(values)

    def window_reader(self, source: FitsImage, scale: TileScale) -> Callable[[tuple[slice, slice]], np.ndarray]:
        """Reads a region of the file as network input ``(2, y, x)``: the scaled image (unusable 0) and usable mask."""

        def read(region: tuple[slice, slice]) -> np.ndarray:
            box = Region(region[0].start, region[0].stop, region[1].start, region[1].stop)
            values = source.read(box)
            usable = ~source.bad_pixels(box, values)
            return np.stack([np.where(usable, self.network_input(values, scale), 0.0), usable]).astype(np.float32)

        return read

    def predict_file(
        self,
        path: str | os.PathLike,
        output: str | os.PathLike,
        gain: float | None = None,
        read_noise: float | None = None,
    ) -> Path:
        """Run on a FITS image of any size; the output keeps its headers and WCS, masks follow as extensions.

        The image is read window by window from the memory-mapped file and the output is
        written row block by row block; masks wait in a memory-mapped scratch file until
        the image is written, so memory does not grow with the image height.

        Args:
            gain, read_noise: the detector's, in electrons/ADU and electrons (see :meth:`image_scale`).
        """
        with FitsImage(path) as source, tempfile.TemporaryDirectory() as scratch:
            scale, note = self.image_scale(source, gain, read_noise)
            log.info("%s: %s", path, note)
            masks: dict[str, np.memmap] = {}

            def write(first: int, block: np.ndarray) -> None:
                box = Region(first, first + block.shape[1], 0, source.shape[1])
                values = source.read(box)
                rows, row_masks = self.finish_rows(block, values, ~source.bad_pixels(box, values), scale)
                writer.write(rows)
                for name, mask in row_masks.items():
                    if name not in masks:
                        masks[name] = np.memmap(Path(scratch) / name, np.uint8, "w+", shape=source.shape)
                    masks[name][box.slices] = mask

            prov = provenance(inputs=[path, self.path / WEIGHTS])
            with FitsImageWriter(output, source, [self.history(), note], prov) as writer:
                self.slide(
                    self.window_reader(source, scale), source.shape, self._predict_windows, self.out_channels, write
                )
                for name, mask in masks.items():
                    rows = range(0, source.shape[0], WINDOW)
                    writer.write_mask(name, (mask[first : first + WINDOW] for first in rows))
        return Path(output)

    def predict_store_file(self, store_path: str | os.PathLike, output: str | os.PathLike) -> Path:
        """The model on every tile of a store, written as per-tile FITS images (:mod:`sciimg.io.fits_tiles`)."""
        layers = self.predict_store(store_path)
        history = f"{self.metadata['task']} by {self.metadata.get('backbone')} ({self.path.name})"
        return write_tile_images(store_path, layers, output, history, [store_path, self.path / WEIGHTS])


def predict_sky(
    model: SkyModel,
    inputs: list[Path],
    output: str | os.PathLike,
    gain: float | None = None,
    read_noise: float | None = None,
) -> Path:
    """Run a sky model on one sample store (tile file) or one FITS image (images or catalogs, as the task gives).

    Args:
        gain, read_noise: the detector's, in electrons/ADU and electrons, for a FITS image
            whose header lacks them (or gives them wrong).
    """
    if len(inputs) != 1:
        raise InputError(f"sky models take one input file at a time, got {len(inputs)}")
    path = inputs[0]
    if SampleStore.is_store(path):
        if gain is not None or read_noise is not None:
            raise InputError(
                f"{path}: a sample store is already on the network's scale; gain and read noise apply to FITS"
            )
        return model.predict_store_file(path, output)
    return model.predict_file(path, output, gain, read_noise)
