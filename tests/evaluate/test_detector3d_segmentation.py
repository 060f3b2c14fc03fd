"""Voxel segmentation: the metrics, the classical baseline's shape cuts, training crops and point-list inference."""

import numpy as np
import pytest
import torch

from sciimg.baselines.detector3d_segment import ThresholdPCA, clusters
from sciimg.data.detector3d_dataset import VolumeDataset, volume_input
from sciimg.evaluate.detector3d_segment import method_metrics
from sciimg.inference.detector3d import (
    MIN_WINDOW,
    OVERLAP,
    VOXELS_PER_PASS,
    charged_only,
    window_reader,
    window_side,
)
from sciimg.inference.sliding_window import sliding_window, window_starts
from sciimg.io.volumes import SparseEvent, write_sparse_volumes
from sciimg.kinds import ingest
from sciimg.scoring import class_scores
from sciimg.simulate.detector3d import LABELS
from sciimg.tasks import SegmentationTask

CLASSES = list(LABELS)


def test_class_scores_on_a_hand_counted_example():
    truth = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 2, 2])
    scores = class_scores(truth, predicted, 4)
    np.testing.assert_array_equal(scores["confusion"][:3, :3], [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_allclose(scores["precision"][:3], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(scores["recall"][:3], [2 / 3, 0.5, 1.0])
    np.testing.assert_allclose(scores["f1"][:3], [0.8, 0.5, 2 / 3])
    assert np.isnan(scores["f1"][3])  # a class nobody has: undefined, not zero
    metrics = method_metrics(truth, predicted, ["shower", "track", "michel", "noise"])
    assert metrics["mean_f1"] == pytest.approx(np.mean([0.8, 0.5, 2 / 3]))
    assert metrics["f1_noise"] is None


def test_baseline_calls_a_line_a_track_a_blob_a_shower_a_speck_low_energy_and_faint_hits_noise():
    line = np.stack([np.arange(20), np.full(20, 5), np.full(20, 5)], axis=1)
    blob = np.argwhere(np.ones((4, 4, 4))) + np.array([30, 30, 30])
    speck = np.array([[50, 2, 2]])
    faint = np.array([[10, 40, 40]])
    coords = np.concatenate([line, blob, speck, faint])
    values = np.r_[np.full(len(line) + len(blob) + 1, 10.0), 1.0]
    found = clusters(coords, values, threshold=2.0)
    assert len(found.size) == 3
    labels = ThresholdPCA(threshold=2.0, min_voxels=3, linearity=0.9)(coords, values, CLASSES)
    names = np.array(CLASSES)[labels]
    assert set(names[: len(line)]) == {"track"}
    assert set(names[len(line) : -2]) == {"shower"}
    assert names[-2] == "low_energy" and names[-1] == "noise"


def test_baseline_fit_picks_cuts_that_reproduce_the_labels_it_was_fitted_on():
    line = np.stack([np.arange(20), np.full(20, 5), np.full(20, 5)], axis=1)
    blob = np.argwhere(np.ones((4, 4, 4))) + np.array([30, 30, 30])
    coords = np.concatenate([line, blob, [[10, 40, 40]]])
    values = np.r_[np.full(len(line) + len(blob), 10.0), 1.0]
    truth = np.r_[np.full(len(line), 1), np.full(len(blob), 0), 5].astype(np.int8)
    method = ThresholdPCA.fit([(coords, values, truth)], CLASSES)
    np.testing.assert_array_equal(method(coords, values, CLASSES), truth)


@pytest.fixture(scope="module")
def volume_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("volumes")
    rng = np.random.default_rng(0)
    events = []
    for i in range(8):
        coords = rng.integers(0, 24, (30, 3))
        coords = np.unique(coords, axis=0)
        events.append(
            SparseEvent(
                i,
                coords,
                rng.uniform(1, 9, len(coords)).astype(np.float32),
                semantic=rng.integers(0, 6, len(coords)).astype(np.int8),
            )
        )
    attrs = {"grid": [24] * 3, "pitch_mm": 1.0, "origin_mm": [0.0] * 3, "classes": CLASSES, "value_units": "ke-"}
    path = write_sparse_volumes(tmp / "events.h5", events, attrs)
    spec = {
        "modality": "detector3d",
        "task": "segmentation",
        "seed": 2,
        "model": {},
        "data": {"grid": 24, "split": {"train": 0.5, "val": 0.25, "test": 0.25}},
    }
    return ingest([path], tmp / "store", spec)


def test_training_crops_hold_charge_stay_aligned_with_labels_and_repeat_for_the_same_key(volume_store):
    dataset = VolumeDataset(volume_store["train"], train=True, seed=3, patch_size=12, crops_per_event=3)
    assert len(dataset) == 3 * len(dataset.store)
    for key in [(0, 0), (1, 0), (0, 5)]:
        item = dataset[key]
        assert item["image"].shape == (1, 12, 12, 12) and item["labels"].shape == (12, 12, 12)
        charged = item["image"][0] > 0
        assert charged.any()
        torch.testing.assert_close(charged, item["labels"] >= 0)  # flips and swaps move both alike
        torch.testing.assert_close(dataset[key]["image"], item["image"])
    assert not torch.equal(dataset[(0, 0)]["image"], dataset[(1, 0)]["image"])
    val = VolumeDataset(volume_store["val"], train=False, seed=3, patch_size=12)
    torch.testing.assert_close(val[(0, 0)]["image"], val[(5, 0)]["image"])  # the same crop every epoch


def test_point_list_windows_equal_the_dense_volume_and_skipping_empty_windows_changes_no_occupied_voxel():
    torch.manual_seed(0)
    task = SegmentationTask(backbone_options={"encoder_options": {"widths": [4, 8], "blocks_per_stage": [1, 1]}})
    task.eval()
    rng = np.random.default_rng(1)
    coords = np.unique(rng.integers(0, 8, (40, 3)), axis=0) + np.array([2, 2, 2])  # charge in one corner of 40^3
    values = rng.uniform(1, 5, len(coords)).astype(np.float32)
    read = window_reader(coords, values, 2.0)
    dense = np.zeros((1, 40, 40, 40), np.float32)
    dense[(0, *coords.T)] = volume_input(values, 2.0)
    region = (slice(0, 16), slice(0, 16), slice(0, 16))
    np.testing.assert_array_equal(read(region), dense[(slice(None), *region)])

    def every(batch):
        return torch.softmax(task(batch), dim=1)

    full = sliding_window(read, (40, 40, 40), every, 16, 0.25, 2, 6)
    skipped = sliding_window(read, (40, 40, 40), charged_only(every, 6), 16, 0.25, 2, 6)
    np.testing.assert_allclose(skipped[(slice(None), *coords.T)], full[(slice(None), *coords.T)], atol=1e-6)


def test_volume_windows_tile_each_side_with_the_fewest_voxels_and_one_pass_stays_within_its_budget():
    assert window_side(64, MIN_WINDOW) == 64  # one window
    assert window_side(128, MIN_WINDOW) == 80  # two of 80 (160 voxels along the side) beat three of 64 (192)
    assert window_starts(128, 80, OVERLAP) == [0, 48]
    assert window_side(256, MIN_WINDOW) == 64  # five of 64 tie with four of 80: the smaller skips more empty space
    assert window_side(128, 96) == 96  # never below the trained patch
    assert all(window_side(side, MIN_WINDOW) ** 3 <= VOXELS_PER_PASS for side in range(16, 1025, 8))
