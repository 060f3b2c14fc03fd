"""The climate rivals at full strength: local space-time kriging and EOF reconstruction."""

import numpy as np
import pytest

from sciimg.baselines.climate_eof import EofReconstruction, windows
from sciimg.baselines.climate_kriging import (
    EARTH_KM,
    Covariance,
    SpaceTimeKriging,
    correlation,
    empirical_variogram,
    fit_covariance,
    unit_vectors,
)

LAT, LON = np.arange(-82.5, 90, 15.0), np.arange(7.5, 360, 15.0)  # a coarse global grid: 12 x 24 cells


def gaussian_fields(n: int, covariance: Covariance, seed: int) -> np.ndarray:
    """Fields ``(n, Y, X)`` drawn from a known spatial covariance (exact, by Cholesky)."""
    points = unit_vectors(LAT, LON)
    distance = EARTH_KM * np.linalg.norm(points[:, None] - points[None], axis=-1)
    matrix = covariance(distance, np.zeros_like(distance)) + covariance.nugget * np.eye(len(points))
    factor = np.linalg.cholesky(matrix + 1e-9 * np.eye(len(points)))
    draws = np.random.default_rng(seed).normal(size=(n, len(points))) @ factor.T
    return draws.reshape(n, len(LAT), len(LON))


def test_the_variogram_fit_recovers_the_covariance_the_fields_were_drawn_from():
    truth = Covariance("exponential", sill=2.0, range_km=2000.0, nugget=0.0, lag1=0.0)
    fields = gaussian_fields(300, truth, seed=1)
    h_km, gamma = empirical_variogram(fields.reshape(300, -1), unit_vectors(LAT, LON), seed=0)
    fitted = fit_covariance("exponential", h_km, gamma, 0.0)
    assert fitted.sill == pytest.approx(2.0, rel=0.2) and fitted.range_km == pytest.approx(2000.0, rel=0.3)
    assert fitted.nugget < 0.2


def test_every_family_is_a_correlation_that_falls_from_one():
    h = np.array([0.0, 500.0, 2000.0, 8000.0])
    for family in ("exponential", "gaussian", "matern32"):
        rho = correlation(family, h, 1000.0)
        assert rho[0] == pytest.approx(1.0) and np.all(np.diff(rho) < 0) and rho[-1] < 0.01


def kriging(covariance: Covariance, time_window: int, neighbours: int = 32) -> SpaceTimeKriging:
    method = SpaceTimeKriging(neighbours)
    method.covariances = {covariance.family: covariance}
    return method.choose(covariance.family, time_window)


def test_kriging_keeps_observed_cells_and_its_variance_is_zero_there_and_positive_in_gaps():
    covariance = Covariance("matern32", sill=1.0, range_km=2500.0, nugget=0.0, lag1=0.5)
    field = gaussian_fields(1, covariance, seed=2)
    observed = np.random.default_rng(0).random(field.shape) < 0.4
    mean, variance = kriging(covariance, 1).krige(np.where(observed, field, np.nan), observed, LAT, LON)
    np.testing.assert_array_equal(mean[observed[0]], field[0][observed[0]])
    assert np.all(variance[observed[0]] == 0) and np.all(variance[~observed[0]] > 0)
    assert np.all(variance <= covariance.sill + 1e-9)
    error = (mean - field[0])[~observed[0]]
    assert np.sqrt(np.mean(error**2)) < 0.6 * np.std(field)  # better than the field's own spread


def test_space_time_kriging_uses_the_neighbouring_months():
    covariance = Covariance("matern32", sill=1.0, range_km=2500.0, nugget=0.0, lag1=0.95)
    month = gaussian_fields(1, covariance, seed=3)[0]
    fields = np.stack([month, month, month])  # the anomaly persists: the month around tells the gap
    rng = np.random.default_rng(1)
    observed = np.stack([rng.random(month.shape) < 0.8, rng.random(month.shape) < 0.2, rng.random(month.shape) < 0.8])
    gaps = ~observed[1]
    errors = {}
    for window in (1, 3):
        method = kriging(covariance, window)
        filled = method.fill(np.where(observed, fields, np.nan), observed, LAT, LON)
        errors[window] = np.sqrt(np.mean((filled - month)[gaps] ** 2))
    assert errors[3] < 0.5 * errors[1], errors


