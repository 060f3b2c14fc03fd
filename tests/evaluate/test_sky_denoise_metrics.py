"""Sky denoising scores and the classical denoisers they are compared with."""

import numpy as np
import pytest

from sciimg.baselines.sky_denoise import SKY_DENOISERS, Tile
from sciimg.data.sky_scale import TileScale, anscombe, inverse_anscombe, noise_level
from sciimg.evaluate.sky_denoise import compare, tile_scores
from sciimg.simulate.sky import SkyOptions, simulate_image


@pytest.fixture(scope="module")
def tile():
    options = SkyOptions(shape=(64, 64), stars=(15, 15), galaxies=(3, 3), sky_e=(300, 300))
    sim = simulate_image(options, np.random.default_rng(7))
    usable = ~sim.bad_mask
    background, sigma = noise_level(np.where(usable, sim.image_adu, np.nan))
    noisy = Tile(sim.image_adu.astype(float), usable, background, sigma, sim.header["GAIN"], sim.header["RDNOISE"])
    return noisy, sim.clean_adu.astype(float)


def test_anscombe_stabilises_poisson_plus_read_noise():
    rng = np.random.default_rng(0)
    for level in (30.0, 300.0, 3000.0):
        electrons = rng.poisson(level, 200_000) + rng.normal(0, 5.0, 200_000)
        stabilised = anscombe(electrons, 5.0)
        assert abs(stabilised.std() - 1) < 0.03
        assert abs(inverse_anscombe(anscombe(np.array(level), 5.0), 5.0) - level) < 1e-9


def test_scores_rank_truth_above_noise(tile):
    noisy, clean = tile
    usable = noisy.usable
    perfect = tile_scores(clean, clean, usable, noisy.background, noisy.sigma)
    raw = tile_scores(noisy.image, clean, usable, noisy.background, noisy.sigma)
    assert perfect[2] == 0 and perfect[1] == pytest.approx(1.0) and perfect[0] > 100
    assert 0.6 < raw[2] < 1.3  # the noisy input is about one noise unit off (MAD noise includes faint sources)
    assert (
        raw[0] == pytest.approx(20 * np.log10(110 / raw[2]), abs=0.5) and raw[1] < 0.97
    )  # PSNR over a 110-sigma range


@pytest.mark.parametrize("name", sorted(SKY_DENOISERS))
def test_every_classical_denoiser_reduces_the_error(tile, name):
    noisy, clean = tile
    method = SKY_DENOISERS[name]().fit([noisy], [clean])
    denoised = method.denoise(noisy)
    before = tile_scores(noisy.image, clean, noisy.usable, noisy.background, noisy.sigma)
    after = tile_scores(denoised, clean, noisy.usable, noisy.background, noisy.sigma)
    assert after[2] < 0.8 * before[2] and after[0] > before[0] + 1 and after[1] > before[1]


def test_comparison_uses_the_target_of_the_training_kind():
    methods = {"unet": {"psnr": 40.5}, "bm3d": {"psnr": 40.0}, "wavelet": {"psnr": 39.0}}
    supervised = compare(methods, "unet", "clean")
    assert supervised["psnr_gain_over_bm3d_db"] == pytest.approx(0.5) and not supervised["targets_met"]
    n2v = compare(methods, "unet", "noise2void")
    assert n2v["targets_met"] and n2v["best_classical"] == "bm3d"


def test_tile_scale_round_trips_and_gives_unit_noise():
    rng = np.random.default_rng(1)
    gain, read_noise, sky = 2.0, 5.0, 400.0
    clean = np.full(100_000, sky / gain)
    clean[:50_000] += 3000.0  # a bright half: Poisson noise is larger there in ADU
    noisy = (rng.poisson(clean * gain) + rng.normal(0, read_noise, clean.size)) / gain
    stabilised = TileScale(sky / gain, 10.0, gain, read_noise)
    assert stabilised.stabilised
    np.testing.assert_allclose(stabilised.inverse(stabilised.forward(noisy)), noisy, rtol=1e-4, atol=1e-3)
    z = stabilised.forward(noisy) - stabilised.forward(clean)
    assert abs(z[:50_000].std() - 1) < 0.03 and abs(z[50_000:].std() - 1) < 0.03
    plain = TileScale(sky / gain, 10.0)
    assert not plain.stabilised and plain.forward(np.array([210.0]))[0] == pytest.approx(1.0)
    np.testing.assert_allclose(plain.inverse(plain.forward(noisy)), noisy, rtol=1e-5)
