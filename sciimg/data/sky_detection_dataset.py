"""Samples for source detection: the image in noise units and centre-point targets from the truth catalog.

The network sees the tile standardised by its sky level and MAD noise, then
:func:`~sciimg.data.sky_scale.asinh_stretch`-ed, so faint sources keep their linear
signal-to-noise and bright cores do not dominate; no gain is needed, so the model also
runs on images without GAIN/RDNOISE cards. Targets follow CenterNet (Zhou et al. 2019):

* ``heatmap``: per truth source at or above ``min_snr``, a Gaussian of ``heat_sigma``
  pixels around its centre (the maximum where they overlap), 1 at its centre pixel;
* ``centres``: the pixel nearest each such source, where ``offset`` (sub-pixel y, x) and
  ``log_flux`` (natural log of the flux in units of the tile's noise) are learnt;
* ``ignore``: pixels within ``2 heat_sigma`` of fainter truth sources, which count for
  nothing (neither a miss nor a false detection should be taught there).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from sciimg.data.sky_dataset import CropTurn, SkyDenoisingDataset
from sciimg.data.sky_scale import TileScale, asinh_stretch
from sciimg.io.store_readers import sources_by_tile

RENDER_RADIUS = 3  # the heat of a source is drawn on a (2 r + 1)^2 stamp


def render_targets(
    shape: tuple[int, int],
    y: np.ndarray,
    x: np.ndarray,
    log_flux: np.ndarray,
    faint_y: np.ndarray,
    faint_x: np.ndarray,
    heat_sigma: float,
) -> dict[str, np.ndarray]:
    """Heatmap, centres, offsets, log fluxes and the ignore mask of sources at ``(y, x)`` (pixels) in a frame."""
    heat = np.zeros(shape, np.float32)
    centres = np.zeros(shape, bool)
    offset = np.zeros((2, *shape), np.float32)
    flux = np.zeros(shape, np.float32)
    ignore = np.zeros(shape, bool)
    grid = np.arange(-RENDER_RADIUS, RENDER_RADIUS + 1)
    for yc, xc, value in sorted(zip(y, x, log_flux, strict=True), key=lambda s: s[2]):  # brighter ones win a pixel
        iy, ix = int(np.round(yc)), int(np.round(xc))
        ys, xs = iy + grid, ix + grid
        keep_y, keep_x = (ys >= 0) & (ys < shape[0]), (xs >= 0) & (xs < shape[1])
        if not keep_y.any() or not keep_x.any():
            continue
        stamp = np.exp(-((ys[:, None] - yc) ** 2 + (xs[None, :] - xc) ** 2) / (2 * heat_sigma**2))
        block = np.ix_(ys[keep_y], xs[keep_x])
        heat[block] = np.maximum(heat[block], stamp[np.ix_(keep_y, keep_x)])
        if 0 <= iy < shape[0] and 0 <= ix < shape[1]:
            centres[iy, ix] = True
            heat[iy, ix] = 1.0
            offset[:, iy, ix] = yc - iy, xc - ix
            flux[iy, ix] = value
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    for yc, xc in zip(faint_y, faint_x, strict=True):
        y0, y1 = max(int(yc - 3 * heat_sigma), 0), min(int(yc + 3 * heat_sigma) + 2, shape[0])
        x0, x1 = max(int(xc - 3 * heat_sigma), 0), min(int(xc + 3 * heat_sigma) + 2, shape[1])
        if y0 < y1 and x0 < x1:
            near = (yy[y0:y1] - yc) ** 2 + (xx[:, x0:x1] - xc) ** 2 <= (2 * heat_sigma) ** 2
            ignore[y0:y1, x0:x1] |= near
    ignore &= heat < 0.5  # a detectable source's own peak is never ignored
    return {"heatmap": heat, "centres": centres, "offset": offset, "log_flux": flux, "ignore": ignore}


class SkyDetectionDataset(SkyDenoisingDataset):
    """Items ``image``, ``mask`` (usable), ``heatmap``, ``centres``, ``offset`` (2 channels), ``log_flux``, ``ignore``.

    Args:
        path, train, seed, patch_size, crops_per_tile: see :class:`SkyDenoisingDataset`.
        min_snr: truth sources at or above this signal-to-noise are targets.
        heat_sigma: width (pixels) of a source's Gaussian in the heatmap.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        train: bool = False,
        seed: int = 0,
        patch_size: int = 64,
        crops_per_tile: int = 1,
        min_snr: float = 3.0,
        heat_sigma: float = 1.0,
    ) -> None:
        # "noise2void" only so the parent asks for no clean target; the targets here come from the catalog
        super().__init__(path, train, seed, "noise2void", patch_size, crops_per_tile=crops_per_tile)
        meta = self.store.meta()
        self.scales = [TileScale(float(b), float(s)) for b, s in zip(meta["background"], meta["sigma"], strict=True)]
        self.sources = sources_by_tile(self.store)
        self.min_snr, self.heat_sigma = min_snr, heat_sigma

    def normalised(self, index: int) -> dict[str, np.ndarray]:
        """Image (stretched noise units, unusable 0) and usable mask of one tile."""
        sample = self.store[index]
        usable = sample["mask"][0].astype(bool) & np.isfinite(sample["image"][0])
        image = asinh_stretch(self.scales[index].forward(sample["image"][0]))
        return {"image": np.where(usable, image, 0.0).astype(np.float32), "usable": usable}

    def targets(self, index: int, crop: CropTurn) -> dict[str, np.ndarray]:
        """Targets of a tile's truth sources in a crop's frame (:func:`render_targets`)."""
        sources = self.sources[index]
        y, x = crop.points(sources["y"].astype(float), sources["x"].astype(float))
        bright = sources["snr"] >= self.min_snr
        log_flux = np.log(np.maximum(sources["flux"] / self.scales[index].sigma, 1e-3))
        shape = crop.shape if crop.turns % 2 == 0 else crop.shape[::-1]
        return render_targets(shape, y[bright], x[bright], log_flux[bright], y[~bright], x[~bright], self.heat_sigma)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, arrays, _, crop = self.drawn(key)
        items = {"image": arrays["image"][None], "mask": arrays["usable"].astype(np.float32)[None]}
        for name, array in self.targets(index, crop).items():
            items[name] = array if array.ndim == 3 else array[None]
        out = {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in items.items()}
        return {**out, "index": torch.tensor(index)}
