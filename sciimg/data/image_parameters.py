"""Classical image parameters with ctapipe: tail-cuts cleaning, Hillas, leakage, concentration, timing.

Computed once at ingest for every event: quality cuts (intensity, leakage), the Hillas +
random forest baseline and the evaluation by intensity and leakage all use these columns,
so both methods are always compared on the same events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from ctapipe.image import (
    concentration_parameters,
    hillas_parameters,
    leakage_parameters,
    number_of_islands,
    tailcuts_clean,
    timing_parameters,
)
from ctapipe.image.hillas import HillasParameterizationError
from ctapipe.instrument import CameraGeometry

HILLAS = ("intensity", "x", "y", "r", "phi", "length", "width", "psi", "skewness", "kurtosis")
LEAKAGE = ("pixels_width_1", "pixels_width_2", "intensity_width_1", "intensity_width_2")
CONCENTRATION = ("cog", "core", "pixel")
TIMING = ("slope", "intercept", "deviation")
COLUMNS = (
    *(f"hillas_{k}" for k in HILLAS),
    *(f"leakage_{k}" for k in LEAKAGE),
    *(f"concentration_{k}" for k in CONCENTRATION),
    *(f"timing_{k}" for k in TIMING),
    "morphology_n_pixels",
    "morphology_n_islands",
)
UNITS = {
    "hillas_x": "m",
    "hillas_y": "m",
    "hillas_r": "m",
    "hillas_length": "m",
    "hillas_width": "m",
    "hillas_phi": "deg",
    "hillas_psi": "deg",
    "hillas_intensity": "p.e.",
    "timing_slope": "1 / m",  # peak times enter in ns without a unit, so this is ns per metre
}


@dataclass(frozen=True)
class Cleaning:
    """Tail-cuts thresholds; the defaults are lstchain's (8 / 4 p.e., 2 picture neighbours)."""

    picture_pe: float = 8.0
    boundary_pe: float = 4.0
    min_picture_neighbors: int = 2


def _values(container, names: tuple[str, ...], prefix: str) -> dict[str, float]:
    out = {}
    for name in names:
        value = getattr(container, name)
        if isinstance(value, u.Quantity):
            unit = UNITS.get(f"{prefix}_{name}")
            value = value.to_value(unit) if unit and unit != "p.e." else value.value
        out[f"{prefix}_{name}"] = float(value)
    return out


def clean(geometry: CameraGeometry, image: np.ndarray, cleaning: Cleaning) -> np.ndarray:
    """Tail-cuts cleaning mask of one image."""
    return tailcuts_clean(
        geometry,
        image,
        picture_thresh=cleaning.picture_pe,
        boundary_thresh=cleaning.boundary_pe,
        min_number_picture_neighbors=cleaning.min_picture_neighbors,
    )


def cleaning_masks(geometry: CameraGeometry, images: np.ndarray, cleaning: Cleaning) -> np.ndarray:
    """Tail-cuts cleaning masks of ``(n_events, n_pixels)`` images."""
    return np.array([clean(geometry, image, cleaning) for image in images], dtype=bool).reshape(images.shape)


def event_parameters(
    geometry: CameraGeometry, image: np.ndarray, peak_time: np.ndarray, cleaning: Cleaning
) -> tuple[dict[str, float], np.ndarray]:
    """Parameters of one image and its cleaning mask; NaN where the cleaned image is too small."""
    mask = clean(geometry, image, cleaning)
    row = dict.fromkeys(COLUMNS, np.nan)
    row["morphology_n_pixels"] = float(mask.sum())
    row["morphology_n_islands"] = float(number_of_islands(geometry, mask)[0])
    row["hillas_intensity"] = float(image[mask].sum())
    if mask.sum() < 3:
        return row, mask
    try:
        hillas = hillas_parameters(geometry[mask], image[mask])
    except HillasParameterizationError:
        return row, mask
    row.update(_values(hillas, HILLAS, "hillas"))
    row.update(_values(leakage_parameters(geometry, image, mask), LEAKAGE, "leakage"))
    if np.isfinite(row["hillas_width"]) and row["hillas_width"] > 0:
        row.update(_values(concentration_parameters(geometry, image, hillas), CONCENTRATION, "concentration"))
        timing = timing_parameters(geometry[mask], image[mask], peak_time[mask], hillas)
        row.update(_values(timing, TIMING, "timing"))
    return row, mask


def image_parameters(
    geometry: CameraGeometry, images: np.ndarray, peak_times: np.ndarray, cleaning: Cleaning | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Parameters of every image as columns, and the ``(n_events, n_pixels)`` cleaning masks."""
    cleaning = cleaning or Cleaning()
    columns = {name: np.full(len(images), np.nan) for name in COLUMNS}
    masks = np.zeros(images.shape, dtype=bool)
    for i, (image, peak_time) in enumerate(zip(images, peak_times, strict=True)):
        row, masks[i] = event_parameters(geometry, image, peak_time, cleaning)
        for name, value in row.items():
            columns[name][i] = value
    return columns, masks


def quality_cut(parameters: Mapping[str, np.ndarray], cuts: Mapping[str, float | None]) -> np.ndarray:
    """Events passing the intensity and leakage cuts (NaN parameters fail)."""
    keep = parameters["hillas_intensity"] > cuts.get("min_intensity_pe", 0.0)
    max_leakage = cuts.get("max_leakage_intensity_width_2")
    if max_leakage is not None:
        keep &= parameters["leakage_intensity_width_2"] <= max_leakage
    return keep & np.isfinite(parameters["hillas_width"])
