"""Sky tiles: ingest covers every pixel, splits by file; Noise2Void masking; sliding-window inference."""

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from sciimg.config import validate_config
from sciimg.data.ingest_sky import tile_regions
from sciimg.data.sky_dataset import SkyDenoisingDataset, blind_spots
from sciimg.errors import ConfigError, InputError
from sciimg.inference.sliding_window import sliding_window
from sciimg.io.fits import FitsImage
from sciimg.io.store import SampleStore
from sciimg.kinds import ingest
from sciimg.simulate.sky import simulate_sky_folder


def sky_spec(**data):
    spec = {
        "modality": "sky",
        "task": "denoising",
        "seed": 1,
        "data": {
            **({} if "files" in data else {"simulate": {"n_images": 5}}),
            "split": {"train": 0.6, "val": 0.2, "test": 0.2},
            "tile_size": 32,
            "patch_size": 16,
            **data,
        },
        "model": {"backbone": "unet"},
    }
    return validate_config({"experiments": {"sky": spec}})["experiments"]["sky"]


@pytest.fixture(scope="module")
def sky_stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("sky")
    folder = simulate_sky_folder(root / "raw", 5, seed=2, shape=[40, 50], stars=[5, 10], galaxies=[1, 2])
    return folder, ingest([str(folder)], root / "stores", sky_spec())


def test_tiles_cover_every_pixel_flush_with_the_edges():
    regions = tile_regions((40, 50), 32)
    covered = np.zeros((40, 50), int)
    for r in regions:
        assert r.y1 - r.y0 == 32 and r.x1 - r.x0 == 32
        covered[r.slices] += 1
    assert covered.min() >= 1 and len(regions) == 4
    small = tile_regions((20, 70), 32)
    assert [(r.y0, r.y1) for r in small] == [(0, 20)] * len(small) and small[-1].x1 == 70


def test_ingest_splits_by_file_and_stores_the_pixels(sky_stores):
    folder, stores = sky_stores
    files = {split: set(SampleStore(path).meta()["file"].tolist()) for split, path in stores.items()}
    assert files["train"].isdisjoint(files["val"]) and files["train"].isdisjoint(files["test"])
    assert sum(len(f) for f in files.values()) == 5
    store = SampleStore(stores["train"])
    assert store.keys == ["image", "target", "mask"] and len(store) == 4 * len(files["train"])
    meta, names = store.meta(), store.extra()["files"]
    row = 3
    with FitsImage(folder / names[meta["file"][row]]) as image:
        y0, x0 = meta["y0"][row], meta["x0"][row]
        expected = image.read()[y0 : y0 + 32, x0 : x0 + 32]
    np.testing.assert_array_equal(store[row]["image"][0], expected)
    assert 0.5 < meta["sigma"][row] < 100


def test_supervised_needs_truth_and_noise2void_does_not(sky_stores, tmp_path):
    _, stores = sky_stores
    plain = tmp_path / "plain.h5"
    with h5py.File(stores["test"]) as src, h5py.File(plain, "w") as dst:
        for key in ("image", "mask", "meta", "extra"):
            src.copy(key, dst)
        dst.attrs.update(src.attrs)
    with pytest.raises(ConfigError, match="training_target 'clean' needs clean truth"):
        SkyDenoisingDataset(plain)
    item = SkyDenoisingDataset(plain, train=True, training_target="noise2void", patch_size=16)[(0, 0)]
    assert item["image"].shape == (1, 16, 16) and item["valid"].sum() >= 1


def test_blind_spots_take_a_neighbour_never_themselves():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(32, 32)).astype(np.float32)
    usable = np.ones_like(image, bool)
    usable[:, :4] = False
    masked, spots = blind_spots(image, usable, 0.05, rng)
    assert spots.sum() == round(0.05 * usable.sum()) and not spots[:, :4].any()
    changed = masked != image
    assert changed[spots].mean() > 0.95 and not changed[~spots].any()
    for y, x in zip(*np.nonzero(spots), strict=True):
        window = image[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3]
        assert masked[y, x] in window


