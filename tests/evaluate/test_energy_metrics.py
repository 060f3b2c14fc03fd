"""Energy resolution and bias per bin."""

import numpy as np
import pytest

from sciimg.evaluate.energy import by_ranges, energy_bins, migration_matrix, resolution_and_bias, uncertainty_coverage
from sciimg.evaluate.regression import compare_to_baseline


def test_bins_are_five_per_decade_on_a_fixed_grid():
    edges = energy_bins(np.array([0.03, 29.0]))
    np.testing.assert_allclose(np.log10(edges), np.round(np.arange(-1.6, 1.6001, 0.2), 6), atol=1e-9)


def test_resolution_and_bias_on_known_errors():
    true = np.repeat([0.5, 5.0], 100)
    relative = np.concatenate([np.linspace(-0.1, 0.1, 100), np.linspace(0.1, 0.3, 100)])
    result = resolution_and_bias(true, true * (1 + relative), np.array([0.1, 1.0, 10.0]))
    assert result["n_events"] == [100, 100]
    assert result["bias"][0] == pytest.approx(0.0, abs=1e-12)
    assert result["bias"][1] == pytest.approx(0.2, abs=1e-12)
    assert result["resolution"][0] == pytest.approx(np.quantile(np.abs(relative[:100]), 0.68))
    assert result["resolution"][1] == pytest.approx(np.quantile(relative[100:], 0.68))


def test_sparse_bins_are_reported_as_missing():
    result = resolution_and_bias(np.full(5, 1.5), np.full(5, 1.5), np.array([1.0, 2.0]))
    assert result["resolution"] == [None] and result["n_events"] == [5]


def test_coverage():
    true = np.ones(4)
    assert uncertainty_coverage(true, np.array([1.0, 1.5, 2.0, 0.9]), np.full(4, 0.6)) == 0.75


def test_pyirf_resolution_ignores_a_constant_bias_and_intervals_cover_the_truth():
    rng = np.random.default_rng(0)
    relative = 0.3 + rng.normal(0.0, 0.1, 4000)  # biased by +0.3, spread 0.1
    true = np.full(4000, 2.0)
    result = resolution_and_bias(true, true * (1 + relative), np.array([1.0, 3.0]))
    assert result["resolution_pyirf"][0] == pytest.approx(0.1, rel=0.05)
    assert result["resolution"][0] > 0.3  # containment of |r| includes the bias
    low, high = result["bias_ci"][0]
    assert low < 0.3 < high and high - low < 0.02


def test_by_ranges_groups_events_by_an_image_parameter():
    relative = np.concatenate([np.full(20, 0.1), np.full(20, 0.5)])
    intensity = np.concatenate([np.full(20, 80.0), np.full(20, 3000.0)])
    result = by_ranges(relative, intensity, (50.0, 100.0, 1000.0, np.inf))
    assert result["n_events"] == [20, 0, 20]
    assert result["bias"] == [pytest.approx(0.1), None, pytest.approx(0.5)]


def test_migration_matrix_rows_are_fractions_of_true_bins():
    true = np.array([0.5, 0.5, 0.5, 5.0])
    reco = np.array([0.5, 5.0, 0.6, 5.0])
    matrix = migration_matrix(true, reco, np.array([0.1, 1.0, 10.0]))
    np.testing.assert_allclose(matrix, [[2 / 3, 1 / 3], [0.0, 1.0]])


def test_targets_need_enough_events_and_are_not_met_vacuously():
    edges = np.array([0.05, 0.1, 1.0])
    model = {"n_events": [150, 150], "resolution": [0.1, 0.2], "bias": [0.3, 0.01]}
    baseline = {"n_events": [150, 150], "resolution": [0.2, 0.3], "bias": [0.0, 0.0]}
    result = compare_to_baseline(model, baseline, edges)
    assert result["resolution_ratio"] == [pytest.approx(0.5), pytest.approx(2 / 3)]
    assert result["targets_met"]  # bias below 100 GeV is not part of the targets
    worse = compare_to_baseline({**model, "resolution": [0.15, 0.2]}, baseline, edges)
    assert not worse["targets_met"]  # 0.75 > 0.6 below 100 GeV
    few = compare_to_baseline({**model, "n_events": [50, 50]}, {**baseline, "n_events": [50, 50]}, edges)
    assert not few["targets_met"]
