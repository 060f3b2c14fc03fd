"""Temperature fields: simulator, masks, ingest by whole years, bounded memory, samples."""

import json
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from sciimg import samples
from sciimg.config import validate_config
from sciimg.data.climate_dataset import FieldDataset
from sciimg.data.masks import coverage_from_file, draw_masks, nearest_index
from sciimg.errors import InputError
from sciimg.io.store import SampleStore
from sciimg.kinds import ingest
from sciimg.simulate.climate import simulate_climate_file

GRID = {"lat_min": 20, "lat_max": 60, "lon_min": -20, "lon_max": 40, "dlat": 2.5, "dlon": 2.5}


def spec(**data) -> dict:
    experiment = {
        "modality": "climate",
        "task": "inpainting",
        "seed": 3,
        "data": {"simulate": {"n_years": 5}, "split": {"train": 0.6, "val": 0.2, "test": 0.2}, **data},
        "model": {"backbone_options": {"widths": [4, 8]}},
    }
    return validate_config({"experiments": {"x": experiment}})["experiments"]["x"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "sim.nc"
    return simulate_climate_file(path, n_years=5, seed=1, grid=GRID)


def test_simulator_is_seeded_cf_and_physical(simulated, tmp_path):
    again = simulate_climate_file(tmp_path / "again.nc", n_years=5, seed=1, grid=GRID)
    a, b = xr.open_dataset(simulated), xr.open_dataset(again)
    np.testing.assert_array_equal(a.tas.values, b.tas.values)
    assert a.tas.attrs["standard_name"] == "air_temperature" and a.tas.attrs["units"] == "K"
    assert a.lat.attrs["standard_name"] == "latitude" and a.sftlf.attrs["standard_name"] == "land_area_fraction"
    tas = a.tas.values
    assert tas.shape == (60, 16, 24) and tas.min() > 220 and tas.max() < 320
    north, south = tas[:, -1].mean(), tas[:, 0].mean()
    assert north < south - 10  # colder towards the pole
    july, january = tas[6::12].mean(), tas[0::12].mean()
    assert july > january + 3  # northern summer
    anomaly = tas - np.stack([tas[m::12].mean(0) for m in range(12)] * 5)
    lag1 = np.corrcoef(anomaly[1:].ravel(), anomaly[:-1].ravel())[0, 1]
    assert 0.3 < lag1 < 0.9  # anomalies persist from month to month


def test_generated_masks_reach_their_coverage_and_thin_out_back_in_time():
    lat, lon = np.arange(-88.75, 90, 2.5), np.arange(2.5, 360, 5.0)
    for kind in ("stations", "swaths", "boxes"):
        masks = draw_masks({"kind": kind, "coverage": [0.1, 0.6]}, lat, lon, np.array([0, 99]), 100, seed=1)
        assert masks[0].mean() < 0.2 and 0.45 < masks[1].mean() < 0.75, kind
        again = draw_masks({"kind": kind, "coverage": [0.1, 0.6]}, lat, lon, np.array([99]), 100, seed=1)
        np.testing.assert_array_equal(again[0], masks[1])  # a mask depends on (seed, index) only


def test_real_coverage_maps_onto_another_grid_across_longitude_conventions(tmp_path):
    lat_src, lon_src = np.array([-45.0, 45.0]), np.array([-135.0, -45.0, 45.0, 135.0])  # -180..180
    values = np.full((1, 2, 4), np.nan, np.float32)
    values[0, 1, 0] = 0.5  # observed only at 45N, 135W
    ds = xr.Dataset(
        {"tas": (("time", "lat", "lon"), values, {"standard_name": "air_temperature_anomaly", "units": "K"})},
        coords={
            "time": [0.0],
            "lat": ("lat", lat_src, {"units": "degrees_north"}),
            "lon": ("lon", lon_src, {"units": "degrees_east"}),
        },
    )
    ds.to_netcdf(tmp_path / "cov.nc")
    lat, lon = np.array([50.0, 40.0, -40.0]), np.array([220.0, 230.0, 10.0])  # descending, 0..360
    patterns = coverage_from_file(tmp_path / "cov.nc", lat, lon)
    expected = np.zeros((1, 3, 3), bool)
    expected[0, :2, :2] = True  # 220E and 230E are 140W and 130W
    np.testing.assert_array_equal(patterns, expected)
    np.testing.assert_array_equal(nearest_index(np.array([0.0, 350.0]), np.array([357.0, 346.0]), 360.0), [0, 1])


def test_ingest_keeps_whole_years_apart_and_fits_the_climatology_on_train_only(simulated, tmp_path):
    experiment = spec(masks={"kind": "stations", "coverage": [0.3, 0.5]})
    outputs = ingest([simulated], tmp_path / "a", experiment)
    stores = {name: SampleStore(path) for name, path in outputs.items()}
    years = {name: set(s.read("meta/year").tolist()) for name, s in stores.items()}
    assert not (years["train"] & years["test"]) and not (years["train"] & years["val"])
    assert sum(len(s) for s in stores.values()) == 60 and all(len(s) % 12 == 0 for s in stores.values())
    test = stores["test"]
    image, target, mask = test.read("image"), test.read("target"), test.read("mask").astype(bool)
    np.testing.assert_array_equal(image[mask], target[mask])
    assert np.isnan(image[~mask]).all() and 0.25 < mask.mean() < 0.55
    truth = xr.open_dataset(simulated).tas.values
    steps = test.read("meta/step")
    clim = test.read("extra/climatology")[test.read("meta/month") - 1]
    np.testing.assert_allclose(target[:, 0] + clim, truth[steps], atol=1e-4)

    # changing the test years' values leaves the train climatology and the scale unchanged
    warmed = tmp_path / "warmed.nc"
    warmed.write_bytes(simulated.read_bytes())
    with netCDF4.Dataset(warmed, "r+") as nc:
        nc["tas"][steps] = nc["tas"][steps] + 5.0
    other = ingest([warmed], tmp_path / "b", experiment)
    again = SampleStore(other["test"])
    np.testing.assert_array_equal(again.read("extra/climatology"), test.read("extra/climatology"))
    assert again.attrs["normalisation"] == test.attrs["normalisation"]
    np.testing.assert_allclose(again.read("target"), target + 5.0, atol=1e-4)


def test_all_nan_field_is_one_error_and_writes_nothing(simulated, tmp_path):
    empty = tmp_path / "empty.nc"
    empty.write_bytes(simulated.read_bytes())
    with netCDF4.Dataset(empty, "r+") as nc:
        nc["tas"][:] = np.nan
    with pytest.raises(InputError, match=r"empty.nc: the temperature variable is NaN everywhere"):
        ingest([empty], tmp_path / "out", spec())
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_items_mask_neighbours_from_other_splits_and_shuffle_masks_by_epoch(simulated, tmp_path):
    outputs = ingest([simulated], tmp_path / "s", spec(time_window=3))
    plain = FieldDataset(outputs["test"], time_window=3)
    first = plain[0]  # January of a test year: December before it is in another split (or none)
    assert first["image"].shape == (3, 16, 24) and first["target"].shape == (1, 16, 24)
    assert first["mask"][0].sum() == 0 and first["mask"][1].sum() > 0
    shuffled = FieldDataset(outputs["test"], train=True, seed=1, augment={"shuffle_masks": True}, time_window=3)
    a, b = shuffled[(0, 5)], shuffled[(0, 5)]
    assert np.array_equal(a["mask"], b["mask"])  # the same (seed, epoch, index), the same masks
    assert any(not np.array_equal(a["mask"], shuffled[(epoch, 5)]["mask"]) for epoch in range(1, 6))
    seen = a["mask"][1].bool()
    np.testing.assert_allclose(a["image"][1][seen], a["target"][0][seen])
    depth = FieldDataset(outputs["test"], time_window=3, time_axis="depth")
    assert depth[0]["image"].shape == (1, 3, 16, 24) and depth.spatial_dims == 3


PEAK_SCRIPT = """
import sys, json
import sciimg.data.ingest_climate as ingest
ingest.BLOCK_BYTES = 1 << 20
from pathlib import Path
spec = json.loads(sys.argv[3])
ingest.ingest_climate([Path(sys.argv[1])], Path(sys.argv[2]), spec)
status = open("/proc/self/status").read()  # VmHWM: this process's peak (ru_maxrss counts the forking parent)
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
"""


BIG_GRID = {"lat_min": -80, "lat_max": 80, "lon_min": 0, "lon_max": 360, "dlat": 1.25, "dlon": 2.8125}  # 128 x 128


def test_ingest_peak_memory_stays_flat_when_the_input_grows_tenfold(tmp_path):
    experiment = json.dumps(spec(masks={"kind": "boxes", "coverage": [0.5, 0.5]}))
    peaks, sizes = [], []
    for n_years in (10, 100):  # 7.9 MB and 79 MB of float32 (compressed on disk)
        path = simulate_climate_file(tmp_path / f"f{n_years}.nc", n_years, seed=0, grid=BIG_GRID)
        sizes.append(n_years * 12 * 128 * 128 * 4 / 2**20)
        out = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, str(path), str(tmp_path / f"o{n_years}"), experiment],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks.append(int(out.stdout.split()[-1]) / 1024)  # MiB
    growth = peaks[1] - peaks[0]
    assert sizes[1] > 70 and growth < 0.2 * (sizes[1] - sizes[0]), (peaks, sizes)


