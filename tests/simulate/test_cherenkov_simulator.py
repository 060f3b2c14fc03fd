"""The shower simulator: spectrum, scaling with energy and impact, protons, reproducibility."""

import numpy as np
from scipy.stats import spearmanr

from sciimg.data.image_parameters import image_parameters
from sciimg.geometry.camera import hexagonal_camera
from sciimg.io.dl1 import GAMMA, PROTON
from sciimg.simulate.cherenkov import ShowerModel, sample_power_law, simulate_events


def _simulate(n, seed, **options):
    geometry = hexagonal_camera()
    events = list(simulate_events(n, seed, geometry, 28.0, ShowerModel(**options)))
    image = np.stack([e.dl1.tel[1].image for e in events])
    peak_time = np.stack([e.dl1.tel[1].peak_time for e in events])
    energy = np.array([e.simulation.shower.energy.to_value("TeV") for e in events])
    impact = np.array([e.simulation.tel[1].impact.distance.to_value("m") for e in events])
    primary = np.array([e.simulation.shower.shower_primary_id for e in events])
    return geometry, image, peak_time, energy, impact, primary


def test_power_law_index_is_recovered():
    energy = sample_power_law(np.random.default_rng(0), 200_000, 0.02, 50.0, 2.0)
    assert energy.min() >= 0.02 and energy.max() <= 50.0
    # maximum-likelihood index of a power law truncated far above e_min ~ 1 + n / sum(log(E/Emin))
    index = 1 + len(energy) / np.sum(np.log(energy / 0.02))
    assert abs(index - 2.0) < 0.05


def test_light_grows_with_energy_and_falls_with_impact():
    _, image, _, energy, impact, _ = _simulate(500, 0, spectral_index=1.0)
    size = image.sum(axis=1)
    near = impact < 100
    assert spearmanr(energy[near], size[near]).statistic > 0.8
    mid = (energy > 0.3) & (energy < 3)
    assert np.median(size[mid & (impact < 100)]) > 2 * np.median(size[mid & (impact > 200)])


def test_peak_time_gradient_grows_with_impact():
    geometry, image, peak_time, _energy, impact, _ = _simulate(300, 1, spectral_index=1.0)
    parameters, _ = image_parameters(geometry, image, peak_time)
    ok = np.isfinite(parameters["timing_slope"]) & (parameters["hillas_intensity"] > 100)
    assert spearmanr(impact[ok], np.abs(parameters["timing_slope"][ok])).statistic > 0.5


def test_protons_are_wider_and_patchier_than_gammas():
    geometry, image, peak_time, _energy, _impact, primary = _simulate(600, 2, spectral_index=1.0, proton_fraction=0.5)
    assert set(np.unique(primary)) == {GAMMA, PROTON}
    parameters, _ = image_parameters(geometry, image, peak_time)
    bright = parameters["hillas_intensity"] > 200
    ratio = parameters["hillas_width"] / parameters["hillas_length"]
    gamma, proton = bright & (primary == GAMMA), bright & (primary == PROTON)
    assert np.median(ratio[proton]) > 1.2 * np.median(ratio[gamma])
    assert np.mean(parameters["morphology_n_islands"][proton]) > np.mean(parameters["morphology_n_islands"][gamma])


def test_only_triggered_events_are_written_and_same_seed_is_same_events():
    a = _simulate(20, 5, trigger_pe=40.0)
    b = _simulate(20, 5, trigger_pe=40.0)
    c = _simulate(20, 6, trigger_pe=40.0)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert len(a[1]) == 20
