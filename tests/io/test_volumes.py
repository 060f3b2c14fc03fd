"""Detector-volume files and their ingest (sparse, dense, larnd-sim); bad input: a clear error or a counted skip."""

import json

import h5py
import numpy as np
import pytest

from sciimg import samples
from sciimg.data.ingest_detector3d import read_grid_events
from sciimg.errors import InputError
from sciimg.io.store import SampleStore
from sciimg.io.volumes import SparseEvent, read_volume_events, write_sparse_volumes
from sciimg.kinds import ingest

LARNDSIM = samples.path("larndsim_cosmics")
ATTRS = {
    "grid": [16, 16, 16],
    "pitch_mm": 2.0,
    "origin_mm": [0.0, 0.0, 0.0],
    "classes": ["a", "b"],
    "value_units": "ke-",
}


def spec(**data):
    return {
        "modality": "detector3d",
        "task": "segmentation",
        "seed": 1,
        "data": {"grid": 16, "split": {"train": 0.5, "val": 0.25, "test": 0.25}, **data},
        "model": {},
    }


def event(event_id, coords, values, semantic=None):
    coords = np.asarray(coords)
    semantic = np.zeros(len(coords), np.int8) if semantic is None else np.asarray(semantic, np.int8)
    return SparseEvent(
        event_id, coords, np.asarray(values, np.float32), semantic=semantic, truth={"true_energy_mev": 1.0}
    )


def small_file(path, events):
    return write_sparse_volumes(path, events, ATTRS)


def test_points_outside_the_grid_negative_charges_and_empty_events_are_dropped_and_counted(tmp_path):
    path = small_file(
        tmp_path / "e.h5",
        [
            event(0, [[1, 1, 1], [2, 2, 2], [40, 1, 1]], [5.0, -1.0, 3.0]),  # one negative, one outside
            event(1, [[50, 50, 50]], [2.0]),  # nothing left: skipped
            event(2, [[3, 3, 3], [3, 3, 4]], [1.0, 2.0]),
            event(3, [[4, 4, 4]], [1.0]),
            event(4, [[5, 5, 5]], [1.0]),
        ],
    )
    events, grid, counts = read_grid_events([path], spec()["data"])
    assert [e.event_id for e in events] == [0, 2, 3, 4]
    assert counts["points with charge <= 0 dropped"] == 1
    assert counts["points outside the grid dropped"] == 2
    assert counts["events left empty skipped"] == 1
    assert grid.pitch_mm == 2.0
    np.testing.assert_array_equal(events[0].coords, [[1, 1, 1]])


def test_a_coarser_pitch_sums_charges_and_takes_the_label_of_the_larger_share(tmp_path):
    path = small_file(tmp_path / "e.h5", [event(0, [[0, 0, 0], [1, 1, 1], [1, 0, 1]], [1.0, 2.0, 4.0], [0, 1, 0])])
    [placed], _, _ = read_grid_events([path], spec(pitch_mm=4.0)["data"])
    np.testing.assert_array_equal(placed.coords, [[0, 0, 0]])
    assert placed.values[0] == pytest.approx(7.0)
    assert placed.semantic[0] == 0  # 1 + 4 of class 0 against 2 of class 1


