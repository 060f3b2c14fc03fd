"""The LArTPC-like simulator: reproducible events, conserved energy, physical shapes, truth that matches the readout."""

import numpy as np
import pytest

from sciimg.io.volumes import read_volume_events
from sciimg.simulate.detector3d import (
    LABELS,
    MICHEL,
    MUON_MEV,
    NOISE,
    PROTON_MEV,
    TRACK,
    DetectorModel,
    EventBuilder,
    EventModel,
    bragg_kleeman_dedx,
    simulate_detector3d_file,
    simulate_events,
)


def test_same_seed_same_events_and_each_event_depends_only_on_its_index():
    detector, events = DetectorModel(grid=32), EventModel()
    first = list(simulate_events(4, 3, detector, events))
    again = list(simulate_events(6, 3, detector, events))[:4]
    other = list(simulate_events(4, 4, detector, events))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.coords, b.coords)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.semantic, b.semantic)
    assert not all(len(a.values) == len(c.values) for a, c in zip(first, other, strict=True))


def test_stopping_power_rises_towards_the_end_of_the_range_and_never_falls_below_minimum_ionisation():
    assert bragg_kleeman_dedx(5.0, PROTON_MEV) > 3 * bragg_kleeman_dedx(200.0, PROTON_MEV)
    assert bragg_kleeman_dedx(5000.0, MUON_MEV) == pytest.approx(2.1)
    # about 12 MeV/cm for a 50 MeV proton in liquid argon (PSTAR)
    assert 9 < bragg_kleeman_dedx(50.0, PROTON_MEV) < 16


def test_a_stopping_proton_deposits_its_energy_and_ends_in_a_bragg_peak():
    builder = EventBuilder(np.random.default_rng(0), DetectorModel(grid=256))
    walk = builder.walk(np.full(3, 128.0), np.array([0.0, 0.0, 1.0]), 150.0, PROTON_MEV, radiates=False)
    assert walk.left_mev <= 0
    assert sum(walk.energies) == pytest.approx(150.0)
    energies = np.array(walk.energies)
    assert energies[-10:].mean() > 3 * energies[:10].mean()
    length_cm = len(energies) * builder.step_cm
    assert 10 < length_cm < 20  # CSDA range of a 150 MeV proton in argon: about 15 cm


def test_a_stopping_muon_emits_a_michel_electron_at_its_end_point():
    builder = EventBuilder(np.random.default_rng(1), DetectorModel(grid=256))
    builder.heavy(np.full(3, 128.0), np.array([1.0, 0.0, 0.0]), 60.0, MUON_MEV, michel_probability=1.0)
    semantic = np.concatenate(builder.semantic)
    points = np.concatenate(builder.points)
    track_end = points[semantic == TRACK][-1]
    michel = points[semantic == MICHEL]
    assert len(michel) > 0
    assert np.linalg.norm(michel[0] - track_end) <= 1.0
    kinds = [kind for _, kind, _ in builder.keypoints]
    assert kinds == [0, 1]
    np.testing.assert_allclose(builder.keypoints[1][2], track_end)


def test_file_holds_every_class_noise_above_threshold_and_keypoints_inside(tmp_path):
    path = simulate_detector3d_file(tmp_path / "events.h5", 20, 5, grid=32, pitch_mm=3.0)
    events = list(read_volume_events(path))
    assert len(events) == 20
    semantic = np.concatenate([e.semantic for e in events])
    assert set(np.unique(semantic)) == set(range(len(LABELS)))
    values = np.concatenate([e.values for e in events])
    assert values.min() > DetectorModel().threshold_ke
    assert np.all(np.concatenate([e.instance for e in events])[semantic == NOISE] == -1)
    coords = np.concatenate([e.coords for e in events])
    assert coords.min() > 0 and coords.max() < 32 * 3.0
    keypoints = np.concatenate([e.keypoints for e in events])
    assert len(keypoints) > 0 and keypoints.min() >= 0 and keypoints.max() <= 32 * 3.0
    for event in events:
        assert event.truth["deposited_energy_mev"] <= event.truth["true_energy_mev"] + 1e-6


def test_dense_file_holds_the_same_voxels_as_the_sparse_one(tmp_path):
    sparse = list(read_volume_events(simulate_detector3d_file(tmp_path / "s.h5", 3, 2, grid=24)))
    dense = list(read_volume_events(simulate_detector3d_file(tmp_path / "d.h5", 3, 2, grid=24, format="dense")))
    for a, b in zip(sparse, dense, strict=True):
        np.testing.assert_allclose(a.coords, b.coords)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.semantic, b.semantic)
        assert a.truth == pytest.approx(b.truth)


def test_noisy_pixels_are_lines_along_drift_and_bursts_fill_one_chip_at_one_tick_on_top_of_the_same_event():
    quiet = list(simulate_events(6, 9, DetectorModel(grid=32), EventModel()))
    noisy = list(simulate_events(6, 9, DetectorModel(grid=32, noisy_pixels=2, coherent_bursts=2), EventModel()))
    n_pixels = n_bursts = n_pixel_hits = 0
    for a, b in zip(quiet, noisy, strict=True):
        old = {tuple(c): (v, s, i) for c, v, s, i in zip(a.coords, a.values, a.semantic, a.instance, strict=True)}
        new = {tuple(c): (v, s, i) for c, v, s, i in zip(b.coords, b.values, b.semantic, b.instance, strict=True)}
        assert old.items() <= new.items()  # structured noise only adds hits, in empty voxels
        added = np.array([c for c in new if c not in old])
        kinds = np.array([new[tuple(c)][2] for c in added])
        assert all(new[tuple(c)][1] == NOISE for c in added) and set(kinds) <= {-2, -3}
        pixels = added[kinds == -2]
        n_pixels += len({tuple(c[1:]) for c in pixels})  # each noisy pixel: one column (y, x), many ticks
        n_pixel_hits += len(pixels)
        bursts = added[kinds == -3]
        for z in set(bursts[:, 0]):  # each burst: one tick, inside one 8 x 8 chip
            n_bursts += 1
            patch = bursts[bursts[:, 0] == z]
            assert len({tuple(c) for c in patch[:, 1:] // 8}) == 1
    assert n_pixels >= 6 and n_bursts >= 6
    assert n_pixel_hits >= 3 * n_pixels  # lines along z, not single hits
