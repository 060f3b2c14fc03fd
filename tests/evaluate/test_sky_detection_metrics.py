"""Source detection metrics, matching, the streaming peak finder and the classical detectors."""

import numpy as np
import pytest
from astropy.table import Table

from sciimg.baselines.sky_denoise import Tile
from sciimg.baselines.sky_detect import SKY_DETECTORS
from sciimg.evaluate.sky_detect import DetectionTruth, binned_share, match_catalog, operating_point
from sciimg.inference.sky_detect import RowPeaks, peak_rows
from sciimg.scoring import match_positions, real_detections, threshold_for_purity
from sciimg.simulate.sky import Psf, add_stamp


def test_matching_is_one_to_one_within_the_radius():
    truth = np.array([[0.0, 0.0], [10.0, 10.0], [10.0, 11.2]])
    found = np.array([[0.5, 0.0], [10.0, 10.5], [30.0, 30.0], [0.2, 0.1]])
    t, f = match_positions(truth, found)
    assert sorted(zip(t.tolist(), f.tolist(), strict=True)) == [(0, 3), (1, 1)]  # the nearest pairs
    assert real_detections(truth, found).tolist() == [False, True, False, True]
    t, f = match_positions(truth, np.array([[0.0, 0.0], [0.1, 0.0]]))
    assert len(t) == 1  # two detections of one source: one is real, the other is not
    assert not match_positions(truth, np.array([[5.0, 5.0]]))[0].size


def test_threshold_for_purity_is_the_lowest_cut_that_reaches_it():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    real = np.array([True, True, False, True, True, False])
    assert threshold_for_purity(scores, real, 0.75) == 0.5  # 4 of the top 5
    assert threshold_for_purity(scores, real, 1.0) == 0.8
    assert threshold_for_purity(np.array([0.5, 0.5]), np.array([True, False]), 1.0) == 0.5  # best possible


def test_binned_share():
    assert binned_share(np.array([1.5, 1.6, 7.0]), np.array([True, False, True]), (1, 2, 5, 10)) == [0.5, None, 1.0]


def truth_of(sources: list[tuple[float, float, float, float]], shape=(64, 64)) -> DetectionTruth:
    rows = np.zeros(len(sources), [("tile", "<i8"), ("y", "<f4"), ("x", "<f4"), ("flux", "<f4"), ("snr", "<f4")])
    rows["y"], rows["x"], rows["flux"], rows["snr"] = np.array(sources).T
    image = np.zeros((1, *shape))
    return DetectionTruth([rows], image, image.copy(), np.ones(1), [rows["x"] < 4])


def test_operating_point_counts_completeness_purity_and_errors():
    truth = truth_of([(10, 10, 100, 5.5), (30, 30, 100, 5.5), (50, 2, 200, 20.0), (40, 12, 50, 1.5)])
    catalog = Table(
        {"tile": [0, 0, 0, 0], "x": [10.3, 30.0, 2.0, 55.0], "y": [10.0, 30.0, 50.0, 5.0], "flux": [110, 90, 200, 10]}
    )
    catalog["score"] = [0.9, 0.8, 0.95, 0.7]
    point = operating_point(match_catalog(catalog, truth, -np.inf))
    assert point["purity"] == 0.75 and point["completeness_at_snr_5"] == 1.0
    assert point["completeness_snr_above_5"] == 1.0 and point["completeness_at_edge"] == 1.0
    assert point["position_error_median_px"] == pytest.approx(0.0)
    assert point["flux_bias_median"] == pytest.approx(0.0)
    stricter = operating_point(match_catalog(catalog, truth, 0.85))
    assert stricter["purity"] == 1.0 and stricter["completeness_at_snr_5"] == 0.5


def test_peaks_of_blocks_handed_over_in_turn_equal_those_of_the_whole_image():
    rng = np.random.default_rng(0)
    heat = np.zeros((4, 50, 37), np.float32)
    heat[0] = rng.normal(size=(50, 37))
    heat[3] = rng.normal(size=(50, 37))
    usable = rng.uniform(size=(50, 37)) > 0.05
    whole = peak_rows(heat, usable, 1.0, (False, False))
    finder = RowPeaks(1.0, sigma=2.0)
    for first, last in ((0, 7), (7, 8), (8, 30), (30, 50)):
        finder.add(heat[:, first:last], usable[first:last], last=last == 50)
    table = finder.table()
    assert sorted(zip(table["y"].astype(int), table["x"].astype(int), strict=True)) == sorted(map(tuple, whole))
    assert len(whole) > 20


@pytest.mark.parametrize("name", sorted(SKY_DETECTORS))
def test_classical_detectors_find_isolated_stars_also_on_the_border(name):
    rng = np.random.default_rng(1)
    image = 100.0 + rng.normal(0, 5.0, (96, 96))
    psf = Psf(3.0, None, 0.0, 0.0)
    stars = [(20.3, 30.6), (60.0, 70.2), (48.4, 1.0), (80.0, 47.0)]
    for y, x in stars:
        add_stamp(image, 4000 * psf.stamp(9, x - round(x), y - round(y)), round(y), round(x))
    found = SKY_DETECTORS[name](Tile(image, np.ones(image.shape, bool), 100.0, 5.0))
    t, f = match_positions(np.array(stars), np.column_stack([found["y"], found["x"]]))
    assert len(t) == len(stars) and (found["score"][f] > 10).all()  # the border star too
    inner = t != 2  # the border star loses part of its light (and centroid) off the image
    offsets = np.hypot(found["y"][f] - np.array(stars)[t, 0], found["x"][f] - np.array(stars)[t, 1])
    assert (offsets[inner] < 0.3).all()
    np.testing.assert_allclose(found["flux"][f[inner]], 4000, rtol=0.15)