class Fields:
    """A minimal store: complete targets, their steps, nothing else the EOF fit reads."""

    def __init__(self, targets: np.ndarray) -> None:
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def read(self, key: str) -> np.ndarray:
        return {"target": self.targets[:, None], "meta/step": np.arange(len(self.targets))}[key]


def test_eof_reconstruction_is_exact_for_fields_spanned_by_the_kept_modes():
    rng = np.random.default_rng(4)
    patterns = rng.normal(size=(3, len(LAT), len(LON)))
    amplitudes = rng.normal(size=(120, 3)) * [3.0, 2.0, 1.0]
    fields = np.einsum("nk,kyx->nyx", amplitudes, patterns)
    method = EofReconstruction(max_modes=10)
    method.fit_bases(Fields(fields[:100]), time_windows=(1,))
    observed = rng.random(fields.shape[1:]) < 0.3
    unseen = fields[110]
    for modes, good in ((3, True), (1, False)):
        filled = method.choose(modes, 1e-9, 1).fill(np.where(observed, unseen, np.nan)[None], observed[None], LAT, LON)
        np.testing.assert_array_equal(filled[observed], unseen[observed])
        error = np.abs(filled - unseen)[~observed].max()
        assert (error < 1e-6) == good, (modes, error)


def test_windows_take_neighbouring_steps_only_from_the_same_split():
    fields = np.arange(5.0)[:, None] * np.ones((5, 2))
    stacked, present = windows(fields, np.array([0, 1, 2, 10, 11]), 3)
    assert present.tolist() == [[False, True, True], [True, True, True], [True, True, False],
                                [False, True, True], [True, True, False]]  # fmt: skip
    assert stacked[1, :, 0].tolist() == [0.0, 1.0, 2.0] and np.isnan(stacked[2, 2]).all()


def test_the_floor_is_below_every_method_on_simulated_fields(tmp_path):
    from sciimg.baselines.run import run_baseline
    from sciimg.config import validate_config
    from sciimg.evaluate.climate import evaluate_fields
    from sciimg.kinds import ingest
    from sciimg.simulate.climate import simulate_climate_file

    grid = {"lat_min": 20, "lat_max": 60, "lon_min": -20, "lon_max": 40, "dlat": 2.5, "dlon": 2.5}
    raw = simulate_climate_file(tmp_path / "sim.nc", n_years=5, seed=1, grid=grid)
    experiment = {
        "modality": "climate",
        "task": "inpainting",
        "seed": 3,
        "data": {"simulate": {"n_years": 5}, "split": {"train": 0.6, "val": 0.2, "test": 0.2}},
        "model": {"backbone_options": {"widths": [4, 8]}},
        "baselines": ["kriging", "eof", "floor"],
    }
    spec = validate_config({"experiments": {"x": experiment}})["experiments"]["x"]
    stores = ingest([raw], tmp_path / "stores", spec)
    outputs = {
        name: run_baseline(name, stores["train"], stores["test"], tmp_path / f"{name}.nc", stores["val"])
        for name in ("floor", "kriging", "eof", "biharmonic")
    }
    methods = evaluate_fields("x", outputs, stores["test"], tmp_path / "eval")["methods"]
    floor = methods.pop("floor")["rmse"]
    assert all(floor < 0.5 * scores["rmse"] for scores in methods.values()), (floor, methods)
    assert floor < 0.05  # the simulated anomalies have fewer degrees of freedom than the grid has cells


def test_the_floor_is_refused_for_data_that_no_simulator_made():
    from sciimg.config import validate_config
    from sciimg.errors import ConfigError

    experiment = {
        "modality": "climate",
        "task": "inpainting",
        "seed": 3,
        "data": {"files": {"paths": ["field.nc"]}, "split": {"train": 0.6, "val": 0.2, "test": 0.2}},
        "model": {},
        "baselines": ["kriging", "floor"],
    }
    with pytest.raises(ConfigError, match=r"x\.baselines: the floor is computed from the simulator"):
        validate_config({"experiments": {"x": experiment}})