def test_sliding_window_equals_whole_image_inference():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1)).eval()
    image = np.random.default_rng(1).normal(size=(2, 70, 90)).astype(np.float32)
    with torch.no_grad():
        whole = net(torch.from_numpy(image)[None])[0].numpy()
    tiled = sliding_window(lambda region: image[(slice(None), *region)], (70, 90), net, 32, overlap=0.5, batch_size=3)
    # window margins (8 px) exceed the net's 2-px reach: the blend of exact pieces is exact, border included
    np.testing.assert_allclose(tiled, whole, rtol=1e-4, atol=1e-6)
    assert np.isfinite(tiled).all() and tiled.shape == (1, 70, 90)


def test_users_multi_extension_files_with_dq_and_no_truth(tmp_path):
    from astropy.io import fits

    rng = np.random.default_rng(3)
    for index in range(4):
        dq = np.zeros((40, 40), np.int16)
        dq[index, :] = 8
        hdus = [
            fits.PrimaryHDU(),
            fits.ImageHDU(rng.normal(100.0, 5.0, (40, 40)).astype(np.float32), name="SCI"),
            fits.ImageHDU(dq, name="DQ"),
        ]
        fits.HDUList(hdus).writeto(tmp_path / f"user_{index}.fits")
    spec = sky_spec(files={"paths": [str(tmp_path / "user_*.fits")], "hdu": "SCI"}, training_target="noise2void")
    stores = ingest(spec["data"]["files"]["paths"], tmp_path / "stores", spec)
    store = SampleStore(stores["train"])
    assert "target" not in store.keys and store.attrs["pixel_scale"] == "standardised"
    row = 0
    file_index = store.meta()["file"][row]
    mask = store[row]["mask"][0].astype(bool)
    assert store.meta()["y0"][row] == 0 and not mask[file_index, :].any() and mask.sum() == 32 * 32 - 32
    with pytest.raises(ConfigError, match="needs clean truth"):
        SkyDenoisingDataset(stores["train"])


def test_an_image_without_usable_pixels_is_an_ingest_error_naming_it(tmp_path):
    from astropy.io import fits

    from sciimg.errors import InputError

    rng = np.random.default_rng(4)
    for index in range(6):
        values = rng.normal(100.0, 5.0, (40, 40)).astype(np.float32)
        fits.PrimaryHDU(np.full_like(values, np.nan) if index == 1 else values).writeto(tmp_path / f"im_{index}.fits")
    spec = sky_spec(files={"paths": [str(tmp_path / "im_*.fits")]}, training_target="noise2void")
    with pytest.raises(InputError, match=r"im_1\.fits: image has \(almost\) no usable pixel"):
        ingest(spec["data"]["files"]["paths"], tmp_path / "stores", spec)
    assert not (tmp_path / "stores").exists()


def test_noise2noise_pairs_two_exposures_of_the_same_field(tmp_path):
    from sciimg.io.fits import PAIR_SUFFIX
    from sciimg.simulate.sky import SkyOptions, simulate_image

    options = SkyOptions(shape=(64, 64), stars=(5, 5), galaxies=(1, 1), exposures=2)
    sim = simulate_image(options, np.random.default_rng(4))
    single = simulate_image(SkyOptions(shape=(64, 64), stars=(5, 5), galaxies=(1, 1)), np.random.default_rng(4))
    np.testing.assert_array_equal(sim.image_adu, single.image_adu)  # the first exposure is unchanged
    noise_a, noise_b = sim.image_adu - sim.clean_adu, sim.pair_adu - sim.clean_adu
    assert abs(np.corrcoef(noise_a.ravel(), noise_b.ravel())[0, 1]) < 0.1  # independent noise
    assert noise_a.std() == pytest.approx(noise_b.std(), rel=0.1) and abs(noise_b.mean()) < 0.2 * noise_b.std()
    folder = simulate_sky_folder(tmp_path / "raw", 5, seed=3, shape=[40, 50], stars=[5, 10], exposures=2)
    assert len(list(folder.glob(f"*{PAIR_SUFFIX}"))) == 5
    stores = ingest([str(folder)], tmp_path / "stores", sky_spec(training_target="noise2noise"))
    store = SampleStore(stores["train"])
    assert "pair" in store.keys and len(store) == 12  # 3 images, 4 tiles each: the pairs are not samples
    sample = store[0]
    assert not np.allclose(sample["pair"], sample["image"], equal_nan=True)
    dataset = SkyDenoisingDataset(stores["val"], training_target="noise2noise")
    item, arrays = dataset[0], dataset.normalised(0)
    np.testing.assert_allclose(item["target"][0].numpy(), arrays["pair"])
    np.testing.assert_allclose(item["image"][0].numpy(), arrays["image"])
    with pytest.raises(ConfigError, match="second exposures"):
        SkyDenoisingDataset(
            SampleStore(ingest([str(folder)], tmp_path / "plain", sky_spec())["val"]).path,
            training_target="noise2noise",
        )
    (folder / f"field_0000{PAIR_SUFFIX}").unlink()
    with pytest.raises(InputError, match=r"field_0000\.fits: noise2noise needs a second exposure"):
        ingest([str(folder)], tmp_path / "broken", sky_spec(training_target="noise2noise"))