def test_nan_charge_missing_dataset_and_missing_field_are_one_clear_error_and_nothing_is_written(tmp_path):
    bad = small_file(tmp_path / "nan.h5", [event(0, [[1, 1, 1]], [1.0]), event(7, [[1, 1, 1]], [np.nan])])
    out = tmp_path / "store"
    with pytest.raises(InputError, match=r"nan\.h5: event 7 has NaN"):
        ingest([bad], out, spec())
    assert not out.exists() or not any(out.iterdir())
    missing = tmp_path / "missing.h5"
    with h5py.File(missing, "w") as h5:
        h5.create_dataset("voxels", data=np.zeros(3, [("z", "f4"), ("y", "f4"), ("x", "f4"), ("value", "f4")]))
    with pytest.raises(InputError, match=r"missing\.h5: dataset 'events' is missing"):
        list(read_volume_events(missing))
    no_field = tmp_path / "no_field.h5"
    with h5py.File(no_field, "w") as h5:
        h5.create_dataset("voxels", data=np.zeros(3, [("z", "f4"), ("y", "f4"), ("x", "f4")]))
        h5.create_dataset("events", data=np.zeros(1, [("event_id", "i8"), ("first_voxel", "i8"), ("n_voxels", "i8")]))
    with pytest.raises(InputError, match=r"no_field\.h5: dataset 'voxels' must have fields \['value'\]"):
        list(read_volume_events(no_field))
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(InputError, match="not an HDF5 file"):
        list(read_volume_events(text))


def test_ingest_writes_labelled_volumes_and_the_occupied_voxel_lists(tmp_path):
    events = [event(i, [[1, 2, 3], [i % 16, 5, 6]], [2.0, 4.0], [0, 1]) for i in range(1, 9)]
    path = small_file(tmp_path / "e.h5", events)
    outputs = ingest([path], tmp_path / "store", spec())
    store = SampleStore(outputs["train"])
    assert store.attrs["grid"]["shape"] == [16, 16, 16]
    assert store.attrs["classes"] == ["a", "b"]
    meta, extra = store.meta(), store.extra()
    for row in range(len(store)):
        sample = store[row]
        rows = slice(meta["first_occupied"][row], meta["first_occupied"][row] + meta["n_occupied"][row])
        coords = extra["occupied"][rows]
        np.testing.assert_array_equal(np.argwhere(sample["image"][0] > 0), coords)
        np.testing.assert_array_equal(sample["image"][(0, *coords.T)], extra["occupied_value"][rows])
        np.testing.assert_array_equal(sample["labels"][tuple(coords.T)], extra["occupied_semantic"][rows])
        assert (sample["labels"] >= 0).sum() == len(coords)


def test_larndsim_hits_get_z_from_drift_time_and_fitted_tracks_become_keypoints():
    events = list(read_volume_events(LARNDSIM))
    assert len(events) == 324
    with h5py.File(LARNDSIM) as h5:
        first = h5["events"][0]
        hits = h5["hits"][first["hit_ref"]]
        track = h5["tracks"][first["track_ref"]][0]
        z_scale = h5["tracks"].attrs["vd"] * h5["tracks"].attrs["clock_period"]
    np.testing.assert_allclose(events[0].coords[:, 0], (hits["ts"] - first["ts_start"]) * z_scale)
    np.testing.assert_allclose(events[0].coords[:, 2], hits["px"])
    np.testing.assert_allclose(events[0].keypoints[0], track["start"][[2, 1, 0]])
    np.testing.assert_allclose(events[0].keypoints[1], track["end"][[2, 1, 0]])
    assert list(events[0].keypoint_kind) == [0, 1]


def test_larndsim_ingests_onto_its_pixel_pitch_with_every_positive_hit_and_track_end_kept(tmp_path):
    data = {"grid": [16, 72, 72], "pitch_mm": 4.434, "split": {"train": 0.7, "val": 0.15, "test": 0.15}}
    outputs = ingest([LARNDSIM], tmp_path, {**spec(), "task": "keypoints", "data": data})
    stores = [SampleStore(p) for p in outputs.values()]
    skipped = stores[0].attrs["skipped"]
    assert skipped["points with charge <= 0 dropped"] == 2187
    assert skipped.get("points outside the grid dropped", 0) == 0
    assert skipped.get("keypoints outside the grid dropped", 0) == 0
    assert sum(len(s) for s in stores) == 324
    assert sum(len(s.read("extra/keypoints")) for s in stores) == 2 * 433
    assert "labels" not in stores[0].keys
    json.dumps(stores[0].attrs)


