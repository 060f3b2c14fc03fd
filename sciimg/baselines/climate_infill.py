"""Classical gap filling and smoothing of anomaly fields on lat/lon grids.

Each method is fitted on the train store (where it has parameters), tunes what it must on
the validation store, and then fills one anomaly field at a time:
``fill_window(fields, observed, lat, lon)``, the month to fill at the centre of its
``time_window`` consecutive months (NaN at the gaps, a month outside the split unobserved).

* ``climatology``: anomaly 0, i.e. the train climatology.
* ``idw``: inverse great-circle-distance weighting of the nearest observed cells.
* ``biharmonic``: scikit-image's biharmonic inpainting on the grid (longitude wrapped
  for global grids).
* ``kriging``: ordinary kriging in space or space-time with every observed cell
  (:mod:`sciimg.baselines.climate_kriging`); family and window chosen on validation.
* ``eof``: reduced-space optimal interpolation with the train years' EOFs
  (:mod:`sciimg.baselines.climate_eof`); modes, noise and window chosen on validation.
* ``floor`` (simulated fields only): not a method but the best any method can do, the exact
  conditional mean given the simulator's statistics (:mod:`sciimg.baselines.climate_floor`).
* ``gaussian_filter`` (denoising): normalised Gaussian smoothing, its width chosen on train.

Each method's CPU time per field goes into the log and the output's history.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.neighbors import BallTree

from sciimg.baselines.climate_eof import EofReconstruction, windows
from sciimg.baselines.climate_floor import SimulatorFloor
from sciimg.baselines.climate_kriging import FAMILIES, SpaceTimeKriging
from sciimg.data.climate_dataset import is_global
from sciimg.errors import ConfigError
from sciimg.io.store import SampleStore
from sciimg.outputs import filled_cells, write_store_fields

log = logging.getLogger(__name__)
VARIOGRAM_SAMPLES = 40  # train fields the smoothing width is chosen on
TUNING_FIELDS = 24  # validation fields a method's settings are chosen on


def _points(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    return la.ravel(), lo.ravel()


def great_circle_deg(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle angle (degrees) between points, broadcast."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlon = np.radians(lon2 - lon1)
    cos = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dlon)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


class FieldBaseline:
    """A classical method that fills one month at a time; ``fit`` is a no-op unless it has parameters."""

    time_window = 1  # consecutive months it sees, the one to fill at the centre

    def fit(self, train: SampleStore, val: SampleStore | None = None) -> FieldBaseline:
        return self

    def settings(self) -> dict[str, Any]:
        """What the method fitted or chose, for the output's attributes."""
        return {}

    def fill(self, anomaly: np.ndarray, observed: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fill_window(
        self, fields: np.ndarray, observed: np.ndarray, lat: np.ndarray, lon: np.ndarray, when: tuple[int, int]
    ) -> np.ndarray:
        """The centre month of ``fields`` ``(time_window, Y, X)`` filled; ``when``: its step and calendar month."""
        centre = fields.shape[0] // 2
        return self.fill(fields[centre], observed[centre], lat, lon)

    def fill_with_std(
        self, fields: np.ndarray, observed: np.ndarray, lat: np.ndarray, lon: np.ndarray, when: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`fill_window` and each cell's std (K) where the method gives one, else None."""
        return self.fill_window(fields, observed, lat, lon, when), None


def split_windows(
    store: SampleStore, time_window: int, rows: np.ndarray | None = None
) -> Iterator[tuple[int, np.ndarray, np.ndarray, tuple[int, int]]]:
    """Per row of the store: the row, its window of images ``(W, Y, X)``, observed cells, and the
    centre's step and calendar month.

    A neighbouring month outside the split (another year) comes fully unobserved, as for the network.
    """
    domain = store.extra()["domain"].astype(bool)
    noise = store.attrs["corruption"] == "noise"
    images = store.read("image")[:, 0].astype(np.float64)
    steps, months = store.read("meta/step"), store.read("meta/month")
    stacked, present = windows(images, steps, time_window)
    for row in range(len(store)) if rows is None else rows:
        fields = stacked[row]
        observed = (np.ones_like(fields, bool) if noise else np.isfinite(fields)) & domain & present[row][:, None, None]
        yield int(row), np.where(observed, fields, np.nan), observed, (int(steps[row]), int(months[row]))


def choose_on_validation(method: FieldBaseline, name: str, candidates: list[tuple], val: SampleStore | None) -> None:
    """``method.choose(*candidate)`` for the candidate with the lowest latitude-weighted RMSE on the
    unobserved cells of up to :data:`TUNING_FIELDS` validation fields, evenly spread; the fields are
    read once, whatever the number of candidates."""
    if val is None or len(val) == 0:
        raise ConfigError(f"baseline {name} chooses its settings on the validation split: give --val")
    rows = np.unique(np.linspace(0, len(val) - 1, min(TUNING_FIELDS, len(val))).astype(int))
    extra = val.extra()
    lat, lon = extra["lat"], extra["lon"]
    weights = np.broadcast_to(np.cos(np.radians(lat))[:, None], (len(lat), len(lon)))
    targets = val.read("target")[:, 0]
    fields_of = {window: list(split_windows(val, window, rows)) for window in sorted({c[-1] for c in candidates})}
    scores = {}
    for candidate in candidates:  # the time window comes last in every candidate
        method.choose(*candidate)
        total, norm = 0.0, 0.0
        for row, fields, observed, when in fields_of[method.time_window]:
            scored = ~observed[fields.shape[0] // 2] & np.isfinite(targets[row])
            error = method.fill_window(fields, observed, lat, lon, when) - targets[row]
            total += float((weights[scored] * error[scored] ** 2).sum())
            norm += float(weights[scored].sum())
        scores[candidate] = float(np.sqrt(total / norm)) if norm else float("nan")
    best = min(scores, key=scores.get)
    rounded = {key: round(value, 4) for key, value in scores.items()}
    log.info("%s: validation RMSE per setting %s; chosen %s", name, rounded, best)
    method.choose(*best)


class ClimatologyFill(FieldBaseline):
    """Zero anomaly everywhere that is not observed."""

    def fill(self, anomaly, observed, lat, lon):
        return np.where(observed, anomaly, 0.0)


class InverseDistance(FieldBaseline):
    """Mean of the ``k`` nearest observed cells weighted by great-circle distance^-``power``."""

    def __init__(self, k: int = 8, power: float = 2.0) -> None:
        self.k, self.power = k, power

    def fill(self, anomaly, observed, lat, lon):
        la, lo = _points(lat, lon)
        seen = observed.ravel()
        tree = BallTree(np.radians(np.column_stack([la[seen], lo[seen]])), metric="haversine")
        gaps = ~seen
        distance, index = tree.query(np.radians(np.column_stack([la[gaps], lo[gaps]])), k=min(self.k, seen.sum()))
        weights = 1.0 / np.maximum(distance, 1e-6) ** self.power
        out = anomaly.ravel().copy()
        out[gaps] = (weights * anomaly.ravel()[seen][index]).sum(1) / weights.sum(1)
        return out.reshape(anomaly.shape)


class Biharmonic(FieldBaseline):
    """Biharmonic inpainting (scikit-image); global grids are padded with wrapped longitudes."""

    def fill(self, anomaly, observed, lat, lon):
        from skimage.restoration import inpaint_biharmonic

        pad = anomaly.shape[1] // 4 if is_global(lon) else 0
        image = np.pad(np.where(observed, anomaly, 0.0), ((0, 0), (pad, pad)), mode="wrap")
        holes = np.pad(~observed, ((0, 0), (pad, pad)), mode="wrap")
        filled = inpaint_biharmonic(image, holes)
        return filled[:, pad : pad + anomaly.shape[1]]


class GaussianSmoothing(FieldBaseline):
    """Normalised Gaussian smoothing (cells outside the domain do not count); width fitted on train."""

    SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)

    def __init__(self) -> None:
        self.sigma, self.wrap = 1.0, False

    def _smooth(self, field: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
        mode = ("nearest", "wrap" if self.wrap else "nearest")
        weight = gaussian_filter(valid.astype(float), sigma, mode=mode)
        return gaussian_filter(np.where(valid, field, 0.0), sigma, mode=mode) / np.maximum(weight, 1e-6)

    def fit(self, train: SampleStore, val: SampleStore | None = None) -> GaussianSmoothing:
        self.wrap = is_global(train.extra()["lon"])
        rows = range(0, len(train), max(1, len(train) // VARIOGRAM_SAMPLES))
        samples = [train[r] for r in rows]
        errors = []
        for sigma in self.SIGMAS:
            squared = []
            for sample in samples:
                noisy, truth = sample["image"][0], sample["target"][0]
                valid = np.isfinite(noisy) & np.isfinite(truth)
                squared.append(((self._smooth(noisy, valid, sigma) - truth)[valid] ** 2).mean())
            errors.append(np.mean(squared))
        self.sigma = self.SIGMAS[int(np.argmin(errors))]
        log.info("gaussian_filter: sigma %.2f cells (train MSE per sigma %s)", self.sigma, np.round(errors, 4))
        return self

    def fill(self, anomaly, observed, lat, lon):
        return self._smooth(anomaly, observed, self.sigma)


class Kriging(FieldBaseline):
    """Ordinary kriging, space or space-time (:class:`SpaceTimeKriging`), chosen on validation."""

    def __init__(self, neighbours: int = 24, seed: int = 0) -> None:
        self.kriging = SpaceTimeKriging(neighbours, seed)

    @property
    def time_window(self) -> int:
        return self.kriging.time_window

    def fit(self, train: SampleStore, val: SampleStore | None = None) -> Kriging:
        self.kriging.fit_variograms(train)
        choose_on_validation(self, "kriging", [(family, window) for family in FAMILIES for window in (1, 3)], val)
        return self

    def choose(self, family: str, time_window: int) -> Kriging:
        self.kriging.choose(family, time_window)
        return self

    def settings(self) -> dict[str, Any]:
        chosen = asdict(self.kriging.covariance)
        return {**chosen, "time_window": self.time_window, "neighbours": self.kriging.neighbours}

    def fill_window(self, fields, observed, lat, lon, when):
        return self.kriging.fill(fields, observed, lat, lon)

    def fill_with_std(self, fields, observed, lat, lon, when):
        mean, variance = self.kriging.krige(fields, observed, lat, lon)
        return mean, np.sqrt(variance)  # the kriging variance


class Eof(FieldBaseline):
    """Reduced-space optimal interpolation with the train EOFs (:class:`EofReconstruction`), chosen on validation."""

    MODES = (2, 5, 10, 20, 40, 80, 160, 320)  # and every mode the train years give
    NOISE = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)  # times the mean cell variance

    def __init__(self) -> None:
        self.eof = EofReconstruction()

    @property
    def time_window(self) -> int:
        return self.eof.time_window

    def fit(self, train: SampleStore, val: SampleStore | None = None) -> Eof:
        self.eof.fit_bases(train)
        candidates = [
            (modes, noise, window)
            for window, (_, _, variances) in self.eof.bases.items()
            for modes in sorted({m for m in self.MODES if m < len(variances)} | {len(variances)})  # and all
            for noise in self.NOISE
        ]
        choose_on_validation(self, "eof", candidates, val)
        return self

    def choose(self, modes: int, noise: float, time_window: int) -> Eof:
        """``noise`` in units of the train fields' mean variance per cell."""
        mean, _, variances = self.eof.bases[time_window]
        self.eof.choose(modes, noise * variances.sum() / len(mean), time_window)
        return self

    def settings(self) -> dict[str, Any]:
        return {"modes": self.eof.modes, "noise_k2": self.eof.noise, "time_window": self.time_window}

    def fill_window(self, fields, observed, lat, lon, when):
        return self.eof.fill(fields, observed, lat, lon)


class Floor(FieldBaseline):
    """Not a method: the exact conditional mean given the simulator's statistics (:class:`SimulatorFloor`)."""

    time_window = 3

    def fit(self, train: SampleStore, val: SampleStore | None = None) -> Floor:
        self.floor = SimulatorFloor(self.time_window).fit(train)
        return self

    def fill_window(self, fields, observed, lat, lon, when):
        return self.floor.fill(fields, observed, *when)


FIELD_BASELINES: dict[str, type[FieldBaseline]] = {
    "climatology": ClimatologyFill,
    "idw": InverseDistance,
    "biharmonic": Biharmonic,
    "kriging": Kriging,
    "eof": Eof,
    "floor": Floor,
    "gaussian_filter": GaussianSmoothing,
}


def run_field_baseline(
    name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike, val: SampleStore | None = None
) -> Path:
    """Fill (or denoise) every test field with a classical method; NetCDF like the model's output."""
    if name not in FIELD_BASELINES:
        raise ValueError(f"baseline must be one of {sorted(FIELD_BASELINES)} for temperature fields, got {name!r}")
    method = FIELD_BASELINES[name]().fit(train, val)
    extra = test.extra()
    lat, lon, domain = extra["lat"], extra["lon"], extra["domain"].astype(bool)
    corruption = test.attrs["corruption"]
    fields = np.full((len(test), len(lat), len(lon)), np.nan, np.float32)
    filled = np.zeros(fields.shape, bool)
    stds: list[np.ndarray | None] = []
    start = time.process_time()
    for row, window, observed, when in split_windows(test, method.time_window):
        fields[row], std = method.fill_with_std(window, observed, lat, lon, when)
        stds.append(std)
        filled[row] = filled_cells(corruption, observed[window.shape[0] // 2], domain)
    seconds = (time.process_time() - start) / max(len(test), 1)
    fields[:, ~domain] = np.nan
    spread = np.stack(stds).astype(np.float32) if stds and stds[0] is not None else None
    if spread is not None:
        spread[:, ~domain] = np.nan
    log.info("%s: %d test fields, %.4f CPU s per field", name, len(test), seconds)
    inputs = [train.path, *([val.path] if val is not None else []), test.path]
    attrs = {"cpu_seconds_per_field": seconds, "settings": method.settings()}
    return write_store_fields(
        test.path, fields, filled, output, f"baseline {name}", inputs, method_attrs=attrs, std=spread
    )
