"""Track end points: heatmap targets and peaks, the PCA line-end baseline, efficiency and purity by hand."""

import numpy as np
import pytest

from sciimg.baselines.detector3d_keypoints import PCAEnds
from sciimg.data.detector3d_dataset import render_heat
from sciimg.evaluate.detector3d_keypoints import curve, method_metrics, operating_point
from sciimg.inference.detector3d_keypoints import heat_peaks


def test_heat_is_one_at_the_nearest_occupied_voxel_and_gaussian_around_the_keypoint():
    occupied = np.zeros((8, 8, 8), bool)
    occupied[2, 2, 3] = True  # the keypoint's own voxel (2, 2, 2) holds no charge
    heat, centres = render_heat(occupied, np.array([[2.5, 2.5, 2.5], [7.9, 7.9, 0.1]]), heat_sigma=1.0)
    assert np.argwhere(centres).tolist() == [[2, 2, 3]]  # the second keypoint has no charge within 2 voxels
    assert heat[2, 2, 3] == 1.0
    assert heat[2, 2, 2] == pytest.approx(1.0)  # its own voxel centre: distance 0
    assert heat[2, 3, 2] == pytest.approx(np.exp(-0.5))
    assert heat[7, 7, 0] == pytest.approx(np.exp(-(0.4**2 * 3) / 2), rel=1e-5)
    assert heat[6, 6, 6] == 0.0  # beyond 3 sigma of both


def test_peaks_are_local_maxima_above_the_floor_and_ties_keep_the_first():
    coords = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3], [0, 0, 9], [0, 0, 10], [5, 5, 5]])
    heat = np.array([0.1, 0.5, 0.3, 0.02, 0.6, 0.6, 0.04])
    np.testing.assert_array_equal(heat_peaks(coords, heat, radius=2.0, floor=0.05), [1, 4])


def test_pca_ends_are_the_extremes_of_a_straight_cluster_and_bent_clusters_give_none():
    line = np.array([[2, 2, x] for x in range(2, 21)])
    points, scores = PCAEnds(min_voxels=5, linearity=0.9).find(line, np.ones(len(line)))
    assert sorted(map(tuple, points.tolist())) == [(2, 2, 2), (2, 2, 20)]
    assert np.all(scores > 0.99)
    square = np.array([[2, y, x] for y in range(6) for x in range(6)])
    assert len(PCAEnds(min_voxels=5, linearity=0.9).find(square, np.ones(len(square)))[0]) == 0
    faint = PCAEnds(threshold=2.0, min_voxels=5, linearity=0.9)
    assert len(faint.find(line, np.ones(len(line)))[0]) == 0  # every voxel at or below the threshold


def test_efficiency_and_purity_follow_the_score_cut():
    truth = [np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]])]
    found = [(np.array([[0.0, 0.0, 1.0], [20.0, 20.0, 20.0], [10.0, 10.0, 12.0]]), np.array([0.9, 0.8, 0.3]))]
    cuts = np.array([0.3, 0.8, 0.9])
    result = curve(truth, found, 3.0, cuts)
    np.testing.assert_allclose(result["efficiency"], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(result["purity"], [2 / 3, 0.5, 1.0])
    assert operating_point(result, cuts) == {"efficiency": 0.5, "purity": 1.0, "cut": 0.9}
    assert operating_point(result, cuts, target=0.6) == {"efficiency": 1.0, "purity": 2 / 3, "cut": 0.3}
    tight = curve(truth, found, 1.5, cuts)  # (10, 10, 12) is 2 voxels away: no longer a match
    np.testing.assert_allclose(tight["efficiency"], [0.5, 0.5, 0.5])
    metrics = method_metrics(truth, found)
    assert metrics["n_points"] == 3 and metrics["efficiency_at_purity_0.9_within_3_voxels"] == 0.5
    assert metrics["efficiency_all_points_within_10_voxels"] == 1.0
