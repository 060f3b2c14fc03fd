"""The gamma-shower simulator: spectrum, scaling with energy, reproducibility."""

import numpy as np
from scipy.stats import spearmanr

from sciimg.simulate.camera import hexagonal_camera
from sciimg.simulate.cherenkov import GammaShowerModel, sample_power_law, simulate_gamma_events


def test_power_law_index_is_recovered():
    energy = sample_power_law(np.random.default_rng(0), 200_000, 0.03, 30.0, 2.0)
    assert energy.min() >= 0.03 and energy.max() <= 30.0
    # maximum-likelihood index of a power law truncated far above e_min ~ 1 + n / sum(log(E/Emin))
    index = 1 + len(energy) / np.sum(np.log(energy / 0.03))
    assert abs(index - 2.0) < 0.05


def test_light_grows_with_energy_and_falls_with_impact():
    camera = hexagonal_camera(n_pixels=1855)
    image, _, shower, impact = simulate_gamma_events(600, 0, camera, GammaShowerModel(spectral_index=1.0))
    size = image.sum(axis=1)
    near = impact < 100
    assert spearmanr(shower["true_energy"][near], size[near]).statistic > 0.8
    mid = (shower["true_energy"] > 0.3) & (shower["true_energy"] < 3)
    assert np.median(size[mid & (impact < 100)]) > 2 * np.median(size[mid & (impact > 200)])


def test_same_seed_same_events_different_seed_different_events():
    camera = hexagonal_camera(n_pixels=200)
    a = simulate_gamma_events(20, 5, camera, GammaShowerModel())
    b = simulate_gamma_events(20, 5, camera, GammaShowerModel())
    c = simulate_gamma_events(20, 6, camera, GammaShowerModel())
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