def test_dead_readout_columns_read_nothing_and_their_charge_is_counted(tmp_path):
    from sciimg.simulate.detector3d import simulate_detector3d_file

    path = simulate_detector3d_file(tmp_path / "dead.h5", 6, 3, grid=24, pitch_mm=2.0, dead_fraction=0.3)
    events = list(read_volume_events(path))
    dead = np.concatenate([e.dead for e in events])
    assert 0.05 < dead.mean() < 0.6
    placed, _, counts = read_grid_events([path], spec(grid=24)["data"])
    assert counts["points in dead readout columns dropped"] == dead.sum()
    columns = {tuple(c) for e in events for c in e.coords[e.dead][:, 1:] // 2.0}
    kept = {tuple(c) for e in placed for c in e.coords[:, 1:]}
    assert columns and not columns & kept


def test_a_regression_store_keeps_its_target_and_skips_events_with_nothing_deposited(tmp_path):
    events = [event(i, [[i % 16, 2, 3]], [float(i + 1)]) for i in range(8)]
    for i, e in enumerate(events):
        e.truth = {"deposited_energy_mev": float(i), "true_energy_mev": 2.0 * i + 1}  # event 0: nothing deposited
    path = small_file(tmp_path / "e.h5", events)
    regression = {**spec(target="deposited_energy_mev"), "task": "regression"}
    outputs = ingest([path], tmp_path / "stores", regression)
    stores = [SampleStore(p) for p in outputs.values()]
    assert sum(len(s) for s in stores) == 7
    assert stores[0].attrs["skipped"]["events with deposited_energy_mev <= 0 skipped (log10 target)"] == 1
    for store in stores:
        assert store.attrs["target_name"] == "deposited_energy_mev" and store.attrs["units"]["target"] == "MeV"
        meta = store.meta()
        np.testing.assert_array_equal(meta["deposited_energy_mev"], meta["event_id"])  # each event keeps its own
    linear = {**regression, "model": {"target_log10": False}}
    assert sum(len(SampleStore(p)) for p in ingest([path], tmp_path / "linear", linear).values()) == 8
    for e in events:
        e.truth = {"true_energy_mev": 1.0}
    with pytest.raises(InputError, match="deposited_energy_mev"):
        ingest([small_file(tmp_path / "no_truth.h5", events)], tmp_path / "none", regression)
    assert not (tmp_path / "none").exists() or not list((tmp_path / "none").iterdir())


def test_a_denoising_store_has_signal_and_noise_labels_and_keeps_each_voxels_class(tmp_path):
    classes = ["track", "shower", "noise"]
    events = [event(i, [[1, 2, 3], [i % 16, 5, 6], [9, 9, 9]], [2.0, 4.0, 1.0], [0, 1, 2]) for i in range(1, 9)]
    path = write_sparse_volumes(tmp_path / "e.h5", events, {**ATTRS, "classes": classes})
    denoising = {**spec(), "task": "denoising"}
    outputs = ingest([path], tmp_path / "store", denoising)
    store = SampleStore(outputs["train"])
    assert store.attrs["classes"] == ["signal", "noise"] and store.attrs["truth_classes"] == classes
    extra = store.extra()
    np.testing.assert_array_equal(extra["occupied_truth_class"], np.tile([0, 1, 2], len(store)))
    np.testing.assert_array_equal(extra["occupied_semantic"], np.tile([0, 0, 1], len(store)))
    labels = store[0]["labels"]
    assert labels[9, 9, 9] == 1 and labels[1, 2, 3] == 0 and (labels >= 0).sum() == 3
    no_noise = write_sparse_volumes(tmp_path / "n.h5", events, ATTRS)  # classes a, b: no noise class
    with pytest.raises(InputError, match=r"n\.h5: denoising needs .* naming 'noise', got classes \['a', 'b'\]"):
        ingest([no_noise], tmp_path / "none", denoising)
    assert not (tmp_path / "none").exists() or not list((tmp_path / "none").iterdir())
