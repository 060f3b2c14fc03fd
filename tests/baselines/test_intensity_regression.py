"""Tail-cuts cleaning and the intensity-regression energy baseline."""

import numpy as np

from sciimg.baselines.cherenkov_energy import IntensityRegression, cleaned_intensity, tailcuts_clean


def test_tailcuts_keep_connected_signal_and_drop_isolated_pixels():
    grid = np.zeros((1, 9, 9))
    grid[0, 4, 4] = grid[0, 4, 5] = 20.0  # two neighbouring picture pixels
    grid[0, 5, 4] = 4.0  # boundary pixel next to them
    grid[0, 0, 8] = 50.0  # isolated hot pixel
    grid[0, 8, 0] = 4.0  # isolated boundary-level noise
    mask = tailcuts_clean(grid)
    assert mask[0, 4, 4] and mask[0, 4, 5] and mask[0, 5, 4]
    assert not mask[0, 0, 8] and not mask[0, 8, 0]
    assert cleaned_intensity(grid)[0] == 44.0


def test_regression_recovers_a_power_law_between_intensity_and_energy():
    rng = np.random.default_rng(1)
    energy = 10 ** rng.uniform(-1, 1, 200)
    grids = np.zeros((200, 6, 6))
    grids[:, 2, 2] = grids[:, 2, 3] = 500 * energy**1.2 / 2  # intensity = 500 E^1.2
    model = IntensityRegression(degree=1).fit(grids, energy)
    np.testing.assert_allclose(model.predict(grids), energy, rtol=1e-6)
