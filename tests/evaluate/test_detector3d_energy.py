"""Energy of detector events: the calorimetric baseline and the evaluation against the deposited energy."""

import json

import numpy as np
import pytest
from astropy.table import Table

from sciimg.baselines.detector3d_calorimetric import Calorimetric
from sciimg.errors import InputError
from sciimg.evaluate.regression import compare_overall, evaluate_energy
from sciimg.io.volumes import SparseEvent, write_sparse_volumes
from sciimg.kinds import get_kind, ingest

ATTRS = {"grid": [8, 8, 8], "pitch_mm": 3.0, "origin_mm": [0.0, 0.0, 0.0], "classes": ["a"], "value_units": "ke-"}


def test_calorimetric_constant_is_the_median_energy_per_charge_of_usable_train_events():
    meta = {"charge_sum": np.array([1.0, 2.0, 4.0, 0.0])}
    method = Calorimetric().fit(meta, np.array([2.0, 4.4, 7.6, 1.0]))  # ratios 2, 2.2, 1.9; no charge: unused
    assert method.mev_per_charge == pytest.approx(2.0)
    np.testing.assert_allclose(method.predict({"charge_sum": np.array([3.0, 10.0])}), [6.0, 20.0])
    with pytest.raises(InputError, match="no training event"):
        Calorimetric().fit({"charge_sum": np.zeros(3)}, np.ones(3))


def test_overall_ratio_decides_the_volume_target():
    model = {"resolution": [0.1, None], "resolution_all": 0.12}
    baseline = {"resolution": [0.2, 0.3], "resolution_all": 0.2}
    result = compare_overall(model, baseline)
    assert result["resolution_ratio"] == [0.5, None]
    assert result["resolution_ratio_all"] == pytest.approx(0.6) and result["targets_met"]
    assert not compare_overall({**model, "resolution_all": 0.17}, baseline)["targets_met"]


@pytest.fixture
def test_store(tmp_path):
    rng = np.random.default_rng(0)
    events = []
    for i in range(120):
        event = SparseEvent(
            i, np.array([[i % 8, 1, 2]]), np.array([1.0 + i], np.float32), semantic=np.zeros(1, np.int8)
        )
        event.truth = {"deposited_energy_mev": float(10 ** rng.uniform(0.5, 2.5))}
        events.append(event)
    path = write_sparse_volumes(tmp_path / "events.h5", events, ATTRS)
    spec = {
        "modality": "detector3d",
        "task": "regression",
        "seed": 1,
        "data": {"grid": 8, "split": {"train": 0.1, "val": 0.1, "test": 0.8}, "target": "deposited_energy_mev"},
        "model": {},
    }
    return ingest([path], tmp_path / "stores", spec)["test"]


def _table(path, ids, truth, reco):
    table = Table({"event_id": ids, "deposited_energy_mev": truth, "reco_deposited_energy_mev": reco})
    table.write(path, format="ascii.ecsv")
    return str(path)


def test_evaluation_bins_the_deposited_energy_in_mev_and_compares_resolutions(test_store, tmp_path):
    from sciimg.io.store import SampleStore

    meta = SampleStore(test_store).meta()
    ids, truth = meta["event_id"], meta["deposited_energy_mev"]
    rng = np.random.default_rng(1)
    predictions = {
        "cnn": _table(tmp_path / "cnn.ecsv", ids, truth, truth * 1.1),  # a pure 10 % bias
        "calorimetric": _table(tmp_path / "cal.ecsv", ids, truth, truth * (1 + rng.normal(0, 0.3, len(ids)))),
    }
    options = get_kind("detector3d", "regression").evaluate_options  # compared over all events, no camera images
    metrics = evaluate_energy("e", predictions, test_store, tmp_path / "out", **options)
    assert metrics["modality"] == "detector3d" and metrics["target"] == "deposited_energy_mev"
    assert metrics["bins"]["unit"] == "MeV" and metrics["bins"]["quantity"] == "deposited energy"
    cnn = metrics["methods"]["cnn"]
    assert cnn["bias_all"] == pytest.approx(0.1) and cnn["resolution_all"] == pytest.approx(0.1)
    assert sum(cnn["n_events"]) == len(ids) == metrics["n_test_events"]
    comparison = metrics["comparison"]["cnn/calorimetric"]
    ratio = 0.1 / metrics["methods"]["calorimetric"]["resolution_all"]
    assert comparison["resolution_ratio_all"] == pytest.approx(ratio) and comparison["targets_met"] == (ratio <= 0.8)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["bins"] == metrics["bins"]
    assert (tmp_path / "out" / "energy_resolution.png").is_file() and not (tmp_path / "out" / "examples.png").exists()
    short = _table(tmp_path / "short.ecsv", ids[:-1], truth[:-1], truth[:-1])
    with pytest.raises(InputError, match="events differ"):
        evaluate_energy("e", {"cnn": short}, test_store, tmp_path / "out2", **options)