def test_real_files_ingest(tmp_path):
    """HadCM3 (annual, 360-day calendar) by years; WFDE5 (one month hourly, sea NaN) by days."""
    hadcm3 = spec(masks={"kind": "file", "file": str(samples.path("hadcrut4_gaps"))})
    outputs = ingest([samples.path("hadcm3_north_america")], tmp_path / "hadcm3", hadcm3)
    test = SampleStore(outputs["test"])
    assert 0.3 < test.read("mask").mean() < 0.8 and test.attrs["field_info"]["variable"] == "air_temperature"
    wfde5 = ingest([samples.path("wfde5_britain")], tmp_path / "wfde5", spec())
    stores = {name: SampleStore(path) for name, path in wfde5.items()}
    days = {name: {int(t // 24) for t in s.read("meta/time")} for name, s in stores.items()}  # hours since ...
    assert sum(len(s) for s in stores.values()) == 744 and not days["train"] & days["test"]
    domain = stores["test"].read("extra/domain")
    assert 0.2 < domain.mean() < 0.8  # the sea is outside the domain
    assert np.isnan(stores["test"].read("target")[:, 0][:, ~domain]).all()
    with pytest.raises(InputError, match=r"at least 3 different years \(or days\) to split"):
        ingest([samples.path("hadcrut4_gaps")], tmp_path / "hadcrut", spec())


def test_time_as_depth_trains_a_3d_partial_convolution_network(simulated, tmp_path):
    import torch
    from torch.utils.data import DataLoader

    from sciimg.tasks import InpaintingTask

    outputs = ingest([simulated], tmp_path / "d", spec(time_window=3, time_axis="depth"))
    batch = next(iter(DataLoader(FieldDataset(outputs["train"], time_window=3, time_axis="depth"), batch_size=4)))
    task = InpaintingTask(backbone_options={"widths": [4, 8]}, spatial_dims=3, in_channels=1, prefill_sigma=1.0)
    assert task.predictor.model.spatial_dims == 3
    loss = task.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss) and task.predictor.model.decoder[-1].conv.conv.weight.grad.abs().sum() > 0
    filled = task.predict_step(batch)["prediction"]
    seen = batch["mask"][:, :, 1].bool()
    assert filled.shape == (4, 1, 16, 24)
    torch.testing.assert_close(filled[seen], batch["image"][:, :, 1][seen])  # observations are kept


def test_denoising_store_baseline_and_evaluation(simulated, tmp_path):
    from sciimg.baselines.run import run_baseline
    from sciimg.evaluate.climate import evaluate_fields

    outputs = ingest([simulated], tmp_path / "n", spec(noise_std_k=0.8) | {"task": "denoising"})
    test = SampleStore(outputs["test"])
    noise = test.read("image") - test.read("target")
    assert abs(np.nanstd(noise) - 0.8) < 0.05 and test.read("mask").all()
    smoothed = run_baseline("gaussian_filter", outputs["train"], outputs["test"], tmp_path / "g.nc")
    metrics = evaluate_fields("denoise", {"gaussian_filter": smoothed}, outputs["test"], tmp_path / "eval")
    assert metrics["task"] == "denoising" and metrics["methods"]["gaussian_filter"]["rmse"] < 0.6


def test_weather_events_add_compact_heavy_tailed_anomalies_to_the_same_gaussian_part():
    from scipy.stats import kurtosis, skew

    from sciimg.simulate.climate import ClimateSimulator, regular_grid

    lat, lon = regular_grid(-90, 90, 0, 360, 5.0, 5.0)
    gaussian, weather = ClimateSimulator(lat, lon, 4), ClimateSimulator(lat, lon, 4, events_per_month=6)
    plain = np.stack([gaussian.anomaly() for _ in range(240)])
    stormy = np.stack([weather.anomaly() for _ in range(240)])
    events = stormy - plain  # the Gaussian part is drawn from its own stream: unchanged
    assert np.mean(np.abs(events) > 0.05) < 0.3  # compact: most cells are untouched in a month
    winter = np.isin(np.arange(240) % 12 + 1, (12, 1, 2))
    cells = (lat[:, None] > 40) & weather.land  # northern land in winter
    before, after = (a[winter][:, cells] - a[winter][:, cells].mean(0) for a in (plain, stormy))
    assert skew(after.ravel()) < skew(before.ravel()) - 0.1  # cold outbreaks: a longer cold tail
    assert kurtosis(after.ravel()) > kurtosis(before.ravel()) + 0.5  # heavy tails
    again = ClimateSimulator(lat, lon, 4, events_per_month=6)
    np.testing.assert_array_equal(np.stack([again.anomaly() for _ in range(240)]), stormy)


def test_items_on_a_global_grid_come_wrapped_round_the_date_line(tmp_path):
    grid = {"lat_min": -90, "lat_max": 90, "lon_min": 0, "lon_max": 360, "dlat": 10.0, "dlon": 10.0}
    raw = simulate_climate_file(tmp_path / "globe.nc", n_years=3, seed=2, grid=grid)
    stores = ingest([raw], tmp_path / "stores", spec(time_window=3))
    dataset = FieldDataset(stores["train"], time_window=3)
    item = dataset[1]
    assert dataset.pad == 9 and item["image"].shape == (3, 18, 36 + 18)
    image, valid = item["image"].numpy(), item["valid"][0].numpy()
    np.testing.assert_array_equal(image[..., :9], image[..., 36:45])  # west of 0E: the cells east of 350E ...
    np.testing.assert_array_equal(image[..., -9:], image[..., 9:18])  # ... and east of 360E: those of 0E on
    assert not valid[:, :9].any() and not valid[:, -9:].any() and valid[:, 9:-9].all()  # each cell counts once
    regional = simulate_climate_file(tmp_path / "region.nc", n_years=3, seed=1, grid=GRID)
    assert FieldDataset(ingest([regional], tmp_path / "r", spec())["train"]).pad == 0
