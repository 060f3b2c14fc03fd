"""The sky simulator: seeded, physically consistent noise, catalog on the WCS, sharp cosmic rays."""

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from scipy import ndimage

from sciimg.simulate.sky import Psf, SkyOptions, cosmic_rays, simulate_image, simulate_sky_folder


def test_same_seed_same_files_and_truth_beside_each_image(tmp_path):
    a = simulate_sky_folder(tmp_path / "a", 3, seed=5, shape=[48, 40], stars=[5, 10], galaxies=[1, 2])
    b = simulate_sky_folder(tmp_path / "b", 3, seed=5, shape=[48, 40], stars=[5, 10], galaxies=[1, 2])
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and len(names) == 6
    for name in names:
        with fits.open(a / name) as x, fits.open(b / name) as y:
            for hx, hy in zip(x, y, strict=True):
                if hx.is_image and hx.data is not None:
                    np.testing.assert_array_equal(hx.data, hy.data)
    image = fits.getdata(a / "field_0000.fits")
    assert image.shape == (48, 40) and image.dtype.kind == "f"
    with fits.open(a / "field_0000.truth.fits") as truth:
        assert [h.name for h in truth] == ["PRIMARY", "CLEAN", "CRMASK", "BADMASK", "SATMASK", "TRAILMASK", "SOURCES"]


def test_noise_is_poisson_plus_read_noise_in_adu():
    sim = simulate_image(SkyOptions(shape=(128, 128), stars=(30, 30), galaxies=(5, 5)), np.random.default_rng(3))
    gain, read_noise = sim.header["GAIN"], sim.header["RDNOISE"]
    usable = ~sim.bad_mask & ~sim.saturated_mask
    residual = (sim.image_adu - sim.clean_adu)[usable]
    expected_var = (sim.clean_adu[usable] * gain + read_noise**2) / gain**2
    z = residual / np.sqrt(expected_var)
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03


def test_catalog_positions_match_the_wcs_and_the_light():
    sim = simulate_image(SkyOptions(shape=(96, 96), stars=(12, 12), galaxies=(0, 0)), np.random.default_rng(8))
    wcs = WCS(sim.header)
    ra, dec = wcs.pixel_to_world_values(sim.sources["x"], sim.sources["y"])
    np.testing.assert_allclose(ra, sim.sources["ra"], atol=1e-9)
    np.testing.assert_allclose(dec, sim.sources["dec"], atol=1e-9)
    inside = sim.sources[
        (sim.sources["x"] > 4) & (sim.sources["x"] < 91) & (sim.sources["y"] > 4) & (sim.sources["y"] < 91)
    ]
    brightest = inside[np.argmax(inside["flux"])]
    y, x = round(float(brightest["y"])), round(float(brightest["x"]))
    patch = sim.clean_adu[y - 3 : y + 4, x - 3 : x + 4]
    peak = np.unravel_index(np.argmax(patch), patch.shape)
    assert max(abs(peak[0] - 3), abs(peak[1] - 3)) <= 1  # the light is where the catalog says
    assert Table(sim.sources)["snr"].min() > 0


def minor_width(image: np.ndarray) -> float:
    """Weighted second-moment width (pixels) of an image along its narrowest axis."""
    y, x = np.nonzero(image > 0)
    w = image[y, x]
    coords = np.stack([y, x]) - (np.stack([y, x]) * w).sum(axis=1, keepdims=True) / w.sum()
    covariance = (coords * w) @ coords.T / w.sum()
    return float(np.sqrt(np.linalg.eigvalsh(covariance)[0]))


def test_cosmic_rays_are_sharper_than_the_psf_and_absent_from_the_clean_image():
    deposit = cosmic_rays((128, 128), 3000, np.random.default_rng(4))
    labels, n = ndimage.label(deposit > 0)
    assert n > 20
    widths = [minor_width(np.where(labels == i, deposit, 0)) for i in range(1, n + 1)]
    psf = Psf(fwhm=2.5, beta=3.0, ellipticity=0.0, angle=0.0).stamp(10)
    assert np.median(widths) < 0.6 < 0.9 < minor_width(psf)

    options = SkyOptions(shape=(96, 96), stars=(5, 5), galaxies=(0, 0), cosmic_rays_per_mpix=(2000, 2000))
    sim = simulate_image(options, np.random.default_rng(4))
    excess = (sim.image_adu - sim.clean_adu) * sim.header["GAIN"]
    noise = np.sqrt(sim.clean_adu * sim.header["GAIN"] + sim.header["RDNOISE"] ** 2)
    assert sim.cr_mask.sum() > 10
    assert np.median(excess[sim.cr_mask] / noise[sim.cr_mask]) > 5
