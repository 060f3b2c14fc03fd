"""Classical gap filling and smoothing of anomaly fields on lat/lon grids.

Each method is fitted on the train store (where it has parameters) and then fills one
anomaly field at a time: ``fill(anomaly, observed, lat, lon)`` with NaN at the gaps.

* ``climatology``: anomaly 0, i.e. the train climatology.
* ``idw``: inverse great-circle-distance weighting of the nearest observed cells.
* ``biharmonic``: scikit-image's biharmonic inpainting on the grid (longitude wrapped
  for global grids).
* ``kriging``: ordinary kriging on the sphere with PyKrige (great-circle distances), an
  exponential variogram fitted once to the pooled train anomalies.
* ``gaussian_filter`` (denoising): normalised Gaussian smoothing, its width chosen on train.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.optimize import curve_fit
from sklearn.neighbors import BallTree

from sciimg.io.store import SampleStore
from sciimg.outputs import filled_cells, write_store_fields

log = logging.getLogger(__name__)
VARIOGRAM_SAMPLES = 40  # train fields the variogram is fitted on
VARIOGRAM_PAIRS = 4000  # observed cells drawn per field for the empirical variogram


def _points(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    return la.ravel(), lo.ravel()


def great_circle_deg(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle angle (degrees) between points, broadcast."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlon = np.radians(lon2 - lon1)
    cos = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dlon)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def is_global(lon: np.ndarray) -> bool:
    """Whether the longitudes go all the way round (then the grid wraps)."""
    step = np.abs(np.diff(lon)).mean() if len(lon) > 1 else 360.0
    return abs(step * len(lon) - 360.0) < step / 2


class FieldBaseline:
    """A classical method; ``fit`` is a no-op unless the method has parameters."""

    def fit(self, train: SampleStore) -> FieldBaseline:
        return self

    def fill(self, anomaly: np.ndarray, observed: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        raise NotImplementedError


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


def exponential_variogram(h: np.ndarray, sill: float, range_deg: float, nugget: float) -> np.ndarray:
    """PyKrige's exponential model: ``nugget + sill * (1 - exp(-h / (range / 3)))``."""
    return nugget + sill * (1.0 - np.exp(-h / (range_deg / 3.0)))


class Kriging(FieldBaseline):
    """Ordinary kriging with great-circle distances; the variogram is fitted on train anomalies.

    Args:
        max_points: observed cells used per field; above it, a random subset bounds the cost
            of the kriging system.
    """

    def __init__(self, max_points: int = 1500, seed: int = 0) -> None:
        self.max_points, self.seed = max_points, seed
        self.parameters: dict[str, float] | None = None

    def fit(self, train: SampleStore) -> Kriging:
        extra = train.extra()
        la, lo = _points(extra["lat"], extra["lon"])
        rng = np.random.default_rng(self.seed)
        edges = np.linspace(0.0, 90.0, 31)
        sums, counts = np.zeros(30), np.zeros(30)
        rows = rng.choice(len(train), size=min(VARIOGRAM_SAMPLES, len(train)), replace=False)
        for row in rows:
            sample = train[int(row)]
            values = sample["image"][0].ravel()
            seen = np.flatnonzero(np.isfinite(values))
            if len(seen) < 2:
                continue
            i, j = rng.choice(seen, VARIOGRAM_PAIRS), rng.choice(seen, VARIOGRAM_PAIRS)
            h = great_circle_deg(la[i], lo[i], la[j], lo[j])
            half_sq = 0.5 * (values[i] - values[j]) ** 2
            b = np.digitize(h, edges) - 1
            ok = (b >= 0) & (b < 30)
            np.add.at(sums, b[ok], half_sq[ok])
            np.add.at(counts, b[ok], 1)
        centres = 0.5 * (edges[1:] + edges[:-1])
        used = counts > 10
        gamma = sums[used] / counts[used]
        start = [float(gamma.max()), 20.0, float(gamma.min()) * 0.5]
        bounds = ([1e-6, 0.5, 0.0], [10 * gamma.max() + 1e-6, 180.0, gamma.max() + 1e-6])
        (sill, range_deg, nugget), _ = curve_fit(exponential_variogram, centres[used], gamma, p0=start, bounds=bounds)
        self.parameters = {"sill": float(sill), "range": float(range_deg), "nugget": float(nugget)}
        log.info("kriging variogram (exponential, degrees) fitted on train anomalies: %s", self.parameters)
        return self

    def fill(self, anomaly, observed, lat, lon):
        from pykrige.ok import OrdinaryKriging

        la, lo = _points(lat, lon)
        seen = np.flatnonzero(observed.ravel())
        if len(seen) > self.max_points:
            seen = np.random.default_rng(self.seed).choice(seen, self.max_points, replace=False)
        gaps = np.flatnonzero(~observed.ravel())
        out = anomaly.ravel().copy()
        if len(gaps) == 0:
            return out.reshape(anomaly.shape)
        kriging = OrdinaryKriging(
            lo[seen],
            la[seen],
            anomaly.ravel()[seen],
            variogram_model="exponential",
            variogram_parameters=self.parameters,
            coordinates_type="geographic",
        )
        values, _ = kriging.execute("points", lo[gaps], la[gaps])
        out[gaps] = np.asarray(values)
        return out.reshape(anomaly.shape)


class GaussianSmoothing(FieldBaseline):
    """Normalised Gaussian smoothing (cells outside the domain do not count); width fitted on train."""

    SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)

    def __init__(self) -> None:
        self.sigma, self.wrap = 1.0, False

    def _smooth(self, field: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
        mode = ("nearest", "wrap" if self.wrap else "nearest")
        weight = gaussian_filter(valid.astype(float), sigma, mode=mode)
        return gaussian_filter(np.where(valid, field, 0.0), sigma, mode=mode) / np.maximum(weight, 1e-6)

    def fit(self, train: SampleStore) -> GaussianSmoothing:
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


FIELD_BASELINES: dict[str, type[FieldBaseline]] = {
    "climatology": ClimatologyFill,
    "idw": InverseDistance,
    "biharmonic": Biharmonic,
    "kriging": Kriging,
    "gaussian_filter": GaussianSmoothing,
}


def run_field_baseline(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Fill (or denoise) every test field with a classical method; NetCDF like the model's output."""
    if name not in FIELD_BASELINES:
        raise ValueError(f"baseline must be one of {sorted(FIELD_BASELINES)} for temperature fields, got {name!r}")
    method = FIELD_BASELINES[name]().fit(train)
    extra = test.extra()
    lat, lon, domain = extra["lat"], extra["lon"], extra["domain"].astype(bool)
    corruption = test.attrs["corruption"]
    fields = np.full((len(test), len(lat), len(lon)), np.nan, np.float32)
    filled = np.zeros(fields.shape, bool)
    for row in range(len(test)):
        sample = test[row]
        image = sample["image"][0]
        observed = domain.copy() if corruption == "noise" else np.isfinite(image) & domain
        fields[row] = method.fill(image, observed, lat, lon)
        filled[row] = filled_cells(corruption, observed, domain)
    fields[:, ~domain] = np.nan
    log.info("%s: %d test fields", name, len(test))
    return write_store_fields(test.path, fields, filled, output, f"baseline {name}", [train.path, test.path])
