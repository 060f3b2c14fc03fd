"""Source catalogs from a trained :class:`~sciimg.predictors.detection.DetectionPredictor`, on stores and FITS images.

The network's four channels (heat logit, offsets, log flux) are blended window by window
like any sky model's output; sources are the local maxima (3 x 3) of the heat above the
threshold calibrated on the validation split (:func:`calibrate_detection_thresholds`,
kept in the model card): the probability at which ``target_purity`` of the detections
are real (a second, at :data:`~sciimg.scoring.LOOSER_PURITY`, is the catalog's ``LOOSECUT``).
Peaks are found on blocks of rows as the sliding window finishes them (:class:`RowPeaks`),
so a 16k x 16k image never sits in memory.

Catalog columns: ``x``, ``y`` (0-based pixels, sub-pixel from the offsets), ``flux``
(image units: the predicted flux in noise units times the image's noise), ``score``
(probability) and, with a celestial WCS, ``ra``, ``dec`` (:mod:`sciimg.io.catalogs`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import torch
from astropy.table import Table, vstack
from scipy import ndimage
from torch import nn

from sciimg.data.sky_detection_dataset import SkyDetectionDataset
from sciimg.data.sky_scale import TileScale, asinh_stretch, sampled_noise_level
from sciimg.inference.export import WEIGHTS
from sciimg.inference.sky import SkyModel
from sciimg.io.catalogs import add_sky_positions, write_catalog
from sciimg.io.fits import FitsImage, Region
from sciimg.io.store import SampleStore
from sciimg.predictors.detection import HEAT, LOG_FLUX, OFFSET_X, OFFSET_Y, DetectionPredictor
from sciimg.provenance import provenance
from sciimg.scoring import LOOSER_PURITY, scored_candidates, threshold_for_purity

log = logging.getLogger(__name__)

CANDIDATE_FLOOR = 0.1  # calibration and test-split catalogs keep every peak above this probability
COLUMNS = ("x", "y", "flux", "score")


def logit(probability: float) -> float:
    p = min(max(probability, 1e-7), 1 - 1e-7)
    return float(np.log(p / (1 - p)))


def peak_rows(block: np.ndarray, usable: np.ndarray, threshold: float, context: tuple[bool, bool]) -> np.ndarray:
    """Row and column of the local maxima of ``block[HEAT]`` above ``threshold`` (a logit) at usable pixels.

    ``context`` says whether the first and last rows of ``block`` are only context (rows
    above and below those examined), as when blocks of an image come one after another.
    """
    heat = np.where(usable, block[HEAT], -np.inf)
    local = ndimage.maximum_filter(heat, size=3, mode="constant", cval=-np.inf)
    peaks = (heat == local) & (heat > threshold)
    if context[0]:
        peaks[0] = False
    if context[1]:
        peaks[-1] = False
    return np.argwhere(peaks)


def sources_at(block: np.ndarray, peaks: np.ndarray, first_row: int, sigma: float) -> dict[str, np.ndarray]:
    """Catalog columns of the peaks ``(row, column)`` of a block whose first row is image row ``first_row``."""
    r, c = peaks[:, 0], peaks[:, 1]
    return {
        "x": c + block[OFFSET_X, r, c].astype(float),
        "y": first_row + r + block[OFFSET_Y, r, c].astype(float),
        "flux": np.exp(block[LOG_FLUX, r, c].astype(float)) * sigma,
        "score": 1.0 / (1.0 + np.exp(-block[HEAT, r, c].astype(float))),
    }


def flux_unit(bunit: str | None) -> u.UnitBase | None:
    """The image's BUNIT as an astropy unit (``ADU`` read as ``adu``); None when absent or unknown."""
    for text in (bunit, (bunit or "").lower()) if bunit else ():
        unit = u.Unit(text, parse_strict="silent")
        if not isinstance(unit, u.UnrecognizedUnit):
            return unit
    return None