def test_tile_noise_level_is_the_median_and_mad_std_of_the_usable_pixels_even_when_most_are_masked():
    from astropy.stats import mad_std

    from sciimg.data.sky_scale import noise_level

    rng = np.random.default_rng(3)
    tile = rng.normal(500.0, 20.0, (256, 256)).astype(np.float32)
    background, sigma = noise_level(tile)
    sample = tile.ravel()[::4]  # every 4th of the 65 536 pixels: 16 384 of them
    assert background == pytest.approx(float(np.median(sample)), rel=1e-6)
    assert sigma == pytest.approx(float(mad_std(sample)), rel=1e-5)
    assert sigma == pytest.approx(20.0, rel=0.03)
    masked = np.full_like(tile, np.nan)
    masked[100:105, 7] = tile[100:105, 7]  # 5 usable pixels, none of them on the sampled grid ...
    masked[200, 9:29] = tile[200, 9:29] + 1000.0  # ... and 20 bright ones: all 25 are what is measured
    usable = masked[np.isfinite(masked)]
    assert noise_level(masked) == pytest.approx((float(np.median(usable)), float(mad_std(usable))), rel=1e-5)


def test_gain_and_read_noise_are_read_under_their_common_header_spellings():
    from astropy.io import fits

    from sciimg.data.sky_scale import detector_noise

    def header(**cards):
        return fits.Header(list(cards.items()))

    assert detector_noise(header(GAIN=1.5, RDNOISE=4.0)) == (1.5, 4.0)
    assert detector_noise(header(EGAIN=2.2, READNOIS="3.5")) == (2.2, 3.5)  # numeric strings count
    assert detector_noise(header(ATODGAIN=1.0, READNSEA=5.1)) == (1.0, 5.1)  # HST
    assert detector_noise(header(RON=9.0, GAIN=2.0, RDNOISE=4.0)) == (2.0, 4.0)  # RDNOISE is read before RON
    for missing in (header(GAIN=1.5), header(RDNOISE=4.0), header()):
        assert all(np.isnan(detector_noise(missing)))
    damaged = (("GAIN", 0.0), ("GAIN", "abc"), ("EGAIN", -2.0), ("RDNOISE", "n/a"), ("RON", -1.0), ("GAIN", "inf"))
    for card, value in damaged:
        cards = header(**({"RDNOISE": 4.0} if "GAIN" in card else {"GAIN": 1.5}), **{card: value})
        with pytest.raises(InputError, match=rf"plate\.fits: header card {card} = .* is not"):
            detector_noise(cards, "plate.fits")


def test_the_users_gain_and_read_noise_go_before_the_header_and_come_in_pairs():
    from astropy.io import fits

    from sciimg.data.sky_scale import resolve_detector_noise

    cards = fits.Header([("EGAIN", 2.0), ("RON", 4.0)])
    assert resolve_detector_noise(cards).origin == "header cards EGAIN and RON"
    given = resolve_detector_noise(cards, 1.2, 3.0)
    assert (given.gain, given.read_noise_e, given.origin) == (1.2, 3.0, "given by the user")
    assert not resolve_detector_noise(fits.Header()).known
    for gain, read_noise in ((1.2, None), (None, 3.0), (0.0, 3.0), (1.2, -1.0)):
        with pytest.raises(InputError, match=r"plate\.fits"):
            resolve_detector_noise(cards, gain, read_noise, "plate.fits")


