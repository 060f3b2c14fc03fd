"""Observation masks for lat/lon fields (True = observed): stations, satellite swaths, boxes, real coverage.

Every generator takes the grid and a numpy Generator and returns a boolean ``(n_lat, n_lon)``
mask, so a mask is a function of its seed alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from sciimg.errors import InputError

MASK_KINDS = ("stations", "swaths", "boxes", "file")


def station_mask(
    lat: np.ndarray, lon: np.ndarray, coverage: float, rng: np.random.Generator, land: np.ndarray | None = None
) -> np.ndarray:
    """Cells holding a station, as an observing network has them.

    Stations are clustered (a smooth random density), three times likelier on land and
    rarer towards the poles; ``coverage`` is the fraction of cells observed.
    """
    la, lo = np.radians(lat)[:, None], np.radians(lon)[None, :]
    # each wave is a product of a latitude and a longitude factor: outer products, not whole-grid cosines
    waves = sum(
        np.cos(k * la + rng.uniform(0, 2 * np.pi)) * np.cos(k * lo + rng.uniform(0, 2 * np.pi)) for k in (1, 2, 3)
    )
    density = np.exp(1.2 * waves) * np.cos(la) ** 1.5
    if land is not None:
        density = density * (1.0 + 2.0 * land)
    weights = density.ravel()
    n_observed = round(float(np.clip(coverage, 0.0, 1.0)) * weights.size)
    # weighted sampling without replacement in O(n): the top-n of log(weight) + Gumbel noise
    keys = np.log(weights) - np.log(-np.log(rng.random(weights.size)))
    mask = np.zeros(weights.size, bool)
    if n_observed:
        mask[np.argpartition(-keys, n_observed - 1)[:n_observed]] = True
    return mask.reshape(density.shape)


def swath_mask(lat: np.ndarray, lon: np.ndarray, coverage: float, rng: np.random.Generator) -> np.ndarray:
    """Polar-orbit ground tracks (inclination 82 deg), added until ``coverage`` is reached."""
    la, lo = np.meshgrid(lat, np.radians(lon), indexing="ij")
    mask = np.zeros(la.shape, bool)
    width = rng.uniform(4.0, 10.0)
    for _ in range(200):
        if mask.mean() >= coverage:
            break
        track = 82.0 * np.sin(lo - rng.uniform(0, 2 * np.pi))
        mask |= np.abs(la - track) < width
    return mask


def box_mask(lat: np.ndarray, lon: np.ndarray, coverage: float, rng: np.random.Generator) -> np.ndarray:
    """Everything observed except random rectangular gaps, removed until ``coverage`` remains."""
    n_lat, n_lon = len(lat), len(lon)
    mask = np.ones((n_lat, n_lon), bool)
    for _ in range(500):
        if mask.mean() <= coverage:
            break
        h, w = rng.integers(2, max(3, n_lat // 3)), rng.integers(2, max(3, n_lon // 3))
        y, x = rng.integers(0, n_lat - h + 1), rng.integers(0, n_lon - w + 1)
        mask[y : y + h, x : x + w] = False
    return mask


def nearest_index(source: np.ndarray, target: np.ndarray, period: float | None = None) -> np.ndarray:
    """For each target coordinate, the index of the nearest source coordinate (``period``: wrap, e.g. 360)."""
    diff = target[:, None] - source[None, :]
    if period is not None:
        diff = (diff + period / 2) % period - period / 2
    return np.abs(diff).argmin(axis=1)


def coverage_from_file(path: str | os.PathLike, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Real coverage patterns ``(n_times, n_lat, n_lon)``: where a file's field is not NaN.

    The file's grid is mapped onto ``lat``/``lon`` by nearest cell centre, with longitudes
    compared modulo 360 (0..360 and -180..180 files mix) and either latitude order.
    """
    from sciimg.io.netcdf import open_field  # xarray and dask: only for coverage from a file

    field, info = open_field(path)
    observed = field.notnull().values
    if not observed.any():
        raise InputError(f"{path}: variable {info.variable!r} is NaN everywhere; it holds no coverage pattern")
    rows = nearest_index(field.lat.values.astype(float), np.asarray(lat, float))
    cols = nearest_index(field.lon.values.astype(float), np.asarray(lon, float), period=360.0)
    return observed[:, rows][:, :, cols]


def draw_masks(
    options: Mapping[str, Any],
    lat: np.ndarray,
    lon: np.ndarray,
    indices: np.ndarray,
    n_total: int,
    seed: int,
    land: np.ndarray | None = None,
    patterns: np.ndarray | None = None,
) -> np.ndarray:
    """The masks of samples ``indices`` of a series of ``n_total``; mask ``i`` depends only on ``(seed, i)``.

    Args:
        options: ``kind`` (one of :data:`MASK_KINDS`) and ``coverage: [first, last]``: the
            coverage goes linearly from ``coverage[0]`` for the first sample of the series
            to ``coverage[1]`` for the last (sparser back in time).
        patterns: for ``kind: file``, the real coverage patterns; sample ``i`` gets a random one.
    """
    kind = options["kind"]
    first, last = options["coverage"]
    masks = np.empty((len(indices), len(lat), len(lon)), bool)
    for k, i in enumerate(indices):
        rng = np.random.default_rng([seed, int(i)])
        coverage = first + (last - first) * float(i) / max(n_total - 1, 1)
        if kind == "stations":
            masks[k] = station_mask(lat, lon, coverage, rng, land)
        elif kind == "swaths":
            masks[k] = swath_mask(lat, lon, coverage, rng)
        elif kind == "boxes":
            masks[k] = box_mask(lat, lon, coverage, rng)
        elif kind == "file":
            masks[k] = patterns[rng.integers(len(patterns))]
        else:
            raise ValueError(f"mask kind must be one of {list(MASK_KINDS)}, got {kind!r}")
    return masks
