"""Energy resolution and bias per bin."""

import numpy as np
import pytest

from sciimg.evaluate.energy import energy_bins, resolution_and_bias, uncertainty_coverage


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