class RowPeaks:
    """Peaks of blocks of rows handed over in order; each block's last row waits for the next block's first."""

    def __init__(self, threshold: float, sigma: float) -> None:
        self.threshold, self.sigma = threshold, sigma
        self.above: tuple[np.ndarray, np.ndarray] | None = None  # the last examined row (context)
        self.pending: tuple[np.ndarray, np.ndarray] | None = None  # the row not yet examined, and its first index
        self.first = 0
        self.found: list[dict[str, np.ndarray]] = []

    def add(self, block: np.ndarray, usable: np.ndarray, last: bool = False) -> None:
        """The next block ``(4, rows, X)`` and its usable pixels; ``last`` when no block follows."""
        parts = [p for p in (self.above, self.pending) if p is not None] + [(block, usable)]
        rows = np.concatenate([p[0] for p in parts], axis=1)
        good = np.concatenate([p[1] for p in parts], axis=0)
        has_above = self.above is not None
        start = self.first - (1 if has_above else 0)
        peaks = peak_rows(rows, good, self.threshold, (has_above, not last))
        self.found.append(sources_at(rows, peaks, start, self.sigma))
        self.above = (rows[:, -2:-1], good[-2:-1]) if rows.shape[1] > 1 and not last else None
        self.pending = (rows[:, -1:], good[-1:])
        self.first = start + rows.shape[1] - 1

    def table(self) -> Table:
        columns = {name: np.concatenate([f[name] for f in self.found]) if self.found else [] for name in COLUMNS}
        return Table(columns)


def tile_sources_found(
    network: DetectionPredictor, image: np.ndarray, usable: np.ndarray, threshold: float, sigma: float
):
    """Catalog columns of one tile by a single forward pass (tiles fit in memory)."""
    with torch.no_grad():
        x = torch.from_numpy(np.where(usable, image, 0.0)[None, None].astype(np.float32))
        block = network(x)[0].numpy()
    return sources_at(block, peak_rows(block, usable, threshold, (False, False)), 0, sigma)


def calibrate_detection_thresholds(
    network: DetectionPredictor, val_store: str | os.PathLike, purities: Sequence[float]
) -> list[dict[str, Any]]:
    """Per target purity, the probability above which that share of the validation split's peaks match a
    truth source, with the purity and number of detections it keeps there."""
    dataset = SkyDetectionDataset(val_store)
    network.eval()
    found = (
        tile_sources_found(network, arrays["image"], arrays["usable"], logit(CANDIDATE_FLOOR), 1.0)
        for arrays in map(dataset.normalised, range(len(dataset)))
    )
    scores, real = scored_candidates(found, dataset.sources)
    cuts = []
    for purity in purities:
        threshold = max(threshold_for_purity(scores, real, purity), CANDIDATE_FLOOR)
        kept = scores >= threshold
        cuts.append(
            {
                "threshold": threshold,
                "target_purity": purity,
                "val_purity": float(real[kept].mean()) if kept.any() else float("nan"),
                "val_detections": int(kept.sum()),
            }
        )
    return cuts


def calibrate_card(
    network: DetectionPredictor, val_store: str | os.PathLike, spec: Mapping[str, Any]
) -> dict[str, Any]:
    """The model card's source thresholds on validation: at the experiment's target purity, and at
    :data:`~sciimg.scoring.LOOSER_PURITY` (the evaluation's second operating point)."""
    target, looser = calibrate_detection_thresholds(network, val_store, [spec["data"]["target_purity"], LOOSER_PURITY])
    return {"source_threshold": target, "source_threshold_looser": looser}


class DetectionWindows(nn.Module):
    """A detector's pass: windows ``(B, 2, y, x)`` (stretched image, usable mask) -> the four channels."""

    def __init__(self, network: DetectionPredictor) -> None:
        super().__init__()
        self.network = network

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.network(windows[:, :1] * windows[:, 1:])


