"""Sky cleaning scores (ROC points, flux bias, sky plane) and the classical cleaners they are compared with."""

import numpy as np
import pytest

from sciimg.baselines.sky_clean import SIGCLIP_GRID, biharmonic_fill, clean_tile, masked_median_fill
from sciimg.baselines.sky_denoise import Tile
from sciimg.data.sky_scale import noise_level
from sciimg.evaluate.sky_clean import flux_bias, roc_points, sky_plane
from sciimg.simulate.sky import SkyOptions, simulate_image


def test_roc_points_read_the_tpr_at_the_asked_false_positive_rates():
    rng = np.random.default_rng(0)
    negatives = rng.uniform(0, 1, 100_000)
    positives = rng.uniform(0.999, 2, 1000)  # all above 99.9 % of negatives
    points = roc_points(positives, negatives)
    assert points["tpr_at_0.5%_fpr"] == pytest.approx(1.0)
    assert points["tpr_at_0.05%_fpr"] > 0.95
    mixed = roc_points(rng.uniform(0, 1, 1000), negatives)  # no better than chance
    assert mixed["tpr_at_0.5%_fpr"] < 0.02
    assert np.all(np.diff(mixed["roc_fpr"]) >= 0) and mixed["roc_tpr"][-1] == 1


def test_sky_plane_is_the_lower_envelope_of_a_noise_free_image():
    yy, xx = np.mgrid[:64, :64]
    plane = 100 + 0.3 * yy - 0.2 * xx
    image = plane.copy()
    image[20:30, 20:30] += 500  # a source only adds light
    np.testing.assert_allclose(sky_plane(image, sigma=1.0), plane, atol=1e-6)


def test_flux_bias_is_the_share_of_a_source_the_filling_loses():
    clean = np.full((32, 32), 10.0)
    clean[10:14, 10:14] += 100.0  # a 1600-unit source
    holes = np.zeros(clean.shape, bool)
    holes[10:12, 10:14] = True  # half of it under a hole
    filled = np.where(holes, 10.0, clean)  # filled with sky: half the flux lost
    bias = flux_bias(filled, clean, holes, np.full(clean.shape, 10.0), sigma=1.0)
    np.testing.assert_allclose(bias, [-0.5])
    assert flux_bias(clean, clean, holes, np.full(clean.shape, 10.0), 1.0).tolist() == [0.0]


def test_fillers_restore_a_smooth_image_under_wide_holes():
    yy, xx = np.mgrid[:40, :40].astype(float)
    smooth = 50 + yy + 0.5 * xx
    holes = np.zeros(smooth.shape, bool)
    holes[15:24, 5:35] = True  # 9 pixels wide: the median needs several passes inwards
    np.testing.assert_allclose(biharmonic_fill(smooth, holes), smooth, atol=1e-6)
    median = masked_median_fill(smooth, holes)
    assert np.isfinite(median).all() and np.abs(median - smooth)[holes].max() < 5
    np.testing.assert_array_equal(median[~holes], smooth[~holes])


@pytest.fixture(scope="module")
def tile_with_cosmic_rays():
    options = SkyOptions(shape=(96, 96), stars=(20, 20), galaxies=(3, 3), sky_e=(300, 300), fwhm_px=(3.5, 3.5))
    sim = simulate_image(
        SkyOptions(**{**options.__dict__, "cosmic_rays_per_mpix": (2000, 2000)}), np.random.default_rng(4)
    )
    usable = np.ones(sim.image_adu.shape, bool)
    background, sigma = noise_level(sim.image_adu)
    tile = Tile(sim.image_adu.astype(float), usable, background, sigma, sim.header["GAIN"], sim.header["RDNOISE"])
    return tile, sim


def test_lacosmic_finds_sharp_cosmic_rays_and_scores_them_by_sigclip(tile_with_cosmic_rays):
    tile, sim = tile_with_cosmic_rays
    layers = clean_tile("astroscrappy", tile, float(sim.header["SATURATE"]), sim.cr_mask)
    found, score = layers["FOUND"], layers["PROB"]
    assert found[sim.cr_mask].mean() > 0.5 and found[~sim.cr_mask].mean() < 0.01
    assert set(np.unique(score)) <= {0.0, *np.float32(SIGCLIP_GRID)}
    assert (score[found] > 0).mean() > 0.95  # found at the default sigclip: found on the grid too
    assert (
        np.abs(layers["TILE"] - sim.clean_adu)[sim.cr_mask].mean()
        < np.abs(tile.image - sim.clean_adu)[sim.cr_mask].mean()
    )


def test_fillers_write_the_true_artefacts_filled_and_keep_other_pixels(tile_with_cosmic_rays):
    tile, sim = tile_with_cosmic_rays
    layers = clean_tile("biharmonic", tile, float(sim.header["SATURATE"]), sim.cr_mask)
    assert set(layers) == {"TILE", "FOUND", "MASK", "FILLED"}
    np.testing.assert_array_equal(layers["FILLED"][~sim.cr_mask], tile.image[~sim.cr_mask])
    error = np.abs(layers["FILLED"] - sim.clean_adu)[sim.cr_mask].mean()
    assert error < np.abs(tile.image - sim.clean_adu)[sim.cr_mask].mean() / 3