def test_pixel_noise_is_the_noise_and_not_the_scene(tmp_path):
    from astropy.io import fits

    from sciimg.data.sky_scale import sampled_noise_level, sampled_pixel_noise
    from sciimg.io.fits import FitsImage

    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:600, 0:500]
    nebula = 4000.0 * np.exp(-((x - 250.0) ** 2 + (y - 300.0) ** 2) / (2 * 120.0**2)) + 2.0 * x  # scene, not noise
    path = tmp_path / "nebula.fits"
    fits.PrimaryHDU((nebula + rng.normal(0, 25.0, nebula.shape)).astype(np.float32)).writeto(path)
    with FitsImage(path) as image:
        assert sampled_pixel_noise(image) == pytest.approx(25.0, rel=0.1)
        assert sampled_noise_level(image)[1] > 10 * 25.0  # the values' MAD takes the nebula for noise


def test_a_raw_frames_overscan_bias_is_not_counted_as_electrons(tmp_path, caplog):
    from astropy.io import fits

    from sciimg.data.sky_scale import TileScale, overscan_pedestal
    from sciimg.io.fits import FitsImage, Region

    gain, read_noise, bias, sky_e = 2.0, 6.0, 400.0, 500.0
    rng = np.random.default_rng(5)
    sky = (rng.poisson(sky_e, (200, 300)) + rng.normal(0, read_noise, (200, 300))) / gain + bias
    strip = bias + rng.normal(0, read_noise / gain, (200, 10))
    header = fits.Header([("GAIN", gain), ("RDNOISE", read_noise), ("BIASSEC", "[1:10,1:200]")])
    path = tmp_path / "raw.fits"
    fits.PrimaryHDU(np.hstack([strip, sky]).astype(np.float32), header).writeto(path)
    with FitsImage(path) as image:
        pedestal, note = overscan_pedestal(image)
    assert pedestal == pytest.approx(bias, abs=0.2) and "BIASSEC" in note
    background = float(np.median(sky))
    with_bias = TileScale(background, 1.0, gain, read_noise, pedestal)
    assert np.std(with_bias.forward(sky)) == pytest.approx(1.0, abs=0.03)  # unit noise: what the network expects
    assert np.std(TileScale(background, 1.0, gain, read_noise).forward(sky)) < 0.8  # the bias taken for sky
    np.testing.assert_allclose(with_bias.inverse(with_bias.forward(sky)), sky, rtol=1e-5)

    done = fits.Header([*header.cards, ("ZEROCOR", "bias removed")])  # ccdproc's mark: nothing left to take off
    fits.PrimaryHDU(sky.astype(np.float32), done).writeto(tmp_path / "reduced.fits")
    with FitsImage(tmp_path / "reduced.fits") as image:
        assert overscan_pedestal(image) == (0.0, "")
    with FitsImage(path) as image:  # the strip is not sky: masked like a bad pixel, in any region
        assert image.bad_pixels()[:, :10].all() and not image.bad_pixels()[:, 10:].any()
        assert image.bad_pixels(Region(50, 60, 5, 20)).sum() == 10 * 5
        assert not image.bad_pixels(Region(50, 60, 100, 120)).any()
    fits.PrimaryHDU(sky.astype(np.float32), fits.Header([("BIASSEC", "[ 1:10 , * ]")])).writeto(tmp_path / "star.fits")
    with FitsImage(tmp_path / "star.fits") as image:  # IRAF's "*": the whole axis
        assert image.overscan == Region(0, 200, 0, 10)
    for section in ("[1:10]", "[1:400,1:200]", "[0:10,1:200]", "strip"):  # not a section of this image
        fits.PrimaryHDU(sky.astype(np.float32), fits.Header([("BIASSEC", section)])).writeto(tmp_path / "bad.fits")
        with caplog.at_level("WARNING"), FitsImage(tmp_path / "bad.fits") as image:
            assert image.overscan is None and not image.bad_pixels().any()  # read as a frame without a strip
        assert f"BIASSEC = {section!r} is not a section" in caplog.text and "bad.fits" in caplog.text
        (tmp_path / "bad.fits").unlink()
