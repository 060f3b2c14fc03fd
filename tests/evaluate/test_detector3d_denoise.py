"""Noise-voxel removal: the threshold + isolation baseline, kept voxels matched to the truth, metrics by hand."""

import numpy as np
import pytest

from sciimg.baselines.detector3d_denoise import ThresholdIsolated, noise_f1
from sciimg.errors import InputError
from sciimg.evaluate.detector3d_denoise import kept_mask, method_metrics
from sciimg.geometry.voxels import VoxelGrid
from sciimg.io.volumes import SparseEvent, write_sparse_volumes

LINE = [[5, 5, x] for x in range(2, 8)]  # a track: each inner voxel has two neighbours, the ends one


def test_isolation_removes_lone_hits_and_the_threshold_faint_ones():
    coords = np.array([*LINE, [12, 12, 12], [12, 13, 14]])  # a lone hit; a hit two voxels away from it
    values = np.array([5, 1, 5, 5, 5, 5, 9, 9], float)
    keep = ThresholdIsolated(threshold=-np.inf, min_neighbours=1).keep(coords, values)
    assert keep.tolist() == [True] * 6 + [False, False]
    # above a threshold of 2 the faint voxel is gone, and the end beside it loses its only neighbour
    keep = ThresholdIsolated(threshold=2.0, min_neighbours=1).keep(coords, values)
    assert keep.tolist() == [False, False, True, True, True, True, False, False]
    # two neighbours are needed: the ends of the line go
    keep = ThresholdIsolated(threshold=-np.inf, min_neighbours=2).keep(coords, values)
    assert keep.tolist() == [False, True, True, True, True, False, False, False]
    assert ThresholdIsolated().keep(np.zeros((0, 3)), np.zeros(0)).shape == (0,)


def test_fit_finds_the_cuts_that_separate_faint_lone_noise_from_a_line():
    rng = np.random.default_rng(0)
    events = []
    for _ in range(4):
        lone = rng.integers(20, 40, (5, 3)) * [1, 2, 3]  # far apart: isolated
        coords = np.concatenate([LINE, lone])
        values = np.concatenate([np.full(6, 5.0), np.full(5, 1.5)])
        events.append((coords, values, np.r_[np.zeros(6, bool), np.ones(5, bool)]))
    fitted = ThresholdIsolated.fit(events)
    for coords, values, noise in events:
        assert (~fitted.keep(coords, values)).tolist() == noise.tolist()


def test_noise_f1_by_hand():
    noise = np.array([1, 1, 0, 0, 0], bool)
    removed = np.array([1, 0, 1, 0, 0], bool)
    assert noise_f1(noise, removed) == pytest.approx(2 * 1 / (2 + 2))
    assert noise_f1(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_metrics_count_voxels_charge_classes_and_noise_kinds_by_hand():
    is_noise = np.array([0, 0, 0, 0, 1, 1, 1, 1], bool)
    kept = np.array([1, 1, 1, 0, 1, 0, 0, 0], bool)
    charge = np.array([4, 2, 2, 2, 1, 1, 1, 1], float)
    truth_class = np.array([0, 0, 1, 1, 5, 5, 5, 5])
    kind = np.array([3, 3, 4, 4, -1, -1, -2, -3])
    got = method_metrics(kept, is_noise, charge, 2, truth_class, ["shower", "track"], kind)
    assert got["noise_removed"] == 0.75 and got["signal_kept"] == 0.75
    assert got["signal_charge_kept"] == pytest.approx(8 / 10)
    assert got["kept_purity"] == 0.75 and got["noise_f1"] == pytest.approx(2 * 3 / (4 + 4))
    assert got["noise_left_per_event"] == 0.5
    assert got["noise_removed_isolated"] == 0.5
    assert got["noise_removed_noisy_pixel"] == got["noise_removed_coherent"] == 1.0
    assert got["kept_shower"] == 1.0 and got["kept_track"] == 0.5


def _write(path, events, grid):
    attrs = {"grid": list(grid.shape), "pitch_mm": grid.pitch_mm, "origin_mm": list(grid.origin_mm)}
    return write_sparse_volumes(path, events, attrs)


def test_kept_voxels_are_found_by_position_and_a_foreign_voxel_or_event_is_an_error(tmp_path):
    grid = VoxelGrid.of(8, 2.0, (10.0, 0.0, -4.0))
    coords = np.array([[0, 0, 0], [1, 2, 3], [7, 7, 7]])
    truth = [SparseEvent(3, coords, np.ones(3, np.float32)), SparseEvent(4, coords[:1], np.ones(1, np.float32))]
    kept_events = [SparseEvent(3, coords[[2, 0]], np.ones(2, np.float32)), SparseEvent(4, coords[:0], np.ones(0))]
    path = _write(tmp_path / "kept.h5", kept_events, grid)
    assert kept_mask(path, truth, grid).tolist() == [True, False, True, False]
    foreign = _write(tmp_path / "foreign.h5", [SparseEvent(3, [[2, 2, 2]], np.ones(1)), kept_events[1]], grid)
    with pytest.raises(InputError, match=r"foreign\.h5: event 3 keeps voxels the test event does not have"):
        kept_mask(foreign, truth, grid)
    with pytest.raises(InputError, match="events differ"):
        kept_mask(_write(tmp_path / "one.h5", kept_events[:1], grid), truth, grid)