class DetectionModel(SkyModel):
    """A trained source detector: FITS image or store in, catalog out."""

    out_channels = 4

    @property
    def threshold(self) -> float:
        return float(self.metadata["source_threshold"]["threshold"])

    @property
    def looser_threshold(self) -> float | None:
        """The cut calibrated on validation to :data:`~sciimg.scoring.LOOSER_PURITY` (None in older cards)."""
        looser = self.metadata.get("source_threshold_looser")
        return None if looser is None else float(looser["threshold"])

    def image_scale(
        self, source: FitsImage, gain: float | None = None, read_noise: float | None = None
    ) -> tuple[TileScale, str]:
        """Sky and noise of the image; no gain needed (the detector works in noise units)."""
        background, sigma = sampled_noise_level(source)
        return TileScale(
            background, sigma
        ), f"noise units: sky {background:.6g} and MAD noise {sigma:.4g} from the image"

    def network_input(self, values: np.ndarray, scale: TileScale) -> np.ndarray:
        return asinh_stretch(scale.forward(values))

    def window_module(self) -> nn.Module:
        return DetectionWindows(self.network)

    def history(self) -> str:
        return f"sources found by {self.metadata.get('backbone')} ({self.path.name})"

    def catalog_meta(self, table: Table) -> Table:
        table["x"].unit = table["y"].unit = "pix"
        table.meta.update({"THRESH": self.threshold, "MODEL": self.path.name})
        if self.looser_threshold is not None:
            table.meta["LOOSECUT"] = self.looser_threshold
        return table

    def predict_file(
        self,
        path: str | os.PathLike,
        output: str | os.PathLike,
        gain: float | None = None,
        read_noise: float | None = None,
    ) -> Path:
        """Catalog of the sources in a FITS image of any size (``.fits`` or ``.ecsv`` by ``output``'s suffix).

        The detector works in noise units: ``gain`` and ``read_noise`` are not needed.
        """
        with FitsImage(path) as source:
            scale, note = self.image_scale(source, gain, read_noise)
            log.info("%s: %s", path, note)
            peaks = RowPeaks(logit(self.threshold), scale.sigma)
            last_row = source.shape[0]

            def collect(first: int, block: np.ndarray) -> None:
                box = Region(first, first + block.shape[1], 0, source.shape[1])
                usable = ~source.bad_pixels(box, source.read(box))
                peaks.add(block, usable, last=box.y1 >= last_row)

            self.slide(
                self.window_reader(source, scale), source.shape, self._predict_windows, self.out_channels, collect
            )
            table = add_sky_positions(self.catalog_meta(peaks.table()), source.header)
            table["flux"].unit = flux_unit(source.header.get("BUNIT"))
            table.meta["BUNIT"] = source.header.get("BUNIT", "")
        prov = provenance(inputs=[path, self.path / WEIGHTS])
        return write_catalog(table, output, prov, self.history())

    def predict_store(self, store_path: str | os.PathLike) -> dict[str, Any]:  # type: ignore[override]
        raise TypeError(f"{self.path}: a detector gives catalogs, not images: use store_catalog")

    def store_catalog(self, store_path: str | os.PathLike) -> Table:
        """Candidates (probability above :data:`CANDIDATE_FLOOR`) of every tile of a store, positions in tile
        pixels, with the tile's row in ``tile``; the catalog's ``THRESH`` is the calibrated cut."""
        dataset = SkyDetectionDataset(store_path)
        tables = []
        for index in range(len(dataset)):
            arrays = dataset.normalised(index)
            block = self.predict_normalised(arrays["image"], arrays["usable"])
            peaks = peak_rows(block, arrays["usable"], logit(CANDIDATE_FLOOR), (False, False))
            table = Table(sources_at(block, peaks, 0, dataset.scales[index].sigma))
            table.add_column(np.full(len(table), index), index=0, name="tile")
            tables.append(table)
        return self.catalog_meta(vstack(tables) if tables else Table(names=("tile", *COLUMNS)))

    def predict_store_file(self, store_path: str | os.PathLike, output: str | os.PathLike) -> Path:
        table = self.store_catalog(store_path)
        table["flux"].unit = SampleStore(store_path).attrs["units"]["image"]
        prov = provenance(inputs=[store_path, self.path / WEIGHTS])
        return write_catalog(table, output, prov, self.history())
