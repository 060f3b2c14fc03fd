"""FITS in and out: real files round-trip with headers and WCS identical; bad files are one clear error."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from sciimg import samples
from sciimg.errors import InputError
from sciimg.io.fits import FitsImage, Region, header_cards, read_image, write_image

REAL = [samples.path(name) for name in ("horsehead_plate", "m67_plate", "spitzer_irac", "saao_ccd")]


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_files_round_trip_with_headers_and_wcs_identical(path, tmp_path):
    data, bad, source = read_image(path)
    assert data.dtype == np.float32 and data.dtype.isnative
    raw = fits.getdata(path)
    np.testing.assert_array_equal(data, raw.astype(np.float32))
    overscan = np.zeros(raw.shape, bool)
    if source.overscan is not None:  # the raw CCD frame: its BIASSEC strip is not sky
        overscan[source.overscan.slices] = True
        assert overscan[:, 3:13].all() and overscan.sum() == 10 * 520  # BIASSEC [4:13,1:520]
    np.testing.assert_array_equal(bad, ~np.isfinite(raw) | overscan)
    dtype = raw.dtype.newbyteorder("=")
    kept = data.copy()
    long_line = "a line longer than one HISTORY card holds, " * 3
    out = write_image(tmp_path / path.name, data, source, ["round trip", long_line], {"seed": 1}, dtype=dtype)
    np.testing.assert_array_equal(data, kept)  # the caller's array is left alone
    again, _, written = read_image(out)
    np.testing.assert_array_equal(again, data)
    assert header_cards(written.header) == header_cards(source.header)
    if source.wcs is None:  # the raw CCD frame has none
        assert written.wcs is None
    else:
        assert written.wcs.to_header() == source.wcs.to_header()
    header = fits.getheader(out)
    assert header["BITPIX"] == fits.getheader(path)["BITPIX"]
    assert "sciimg: round trip" in str(header["HISTORY"]) and '"seed": 1' in header["SCIPROV"]
    ours = [str(v) for v in header["HISTORY"] if str(v).startswith("sciimg")]
    assert len(ours) == 4 and " ".join(v.removeprefix("sciimg: ") for v in ours[1:]) == long_line.strip()


def _multi_extension(path: Path, compressed: bool = False) -> np.ndarray:
    """Primary header + int16 SCI (BSCALE/BZERO unless compressed) with a WCS + DQ + a table."""
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 30000, size=(40, 50)).astype(np.int16)
    physical = counts.astype(np.float32) * 0.5 + 100.0
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval, wcs.wcs.crpix, wcs.wcs.cdelt = [150.0, 2.0], [25.0, 20.0], [-1e-4, 1e-4]
    header = wcs.to_header()
    header["FILTER"] = "r"
    if compressed:
        sci = fits.CompImageHDU(counts, header=header, name="SCI")
    else:
        sci = fits.ImageHDU(physical.copy(), header=header, name="SCI")  # scale() rewrites its array
        sci.scale("int16", bscale=0.5, bzero=100.0)
    dq = np.zeros((40, 50), np.int16)
    dq[3, 4] = 4
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = "test"
    table = fits.BinTableHDU.from_columns([fits.Column("a", "E", array=np.ones(3))], name="CAT")
    fits.HDUList([primary, sci, fits.ImageHDU(dq, name="DQ"), table]).writeto(path)
    return counts.astype(np.float32) if compressed else physical


def test_science_hdu_by_name_with_scaling_dq_and_regions(tmp_path):
    path = tmp_path / "mef.fits"
    expected = _multi_extension(path)
    with FitsImage(path) as image:  # SCI found by name; DQ found by name
        assert image.extname == "SCI" and image.shape == (40, 50)
        values = image.read()
        np.testing.assert_allclose(values, expected)
        bad = image.bad_pixels()
        assert bad.sum() == 1 and bad[3, 4]
        np.testing.assert_array_equal(image.read(Region(5, 9, 10, 30)), values[5:9, 10:30])
        assert image.wcs is not None and image.primary_header["TELESCOP"] == "test"
    _, _, source = read_image(path, hdu=1)
    out = write_image(tmp_path / "out.fits", expected + 1, source, masks={"BADPIX": bad})
    with fits.open(out) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "BADPIX"]
        assert hdul[0].header["TELESCOP"] == "test" and hdul["SCI"].header["FILTER"] == "r"
        assert hdul["BADPIX"].data.sum() == 1


def test_compressed_file_reads_by_tiles(tmp_path):
    path = tmp_path / "mef.fits.fz"
    expected = _multi_extension(path, compressed=True)
    with FitsImage(path, hdu="SCI") as image:
        np.testing.assert_array_equal(image.read(), expected)
        np.testing.assert_array_equal(image.read(Region(10, 20, 0, 7)), image.read()[10:20, :7])


def test_bad_inputs_are_one_clear_error(tmp_path):
    path = tmp_path / "mef.fits"
    _multi_extension(path)
    with pytest.raises(InputError, match=r"mef\.fits: HDU 'CAT' is a BinTableHDU \(a table\), not an image"):
        FitsImage(path, hdu="CAT")
    with pytest.raises(InputError, match="has no HDU named 'NOPE'"):
        FitsImage(path, hdu="NOPE")
    cut = tmp_path / "cut.fits"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match=r"cut\.fits: not a readable FITS file"):
        FitsImage(cut)
    nan = tmp_path / "nan.fits"
    fits.PrimaryHDU(np.full((8, 8), np.nan, np.float32)).writeto(nan)
    with pytest.raises(InputError, match=r"nan\.fits: image has no usable pixel"):
        read_image(nan)
    text = tmp_path / "text.fits"
    text.write_text("not a FITS file at all\n" * 200)
    with pytest.raises(InputError, match=r"text\.fits: not a readable FITS file"):
        FitsImage(text)


def test_image_without_wcs_works_and_says_so(tmp_path):
    path = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.ones((8, 9), np.float32)).writeto(path)
    data, bad, image = read_image(path)
    assert image.wcs is None and data.shape == (8, 9) and not bad.any()


def test_a_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.ones((8, 9), np.float32)).writeto(path)
    _, _, image = read_image(path)
    with pytest.raises(ValueError, match="shape"):
        write_image(tmp_path / "out.fits", np.ones((3, 3)), image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.fits"]
