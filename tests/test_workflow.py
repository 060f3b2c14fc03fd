"""The whole workflow on the tiny config: DAG, outputs, reruns, the model in a fresh process."""

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import xarray as xr
import yaml
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from sciimg import samples
from sciimg.inference.load import load_model
from sciimg.io.fits import FitsImage, header_cards, read_image
from sciimg.io.store import SampleStore
from sciimg.simulate.sky import SkyOptions, simulate_image

ROOT = Path(__file__).parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
TINY_FIELDS = ROOT / "tests" / "data" / "tiny_fields.yaml"
TINY_SKY = ROOT / "tests" / "data" / "tiny_sky.yaml"
TINY_VOLUMES = ROOT / "tests" / "data" / "tiny_volumes.yaml"
HADCRUT = samples.path("hadcrut4_gaps")
M67 = samples.path("m67_plate")
EXP = "tiny_energy"
FIELDS = "tiny_fields"
SKY = "tiny_sky"
SKY_CLEAN = "tiny_sky_clean"
SKY_DETECT = "tiny_sky_detect"


def fields_config(workdir: Path) -> Path:
    """The tiny field config with the real HadCRUT file as an absolute path."""
    config = yaml.safe_load(TINY_FIELDS.read_text())
    data = config["experiments"][FIELDS]["data"]
    data["apply_to"] = [str(HADCRUT)]
    path = workdir / "tiny_fields.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def sky_config(workdir: Path) -> Path:
    """The tiny sky configs with the real M67 plate as the detector's injection image."""
    config = yaml.safe_load(TINY_SKY.read_text())
    config["experiments"][SKY_DETECT]["data"]["inject_into"] = [str(M67)]
    path = workdir / "tiny_sky.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(TINY),
        str(workdir / "tiny_fields.yaml"),
        str(workdir / "tiny_sky.yaml"),
        str(TINY_VOLUMES),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def sciimg_history(header: fits.Header) -> str:
    """sciimg's HISTORY lines of a header, joined back into one text."""
    return " ".join(str(v).removeprefix("sciimg: ") for v in header.get("HISTORY", []) if str(v).startswith("sciimg"))


def sciimg_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["sciimg", *args], capture_output=True, text=True, env=env, check=False)


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    fields_config(workdir)
    sky_config(workdir)
    dry = snakemake(workdir, "-n")
    assert dry.returncode == 0, dry.stderr
    rules = set(re.findall(r"^(?:local)?rule (\w+):", dry.stdout + dry.stderr, flags=re.MULTILINE))
    stages = {"simulate", "ingest", "fit", "export", "compress", "predict", "baseline", "report"}
    assert stages <= rules and "evaluate_cherenkov_regression" in rules  # evaluate: one rule per kind
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_outputs_and_metrics(workflow_run):
    results = workflow_run / "results"
    assert (results / "report.html").stat().st_size > 10_000
    metrics = json.loads((results / EXP / "metrics.json").read_text())
    assert metrics["experiment"] == EXP and metrics["task"] == "regression"
    assert set(metrics["methods"]) == {"resnet18", "hillas_rf"}
    assert metrics["bins"]["quantity"] == "true energy" and metrics["bins"]["unit"] == "TeV"
    n_bins = len(metrics["bins"]["edges"]) - 1
    test_store = SampleStore(workflow_run / "data/interim" / EXP / "test.h5")
    n_test, cuts = len(test_store), test_store.attrs["quality_cuts"]
    assert cuts["events_before"] == 240 and n_test == round(0.2 * cuts["events_after"]) > 30
    for values in metrics["methods"].values():
        assert len(values["resolution"]) == len(values["bias"]) == len(values["n_events"]) == n_bins
        assert sum(values["n_events"]) == metrics["n_test_events"] == n_test
    for name in ("weights.pt", "card.json", "preprocess.npz"):
        assert (results / EXP / "model" / name).is_file()
    assert {p.name for p in (results / EXP / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    for log in ("simulate", "ingest", "fit", "predict.ecsv", "evaluate", "baseline_hillas_rf.ecsv"):
        assert (results / EXP / "logs" / f"{log}.log").is_file()
    verdict = metrics["verdict"]
    assert verdict["n_items"] == n_test and set(verdict["values"]) == {"resnet18", "hillas_rf"}
    assert verdict["values"]["hillas_rf"] == pytest.approx(metrics["methods"]["hillas_rf"]["resolution_all"])
    report = (results / "report.html").read_text()
    top = report[report.index("<h2>Verdicts</h2>") : report.index("</ul>")]
    for experiment in sorted(p.parent.name for p in results.glob("*/metrics.json")):  # every experiment, in one line
        line = json.loads((results / experiment / "metrics.json").read_text())["verdict"]["text"]
        assert f"<b>{experiment}</b>" in top and html.escape(line) in top


def test_compress_rule_checks_a_distilled_student_on_validation_and_keeps_the_original(workflow_run):
    results = workflow_run / "results" / EXP
    report = json.loads((results / "compressed" / "compression.json").read_text())
    assert report["kind"] == "cherenkov_regression" and report["options"]["max_loss"] == 0.01
    assert report["published"] == (report["headline_loss"] <= 0.01)
    assert (results / "compressed" / "model").is_dir() == report["published"]
    assert report["compressed"]["predictor_options"]["backbone_options"]["widths"] == [4, 4]
    card = json.loads((results / "model" / "card.json").read_text())
    assert card["predictor_options"]["backbone_options"]["widths"] == [4, 8]  # the original, as fit wrote it
    assert (results / "logs" / "compress.log").is_file()
    page = (workflow_run / "results" / "report.html").read_text()
    section = page[page.index(f"<h2>{EXP} (regression)</h2>") :].split("<h2>")[1]  # up to the next experiment
    verdict = "published in compressed/model" if report["published"] else "not published"
    assert "<b>Compressed</b> (distilled student, widths x0.5" in section and verdict in section


def test_rerun_does_nothing_and_deleting_one_output_reruns_only_its_dependents(workflow_run):
    again = snakemake(workflow_run, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
    (workflow_run / "results" / EXP / "baselines" / "hillas_rf.ecsv").unlink()
    partial = snakemake(workflow_run, "-n")
    jobs = partial.stdout + partial.stderr
    assert "rule baseline:" in jobs and "rule evaluate_cherenkov_regression:" in jobs and "rule report:" in jobs
    for upstream in ("simulate", "ingest", "fit", "predict"):
        assert f"rule {upstream}:" not in jobs
    assert snakemake(workflow_run).returncode == 0


def test_regressor_in_a_fresh_process_matches_the_predict_rule(workflow_run):
    script = f"""
import sys, numpy as np
import sciimg
from sciimg.io.dl1 import read_events
events = read_events({str(workflow_run / "data/raw" / EXP / "simulated.dl1.h5")!r}).table
reg = sciimg.load_regressor({str(workflow_run / "results" / EXP / "model")!r})
mean, std = reg.predict(np.asarray(events["image"]), return_std=True, batch_size=7)
from_file = reg.predict({str(workflow_run / "data/raw" / EXP / "simulated.dl1.h5")!r})
assert mean.unit == "TeV" and np.allclose(from_file.value, mean.value, rtol=1e-6)
np.save(sys.argv[1], np.stack([events["event_id"], mean.value, std.value]))
"""
    out = workflow_run / "fresh.npy"
    subprocess.run([sys.executable, "-c", script, str(out)], check=True)
    event_id, mean, std = np.load(out)
    table = Table.read(workflow_run / "results" / EXP / "predictions" / "model.ecsv")
    assert str(table["reco_energy"].unit) == "TeV"
    rows = np.searchsorted(event_id, table["event_id"])
    np.testing.assert_array_equal(event_id[rows], table["event_id"])
    np.testing.assert_allclose(mean[rows], table["reco_energy"], rtol=1e-5)
    np.testing.assert_allclose(std[rows], table["reco_energy_std"], rtol=1e-5)


def test_regressor_normalises_axial_pixels_before_mapping_to_the_same_inputs(workflow_run):
    regressor = load_model(workflow_run / "results" / EXP / "model")
    assert regressor.mapper.copies_pixels  # the tiny config's axial mapper
    pixels = SampleStore(workflow_run / "data/interim" / EXP / "test.h5").read("image")[:20]
    mapped_first = regressor.normalise(regressor.mapper.to_grid(pixels))
    np.testing.assert_array_equal(regressor.network_inputs(pixels), mapped_first)
    assert (mapped_first[:, :, ~regressor.valid] == 0).all() and mapped_first[:, :, regressor.valid].std() > 0.1


def test_inference_imports_neither_lightning_nor_the_training_tasks(workflow_run, tmp_path):
    models = sorted(str(p) for p in (workflow_run / "results").glob("*/model"))
    assert len(models) >= 8  # every kind of the tiny configs
    script = f"""
import sys, numpy as np
import sciimg
reg = sciimg.load_regressor({str(workflow_run / "results" / EXP / "model")!r})
assert np.isfinite(reg.predict(np.full((3, reg.mapper.n_pixels), 20.0, np.float32)).value).all()
for model in {models!r}:
    sciimg.load_model(model)
training = ("lightning", "pytorch_lightning", "sciimg.tasks")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in training or m.startswith(training[-1]))
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    output = tmp_path / "denoised.fits"
    command = [sys.executable, "-X", "importtime", "-m", "sciimg.cli", "predict", "--model"]
    result = subprocess.run(
        [*command, str(workflow_run / "results" / SKY / "model"), "--input", str(M67), "--output", str(output)],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time")}
    assert output.is_file() and "torch" in imported
    assert not {m for m in imported if m.split(".")[0] == "lightning" or m.startswith("sciimg.tasks")}


def test_cli_errors_are_one_line_and_leave_nothing(workflow_run, tmp_path):
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    result = sciimg_cli("ingest", "--spec", str(TINY), "--input", str(corrupt), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "corrupt.h5: not a readable HDF5 file" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

    output = str(tmp_path / "p.ecsv")
    missing_model = sciimg_cli(
        "predict", "--model", str(tmp_path / "no_model"), "--input", str(corrupt), "--output", output
    )
    assert missing_model.returncode == 2 and "no_model: model directory does not exist" in missing_model.stderr
    assert not (tmp_path / "p.ecsv").exists()


@pytest.mark.parametrize(
    ("experiment", "source"),
    [(SKY, "data/raw/tiny_sky/simulated_fits/field_0000.fits"), (EXP, "data/raw/tiny_energy/simulated.dl1.h5")],
)
def test_predict_never_writes_over_its_input_or_a_device(workflow_run, tmp_path, experiment, source):
    image = tmp_path / Path(source).name
    image.write_bytes((workflow_run / source).read_bytes())
    (tmp_path / "alias").symlink_to(image)
    before = image.read_bytes()
    model = str(workflow_run / "results" / experiment / "model")
    for output in (image, tmp_path / "alias", Path(os.devnull), tmp_path):
        result = sciimg_cli("predict", "--model", model, "--input", str(image), "--output", str(output))
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and str(output) in result.stderr, result.stderr
    assert image.read_bytes() == before and Path(os.devnull).is_char_device()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["alias", image.name])


def test_load_regressor_errors(workflow_run, tmp_path):
    import sciimg
    from sciimg.errors import InputError

    with pytest.raises(InputError, match="missing_model: model directory does not exist"):
        sciimg.load_regressor(tmp_path / "missing_model")
    reg = sciimg.load_regressor(workflow_run / "results" / EXP / "model")
    with pytest.raises(InputError, match=r"images must have shape \(n_events, 1855\) pixels of camera SimHexCam"):
        reg.predict(np.zeros((2, 1854)))
    bad = np.zeros((3, 1855))
    bad[1, 5] = np.nan
    with pytest.raises(InputError, match=r"images must be finite, got NaN/inf in rows \[1\]"):
        reg.predict(bad)
    assert reg.predict(np.zeros(1855)).shape == (1,)
    for batch_size in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="batch_size must be a whole number of events, at least 1"):
            reg.predict(np.zeros((3, 1855)), batch_size=batch_size)
    with pytest.raises(InputError, match="a model directory is a path"):
        sciimg.load_regressor(None)


def damaged(folder: Path, file: str, content: bytes | None = None, card: dict | None = None) -> Path:
    """A copy of a model folder with one file replaced (bytes) or its card edited."""
    copy = folder.parent.parent / f"damaged_{file}_{len(list(folder.parent.parent.iterdir()))}"
    shutil.copytree(folder, copy)
    if content is not None:
        (copy / file).write_bytes(content)
    if card is not None:
        (copy / "card.json").write_text(json.dumps({**json.loads((copy / "card.json").read_text()), **card}))
    return copy


def test_a_damaged_model_folder_is_one_error_naming_the_file(workflow_run, tmp_path):
    import sciimg
    from sciimg.errors import InputError

    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "model"
    shutil.copytree(workflow_run / "results" / EXP / "model", model)
    other_weights = (workflow_run / "results" / SKY / "model" / "weights.pt").read_bytes()
    weights = (model / "weights.pt").read_bytes()
    cases = [
        (damaged(model, "card.json", b"{not json"), r"card\.json: not a JSON model card"),
        (damaged(model, "card.json", b""), r"card\.json: not a JSON model card"),
        (damaged(model, "card.json", b"[1, 2]"), r"card\.json: a model card is a JSON object"),
        (damaged(model, "card.json", card={"model_format": None}), r"card\.json: model folder format None"),
        (damaged(model, "card.json", card={"task": "astrology"}), r"card\.json: .*task must be one of"),
        (damaged(model, "weights.pt", weights[: len(weights) // 2]), r"weights\.pt: SHA-256 differs"),
        (damaged(model, "weights.pt", other_weights), r"weights\.pt: SHA-256 differs"),
        (damaged(model, "preprocess.npz", b"PK\x03\x04garbage"), r"preprocess\.npz: not a readable preprocessing"),
        (model / "weights.pt", "not a model directory"),
    ]
    for folder, message in cases:
        with pytest.raises(InputError, match=message):
            sciimg.load_regressor(folder)
    result = sciimg_cli("predict", "--model", str(cases[5][0]), "--input", "x.h5", "--output", str(tmp_path / "p.ecsv"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "SHA-256 differs" in result.stderr
    assert not (tmp_path / "p.ecsv").exists()


def test_prediction_only_inputs(workflow_run, tmp_path, lst_muons):
    """Real simtel muons (no gamma truth) predict one row per event; evaluation names the missing truth."""
    model = str(workflow_run / "results" / EXP / "model")
    output = tmp_path / "muons.ecsv"
    result = sciimg_cli("predict", "--model", model, "--input", str(lst_muons), "--output", str(output))
    assert result.returncode == 0, result.stderr
    table = Table.read(output)
    assert len(table) == 30 and len(np.unique(table["event_id"])) == 30 and str(table["reco_energy"].unit) == "TeV"
    passed = np.asarray(table["quality_cuts_passed"])  # the model card's cuts, on each cleaned image
    assert passed.any() and np.all(np.isfinite(table["reco_energy"][passed]))
    assert np.all(np.isnan(table["reco_energy"][~passed]))


def test_dl1_without_truth_predicts_but_does_not_evaluate(workflow_run, tmp_path):
    observed = tmp_path / "observed.dl1.h5"
    observed.write_bytes((workflow_run / "data/raw" / EXP / "simulated.dl1.h5").read_bytes())
    with h5py.File(observed, "r+") as h5:
        del h5["simulation"]
    model = str(workflow_run / "results" / EXP / "model")
    output = tmp_path / "observed.ecsv"
    assert sciimg_cli("predict", "--model", model, "--input", str(observed), "--output", str(output)).returncode == 0
    table = Table.read(output)
    assert len(table) == 240 and "true_energy" not in table.colnames
    test_store = str(workflow_run / "data/interim" / EXP / "test.h5")
    result = sciimg_cli(
        "evaluate",
        "--experiment",
        "x",
        "--test",
        test_store,
        "--predictions",
        f"m={output}",
        "--output-dir",
        str(tmp_path / "eval"),
    )
    assert result.returncode == 2
    assert "observed.ecsv: has no 'true_energy' column: its input carried no simulation truth" in result.stderr
    assert not (tmp_path / "eval" / "metrics.json").exists()


def test_onnx_export_matches_pytorch(workflow_run):
    import onnxruntime

    import sciimg
    from sciimg.io.dl1 import read_events

    reg = sciimg.load_regressor(workflow_run / "results" / EXP / "model")
    images = np.asarray(read_events(workflow_run / "data/raw" / EXP / "simulated.dl1.h5").table["image"][:50])
    mean, std = reg.predict(images, return_std=True)
    session = onnxruntime.InferenceSession(str(workflow_run / "results" / EXP / "model.onnx"))
    energy, energy_std = session.run(None, {"pixels": images[:, None].astype(np.float32)})
    np.testing.assert_allclose(energy, mean.value, rtol=1e-4)
    np.testing.assert_allclose(energy_std, std.value, rtol=1e-4)


def test_field_onnx_export_matches_pytorch(workflow_run):
    """The exported field graph (NaN gaps in, anomalies and std in K out) fills as the model does."""
    import onnxruntime

    model = load_model(workflow_run / "results" / FIELDS / "model")
    test = SampleStore(workflow_run / "data/interim" / FIELDS / "test.h5")
    target, seen = test.read("target")[:12, 0], test.read("mask")[:12, 0].astype(bool)
    anomalies = np.where(seen, target, np.nan).astype(np.float32)
    observed = np.isfinite(anomalies)
    expected, expected_std = model._predict_series(anomalies, observed, model.preprocess_arrays["lon"])
    half = model.metadata["field"]["time_window"] // 2
    padded = np.pad(anomalies, [(half, half), (0, 0), (0, 0)], constant_values=np.nan)
    windows = np.stack([padded[t : t + 2 * half + 1] for t in range(len(anomalies))])
    session = onnxruntime.InferenceSession(str(workflow_run / "results" / FIELDS / "model.onnx"))
    outputs = session.run(None, {"anomalies": windows})
    names = ["anomaly"] + (["anomaly_std"] if expected_std is not None else [])
    assert [o.name for o in session.get_outputs()] == names
    np.testing.assert_allclose(outputs[0], expected, atol=1e-4)
    np.testing.assert_allclose(outputs[0][observed], anomalies[observed], atol=1e-5)  # observations kept
    if expected_std is not None:
        np.testing.assert_allclose(outputs[1], expected_std, atol=1e-4)


def test_predict_writes_ctapipe_dl2_once_per_event(workflow_run, tmp_path):
    from ctapipe.io import read_table

    model = str(workflow_run / "results" / EXP / "model")
    dl1 = str(workflow_run / "data/raw" / EXP / "simulated.dl1.h5")
    output = tmp_path / "energies.dl2.h5"
    for _ in range(2):  # a rerun replaces the output, it never appends
        assert sciimg_cli("predict", "--model", model, "--input", dl1, "--output", str(output)).returncode == 0
    table = read_table(output, "/dl2/event/telescope/energy/sciimg_resnet18/tel_001")
    assert len(table) == 240 and len(np.unique(table["event_id"])) == 240
    assert {"sciimg_resnet18_tel_energy", "sciimg_resnet18_tel_energy_uncert", "sciimg_resnet18_tel_is_valid"} <= set(
        table.colnames
    )
    cuts = SampleStore(workflow_run / "data/interim" / EXP / "train.h5").attrs["quality_cuts"]
    valid = np.asarray(table["sciimg_resnet18_tel_is_valid"])  # the events inside the model's quality cuts
    assert valid.sum() == cuts["events_after"] < 240
    energy = np.asarray(table["sciimg_resnet18_tel_energy"])
    assert np.all(np.isfinite(energy[valid])) and np.all(np.isnan(energy[~valid]))
    blank = tmp_path / "blank.dl1.h5"
    shutil.copyfile(dl1, blank)
    event = int(table["event_id"][valid][0])
    with h5py.File(blank, "a") as h5:  # that event's camera gets no light at all
        rows = h5["dl1/event/telescope/images/tel_001"][()]
        rows["image"][rows["event_id"] == event] = 0.0
        h5["dl1/event/telescope/images/tel_001"][...] = rows
    result = sciimg_cli("predict", "--model", model, "--input", str(blank), "--output", str(tmp_path / "b.h5"))
    assert result.returncode == 0, result.stderr
    again = read_table(tmp_path / "b.h5", "/dl2/event/telescope/energy/sciimg_resnet18/tel_001")
    is_valid = dict(zip(again["event_id"].tolist(), again["sciimg_resnet18_tel_is_valid"].tolist(), strict=True))
    assert not is_valid[event] and sum(is_valid.values()) == valid.sum() - 1
    twice = sciimg_cli("predict", "--model", model, "--input", dl1, dl1, "--output", str(tmp_path / "twice.ecsv"))
    assert twice.returncode == 2 and "the same event appears twice" in twice.stderr


def test_images_of_another_camera_are_one_clear_error(workflow_run, tmp_path):
    from sciimg.geometry.camera import hexagonal_camera
    from sciimg.simulate.cherenkov import simulate_cherenkov_file

    geometry_file = tmp_path / "small.camgeom.fits"
    hexagonal_camera(n_pixels=331, name="SmallCam").to_table().write(geometry_file)
    other = tmp_path / "small.dl1.h5"
    simulate_cherenkov_file(other, 20, 1, camera=str(geometry_file), energy_min_tev=0.5)
    output = tmp_path / "small.ecsv"
    model = str(workflow_run / "results" / EXP / "model")
    result = sciimg_cli("predict", "--model", model, "--input", str(other), "--output", str(output))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "images must have shape (n_events, 1855) pixels of camera SimHexCam, got (20, 331)" in result.stderr
    assert not output.exists()


def test_field_experiment_outputs_keep_the_source_form(workflow_run):
    results = workflow_run / "results" / FIELDS
    metrics = json.loads((results / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"pconv_unet", "biharmonic", "kriging", "eof"}
    assert metrics["task"] == "inpainting" and all(m["rmse"] > 0 for m in metrics["methods"].values())
    methods = metrics["methods"]
    assert all(m["cpu_seconds_per_field"] > 0 for m in methods.values())  # recorded by each output
    assert methods["kriging"]["settings"]["family"] in ("exponential", "gaussian", "matern32")
    assert methods["eof"]["settings"]["time_window"] in (1, 3) and methods["eof"]["settings"]["modes"] >= 2
    for name in ("pconv_unet", "kriging"):  # a std per filled cell, and how honest it is
        assert 0 < methods[name]["coverage_1sigma"] < 1 and methods[name]["spread_over_rmse"] > 0
    assert "coverage_1sigma" not in methods["biharmonic"]
    assert {"field_maps.png", "area_mean.png"} <= set(metrics["figures"])
    raw = xr.open_dataset(workflow_run / "data/raw" / FIELDS / "simulated.nc")
    test = SampleStore(workflow_run / "data/interim" / FIELDS / "test.h5")
    steps, observed = test.read("meta/step"), test.read("mask")[:, 0].astype(bool)
    spread = xr.open_dataset(results / "predictions" / "model.nc").tas_std.values
    assert (spread[observed] == 0).all() and (spread[~observed & np.isfinite(spread)] > 0).all()
    for output in (
        results / "predictions" / "model.nc",
        *(results / "baselines" / f"{b}.nc" for b in ("kriging", "eof")),
    ):
        filled = xr.open_dataset(output)
        own = {k: v for k, v in filled.tas.attrs.items() if k != "ancillary_variables"}  # the std, if written
        assert own == raw.tas.attrs and filled.lat.attrs == raw.lat.attrs
        assert filled.tas.attrs.get("ancillary_variables") == ("tas_std" if "tas_std" in filled else None)
        np.testing.assert_array_equal(filled.lon.values, raw.lon.values)
        np.testing.assert_array_equal(filled.time.values, raw.time.values[steps])
        np.testing.assert_array_equal(filled.tas_infilled.values == 1, ~observed)
        np.testing.assert_allclose(filled.tas.values[observed], raw.tas.values[steps][observed], atol=1e-3)
        assert np.isfinite(filled.tas.values).all()
    report = (workflow_run / "results" / "report.html").read_text()
    assert f"{FIELDS} (inpainting)" in report and "pconv_unet vs classical" in report


def test_a_field_model_reads_a_store_of_another_experiment_in_its_own_units(workflow_run, tmp_path):
    """A store ingested elsewhere has its own anomaly scale; the model must still see values in its units."""
    source = workflow_run / "data/interim" / FIELDS / "test.h5"
    other = tmp_path / "other.h5"
    shutil.copy(source, other)
    with h5py.File(other, "r+") as h5:
        normalisation = json.loads(h5.attrs["normalisation"])
        h5.attrs["normalisation"] = json.dumps({**normalisation, "scale": 3.0 * normalisation["scale"]})
    model = load_model(workflow_run / "results" / FIELDS / "model")
    own, _, _ = model.predict_store(source)
    elsewhere, _, _ = model.predict_store(other)
    np.testing.assert_allclose(elsewhere, own, rtol=1e-5, atol=1e-5)


def test_real_hadcrut_gaps_are_filled_and_observations_kept(workflow_run):
    source = xr.open_dataset(HADCRUT)
    filled = xr.open_dataset(workflow_run / "results" / FIELDS / "applied" / "tas_hadcrut_187709_189308.nc")
    gaps = source.tas.isnull().values
    ever_observed = ~gaps.all(axis=0)
    np.testing.assert_array_equal(filled.tas_infilled.values == 1, gaps & ever_observed)
    np.testing.assert_allclose(filled.tas.values[~gaps], source.tas.values[~gaps], atol=1e-5)
    assert np.isfinite(filled.tas.values[:, ever_observed]).all()
    assert filled.tas.attrs["reference_period"].tolist() == [1961, 1990] and "sciimg" in filled.attrs["history"]


def with_box_gaps(source: Path, output: Path, celsius: bool = False) -> np.ndarray:
    """A copy of a NetCDF field with a third of each time step's cells removed in boxes; the removed cells."""
    from sciimg.data.masks import box_mask

    ds = xr.open_dataset(source)
    name = "air_temperature"
    rng = np.random.default_rng(5)
    kept = np.stack([box_mask(ds.latitude.values, ds.longitude.values, 2 / 3, rng) for _ in ds.time])
    removed = ~kept & np.isfinite(ds[name].values)
    ds[name] = ds[name].where(kept)
    if celsius:
        ds[name] = (ds[name] - 273.15).assign_attrs({**ds[name].attrs, "units": "degC"})
    ds.to_netcdf(output)
    return removed


@pytest.mark.parametrize("celsius", [False, True])
def test_a_real_field_on_another_grid_in_absolute_values_is_filled(workflow_run, tmp_path, celsius):
    holed, out = tmp_path / "holed.nc", tmp_path / "filled.nc"
    removed = with_box_gaps(samples.path("hadcm3_north_america"), holed, celsius)
    model = workflow_run / "results" / FIELDS / "model"
    result = sciimg_cli("predict", "--model", str(model), "--input", str(holed), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "the file's own monthly means" in result.stderr  # another grid (37 x 49): said, not refused
    source, filled = xr.open_dataset(holed), xr.open_dataset(out)
    name = "air_temperature"
    assert filled[name].dims == source[name].dims and filled[name].attrs["units"] == source[name].attrs["units"]
    np.testing.assert_array_equal(filled.latitude.values, source.latitude.values)
    gaps = source[name].isnull().values
    np.testing.assert_array_equal(filled[name].values[~gaps], source[name].values[~gaps])  # bit for bit
    assert np.isfinite(filled[name].values[removed]).all() and (filled[f"{name}_infilled"].values == 1)[removed].all()
    truth = xr.open_dataset(samples.path("hadcm3_north_america"))[name].values - (273.15 if celsius else 0.0)
    error = np.abs(filled[name].values[removed] - truth[removed])
    assert np.median(error) < 3.0  # kelvin: a filled value is a temperature of the right place and season


def test_sky_experiment_outputs_keep_headers_and_wcs(workflow_run, tmp_path):
    results = workflow_run / "results" / SKY
    metrics = json.loads((results / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"noisy input", "unet", "gaussian_filter", "bm3d"}
    assert metrics["modality"] == "sky" and metrics["figures"] == ["denoise_cutouts.png"]
    assert metrics["methods"]["bm3d"]["psnr"] > metrics["methods"]["noisy input"]["psnr"]
    test = SampleStore(workflow_run / "data/interim" / SKY / "test.h5")
    meta, names = test.meta(), test.extra()["files"]
    raw = workflow_run / "data/raw" / SKY / "simulated_fits"
    with fits.open(results / "predictions" / "model.fits") as tiles:
        assert len(tiles) == len(test) + 1
        for row, hdu in enumerate(tiles[1:]):
            source = fits.getheader(raw / names[meta["file"][row]])
            assert hdu.header["CRPIX1"] == source["CRPIX1"] - meta["x0"][row]
            assert hdu.header["CRVAL2"] == source["CRVAL2"] and hdu.header["GAIN"] == source["GAIN"]
            assert np.isfinite(hdu.data).all() and hdu.data.shape == (64, 64)
    image = raw / "field_0000.fits"
    before = image.read_bytes()
    out = tmp_path / "denoised.fits"
    result = sciimg_cli("predict", "--model", str(results / "model"), "--input", str(image), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert image.read_bytes() == before
    _, _, source = read_image(image)
    denoised, _, written = read_image(out)
    assert header_cards(written.header) == header_cards(source.header)
    assert written.wcs.to_header() == source.wcs.to_header()
    assert denoised.shape == (96, 96) and np.isfinite(denoised).all()
    assert "sciimg: denoised by unet" in str(written.header["HISTORY"]) and "BADPIX" in fits.open(out)
    report = (workflow_run / "results" / "report.html").read_text()
    assert f"{SKY} (denoising)" in report and "unet vs classical" in report


@pytest.mark.parametrize(
    ("sample", "noise"),
    [
        ("horsehead_plate", "noise taken as constant"),
        ("spitzer_irac", "noise taken as constant"),
        (
            "saao_ccd",  # a raw frame: the bias (overscan median 214 ADU) is not sky
            "gain 1.9 e-/ADU, read noise 5 e- (header cards GAIN and RDNOISE), "
            "bias 214 ADU from the overscan strip BIASSEC [4:13,1:520]",
        ),
    ],
)
def test_the_sky_model_denoises_real_images_keeping_every_card(workflow_run, tmp_path, sample, noise):
    image = samples.path(sample)
    out = tmp_path / "denoised.fits"
    result = sciimg_cli(
        "predict", "--model", str(workflow_run / "results" / SKY / "model"), "--input", str(image), "--output", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert noise in result.stderr  # said in the log ...
    values, _, source = read_image(image)
    denoised, _, written = read_image(out)
    assert header_cards(written.header) == header_cards(source.header) and denoised.shape == values.shape
    assert (written.wcs is None and source.wcs is None) or written.wcs.to_header() == source.wcs.to_header()
    usable = np.isfinite(values)
    if source.overscan is not None:  # a raw frame's overscan strip is not sky: flagged, not denoised
        usable[source.overscan.slices] = False
        assert np.isnan(denoised[source.overscan.slices]).all()
        assert fits.getdata(out, "BADPIX")[source.overscan.slices].all()
    assert np.isfinite(denoised[usable]).all()
    assert noise in sciimg_history(written.header)  # ... and in the output
    assert np.corrcoef(denoised[usable], values[usable])[0, 1] > 0.95  # the same scene, in the same units
    assert abs(np.median(denoised[usable]) - np.median(values[usable])) < 0.5 * np.std(values[usable])


def test_a_sky_subtracted_image_with_noise_cards_is_not_clipped_at_zero_electrons(workflow_run, tmp_path):
    image = workflow_run / "data/raw" / SKY / "simulated_fits" / "field_0000.fits"
    with fits.open(image) as hdus:
        values = hdus[0].data.astype(np.float32) - np.float32(np.median(hdus[0].data) + 1000.0)  # sky at -1000 ADU
        fits.PrimaryHDU(values, header=hdus[0].header).writeto(tmp_path / "subtracted.fits")
    out = tmp_path / "out.fits"
    result = sciimg_cli(
        "predict",
        "--model",
        str(workflow_run / "results" / SKY / "model"),
        "--input",
        str(tmp_path / "subtracted.fits"),
        "--output",
        str(out),
    )
    assert result.returncode == 0 and "too near or below zero for Poisson noise" in result.stderr, result.stderr
    denoised = fits.getdata(out)
    assert abs(np.median(denoised) - np.median(values)) < 50.0  # ADU: clipped at zero electrons it moved by ~1000


def test_gain_and_read_noise_from_the_command_line_go_before_the_header(workflow_run, tmp_path):
    model = workflow_run / "results" / SKY / "model"
    image = workflow_run / "data/raw" / SKY / "simulated_fits" / "field_0000.fits"
    outputs = {}
    for name, options in (("header", []), ("given", ["--gain", "1.5", "--read-noise", "3"]), ("one", ["--gain", "2"])):
        outputs[name] = tmp_path / f"{name}.fits"
        command = ["predict", "--model", str(model), "--input", str(image), "--output", str(outputs[name]), *options]
        outputs[name] = (sciimg_cli(*command), outputs[name])
    header_run, given_run, one_run = (outputs[k] for k in ("header", "given", "one"))
    assert header_run[0].returncode == 0 and given_run[0].returncode == 0
    assert "header cards GAIN and RDNOISE" in sciimg_history(fits.getheader(header_run[1]))
    assert "gain 1.5 e-/ADU, read noise 3 e- (given by the user)" in sciimg_history(fits.getheader(given_run[1]))
    assert not np.array_equal(fits.getdata(header_run[1]), fits.getdata(given_run[1]))
    assert one_run[0].returncode != 0 and "give both the gain" in one_run[0].stderr and not one_run[1].exists()
    energy = sciimg_cli(
        "predict",
        "--model",
        str(workflow_run / "results" / EXP / "model"),
        "--input",
        str(image),
        "--output",
        str(tmp_path / "e.ecsv"),
        "--gain",
        "2",
        "--read-noise",
        "3",
    )
    assert energy.returncode != 0 and "not ['gain', 'read_noise']" in energy.stderr


def test_sky_model_on_an_image_larger_than_a_window_equals_whole_image_inference(workflow_run, tmp_path):
    model = load_model(workflow_run / "results" / SKY / "model")
    sim = simulate_image(SkyOptions(shape=(300, 280), stars=(30, 30)), np.random.default_rng(0))
    dq = np.zeros(sim.image_adu.shape, np.uint8)
    dq[:, 100] = 1  # a bad column, flagged in a DQ extension
    sim.image_adu[5, 7] = np.nan
    path = tmp_path / "mef.fits"
    science = fits.ImageHDU(sim.image_adu, header=sim.header, name="SCI")
    fits.HDUList([fits.PrimaryHDU(), science, fits.ImageHDU(dq, name="DQ")]).writeto(path)
    model.predict_file(path, tmp_path / "out.fits")
    with FitsImage(path) as source:
        scale, _ = model.image_scale(source)
        values = source.read()
        usable = ~source.bad_pixels(data=values)
    stacked = np.stack([np.where(usable, scale.forward(values), 0.0), usable]).astype(np.float32)
    with torch.no_grad():
        whole = scale.inverse(model._predict_windows(torch.from_numpy(stacked)[None])[0, 0].numpy())
    with fits.open(tmp_path / "out.fits") as out:
        assert [h.name for h in out] == ["PRIMARY", "SCI", "BADPIX"]
        tiled = out["SCI"].data
        np.testing.assert_array_equal(out["BADPIX"].data == 1, ~usable)
    assert np.isnan(tiled[~usable]).all() and usable.sum() == 300 * 280 - 300 - 1
    np.testing.assert_allclose(tiled[usable], whole[usable], rtol=1e-4, atol=1e-4 * scale.sigma)


def test_sky_cleaning_outputs_scores_and_a_calibrated_threshold(workflow_run):
    results = workflow_run / "results" / SKY_CLEAN
    metrics = json.loads((results / "metrics.json").read_text())
    assert list(metrics["methods"]) == ["unet", "astroscrappy", "biharmonic"]
    assert metrics["figures"] == ["cleaning_roc.png", "cleaning_cutouts.png"]
    assert metrics["pixels"]["cosmic_ray"] > 100 and metrics["pixels"]["artefact_free"] > 10_000
    model, lacosmic, biharmonic = (metrics["methods"][m] for m in ("unet", "astroscrappy", "biharmonic"))
    assert {"tpr_at_0.05%_fpr", "roc_fpr", "fpr", "inpaint_mse", "artefact_rmse"} <= set(model)
    assert "tpr_at_0.05%_fpr" in lacosmic and "inpaint_mse" not in lacosmic and "inpaint_mse" in biharmonic
    assert lacosmic["found_cosmic_ray"] > 0.3  # LA Cosmic at its defaults finds cosmic rays in these images
    card = json.loads((results / "model" / "card.json").read_text())
    calibration = card["artefact_threshold"]
    assert calibration["target_fpr"] == 0.005 and calibration["val_fpr"] <= 0.005
    with fits.open(results / "predictions" / "model.fits") as tiles:
        names = [h.name for h in tiles[1:6]]
        assert names == ["TILE0", "PROB0", "FOUND0", "MASK0", "FILLED0"]
        np.testing.assert_array_equal(tiles["FOUND0"].data == 1, tiles["PROB0"].data > calibration["threshold"])
    report = (workflow_run / "results" / "report.html").read_text()
    assert f"{SKY_CLEAN} (cleaning)" in report and "Inpainting of the true artefacts" in report


def test_cleaning_a_users_image_fills_only_what_it_flags(workflow_run, tmp_path):
    model = load_model(workflow_run / "results" / SKY_CLEAN / "model")
    options = SkyOptions(shape=(300, 280), stars=(30, 30), cosmic_rays_per_mpix=(2000, 2000))
    sim = simulate_image(options, np.random.default_rng(1))
    dq = np.zeros(sim.image_adu.shape, np.uint8)
    dq[:, 100] = 1
    path = tmp_path / "mef.fits"
    science = fits.ImageHDU(sim.image_adu, header=sim.header, name="SCI")
    fits.HDUList([fits.PrimaryHDU(), science, fits.ImageHDU(dq, name="DQ")]).writeto(path)
    before = path.read_bytes()
    out = tmp_path / "cleaned.fits"
    result = sciimg_cli("predict", "--model", str(model.path), "--input", str(path), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == before
    with fits.open(out) as cleaned:
        assert [h.name for h in cleaned] == ["PRIMARY", "SCI", "ARTEFACT", "BADPIX"]
        replaced = cleaned["ARTEFACT"].data == 1
        np.testing.assert_array_equal(cleaned["BADPIX"].data == 1, dq == 1)
        image = cleaned["SCI"].data
    assert header_cards(read_image(out)[2].header) == header_cards(read_image(path)[2].header)
    kept = ~replaced & (dq == 0)
    np.testing.assert_array_equal(image[kept], sim.image_adu[kept])  # bit for bit
    assert np.isfinite(image).all() and not replaced[dq == 1].any()
    assert 0 < replaced.mean() < 0.5


def test_sky_detection_scores_catalogs_and_injects_into_a_real_plate(workflow_run):
    results = workflow_run / "results" / SKY_DETECT
    metrics = json.loads((results / "metrics.json").read_text())
    assert list(metrics["methods"]) == ["unet", "sep", "photutils"]
    assert metrics["figures"] == ["detection_completeness.png", "detection_cutouts.png"]
    n_bins = len(metrics["bins"]["snr_edges"]) - 1
    for values in metrics["methods"].values():
        assert len(values["completeness"]) == len(values["at_purity_0.95"]["completeness"]) == n_bins
        cuts = {metrics["target_purity"]: values["cut"], 0.95: values["at_purity_0.95"]["cut"]}
        assert cuts[min(cuts)] <= cuts[max(cuts)]  # a looser purity never needs a higher cut
        assert 0 <= values["purity"] <= 1 and values["n_detections"] > 0
    assert metrics["methods"]["sep"]["completeness"][-1] > 0.5  # sep finds the brightest sources
    card = json.loads((results / "model" / "card.json").read_text())
    assert card["source_threshold"]["target_purity"] == 0.9
    catalog = Table.read(results / "predictions" / "model.fits", hdu="CATALOG")
    assert {"tile", "x", "y", "flux", "score"} <= set(catalog.colnames)
    assert catalog.meta["THRESH"] == pytest.approx(card["source_threshold"]["threshold"])
    assert catalog.meta["LOOSECUT"] == pytest.approx(card["source_threshold_looser"]["threshold"])
    assert card["source_threshold_looser"]["target_purity"] == 0.95
    report = (workflow_run / "results" / "report.html").read_text()
    assert f"{SKY_DETECT} (detection)" in report and "set on validation for purity 0.95" in report
    if M67.exists():
        injection = metrics["injection_recovery"]["images"]["M6707HH.fits"]
        assert injection["n_injected"] == 300 and 2 < injection["psf_fwhm_px"] < 10
        assert injection["methods"]["sep"]["recovered_by_snr"][-1] > 0.5  # sep recovers bright injected stars
        assert (results / "injection" / "injection_cutouts.png").stat().st_size > 10_000


def test_classical_detectors_take_their_cuts_from_the_validation_images(workflow_run):
    """sep's catalog cuts are the ones its candidates on the validation tiles give, not the test tiles'."""
    from sciimg.baselines.sky_detect import calibrate_cuts, sep_sources, store_tiles
    from sciimg.io.store_readers import sources_by_tile

    catalog = Table.read(workflow_run / "results" / SKY_DETECT / "baselines" / "sep.fits", hdu="CATALOG")
    cuts = {}
    for split in ("val", "test"):
        store = SampleStore(workflow_run / "data/interim" / SKY_DETECT / f"{split}.h5")
        found = [sep_sources(tile) for tile in store_tiles(store)]
        cuts[split] = calibrate_cuts(found, sources_by_tile(store), [store.attrs["target_purity"], 0.95])
    assert [catalog.meta["THRESH"], catalog.meta["LOOSECUT"]] == pytest.approx(cuts["val"])
    assert cuts["val"] != pytest.approx(cuts["test"])  # else this test could not tell the splits apart


def test_detecting_sources_in_a_users_image_gives_ra_dec_only_with_a_wcs(workflow_run, tmp_path):
    model = load_model(workflow_run / "results" / SKY_DETECT / "model")
    sim = simulate_image(SkyOptions(shape=(300, 280), stars=(40, 40)), np.random.default_rng(2))
    with_wcs, without = tmp_path / "with_wcs.fits", tmp_path / "no_wcs.fits"
    fits.PrimaryHDU(sim.image_adu, header=sim.header).writeto(with_wcs)
    plain = fits.Header({"BUNIT": "adu"})
    fits.PrimaryHDU(sim.image_adu, header=plain).writeto(without)
    before = without.read_bytes()
    for source, output in ((with_wcs, tmp_path / "a.fits"), (without, tmp_path / "b.ecsv")):
        result = sciimg_cli("predict", "--model", str(model.path), "--input", str(source), "--output", str(output))
        assert result.returncode == 0, result.stderr
    assert without.read_bytes() == before
    located = Table.read(tmp_path / "a.fits", hdu="CATALOG")
    unlocated = Table.read(tmp_path / "b.ecsv", format="ascii.ecsv")
    assert {"ra", "dec"} <= set(located.colnames) and not {"ra", "dec"} & set(unlocated.colnames)
    assert "no celestial WCS" in unlocated.meta["RADEC"]
    np.testing.assert_allclose(located["x"], unlocated["x"])  # the same sources either way
    wcs = WCS(sim.header)
    ra, dec = wcs.pixel_to_world_values(located["x"], located["y"])
    np.testing.assert_allclose(located["ra"], ra)
    np.testing.assert_allclose(located["dec"], dec)
    bad = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(Table({"a": [1, 2]}))]).writeto(bad)
    out = tmp_path / "c.fits"
    result = sciimg_cli("predict", "--model", str(model.path), "--input", str(bad), "--output", str(out))
    assert result.returncode == 2 and "table.fits" in result.stderr and not out.exists()
    assert len(result.stderr.strip().splitlines()) == 1


LARNDSIM = samples.path("larndsim_cosmics")
VOLUMES = "tiny_volumes"


def test_volume_segmentation_scores_every_occupied_test_voxel_for_model_and_baseline(workflow_run):
    results = workflow_run / "results" / VOLUMES
    metrics = json.loads((results / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"unet", "threshold_pca"}
    test = SampleStore(workflow_run / "data/interim" / VOLUMES / "test.h5")
    n_voxels = len(test.read("extra/occupied"))
    assert metrics["n_test_events"] == len(test) and sum(metrics["voxels_per_class"].values()) == n_voxels
    for values in metrics["methods"].values():
        assert np.sum(values["confusion"]) == n_voxels
        assert 0 <= values["mean_f1"] <= 1 and values["seconds_per_event_median"] > 0
    with h5py.File(results / "predictions" / "model.h5") as h5:
        scores = h5["scores"][()].astype(np.float32)
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-2)
        np.testing.assert_array_equal(h5["voxels"]["semantic"], scores.argmax(axis=1))
    assert (results / "volume_views.png").stat().st_size > 10_000


def test_volume_model_classifies_a_real_larndsim_file_and_counts_what_falls_outside_its_grid(workflow_run, tmp_path):
    model = workflow_run / "results" / VOLUMES / "model"
    before = LARNDSIM.stat().st_mtime_ns
    out = tmp_path / "larnd_classes.h5"
    result = sciimg_cli("predict", "--model", str(model), "--input", str(LARNDSIM), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "points outside the grid dropped" in result.stderr and "points with charge <= 0 dropped" in result.stderr
    assert LARNDSIM.stat().st_mtime_ns == before
    with h5py.File(out) as h5:
        assert len(h5["events"]) > 0 and len(h5["voxels"]) == len(h5["scores"])
        assert json.loads(h5.attrs["classes"]) == load_model(model).metadata["volume"]["classes"]
    nan_file = tmp_path / "nan.h5"
    with h5py.File(nan_file, "w") as h5:
        h5.create_dataset("volumes", data=np.full((1, 4, 4, 4), np.nan, np.float32))
    bad = sciimg_cli("predict", "--model", str(model), "--input", str(nan_file), "--output", str(tmp_path / "x.h5"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "NaN" in bad.stderr
    assert not (tmp_path / "x.h5").exists()


VOLUME_ENERGY = "tiny_volume_energy"


def test_volume_energy_is_evaluated_against_the_calorimetric_sum_on_every_test_event(workflow_run):
    results = workflow_run / "results" / VOLUME_ENERGY
    metrics = json.loads((results / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"resnet18", "calorimetric"}
    assert metrics["bins"]["unit"] == "MeV" and metrics["target"] == "deposited_energy_mev"
    meta = SampleStore(workflow_run / "data/interim" / VOLUME_ENERGY / "test.h5").meta()
    for name in ("predictions/model.ecsv", "baselines/calorimetric.ecsv"):
        table = Table.read(results / name, format="ascii.ecsv")
        np.testing.assert_array_equal(table["event_id"], meta["event_id"])
        np.testing.assert_allclose(table["deposited_energy_mev"], meta["deposited_energy_mev"])
        assert str(table["reco_deposited_energy_mev"].unit) == "MeV"
    for values in metrics["methods"].values():
        assert sum(values["n_events"]) == metrics["n_test_events"] == len(meta["event_id"])
    assert "resolution_ratio_all" in metrics["comparison"]["resnet18/calorimetric"]


def test_volume_regressor_gives_the_same_energy_for_a_file_its_points_and_its_dense_volumes(workflow_run):
    from sciimg import load_regressor
    from sciimg.errors import InputError
    from sciimg.io.volumes import read_volume_events

    raw = workflow_run / "data/raw" / VOLUME_ENERGY / "simulated.h5"
    regressor = load_regressor(workflow_run / "results" / VOLUME_ENERGY / "model")
    from_file = regressor.predict(raw)
    assert from_file.unit == "MeV" and len(from_file) == 24 and np.all(from_file.value > 0)
    events = regressor.file_events(raw)
    dense = np.zeros((len(events), *regressor.grid.shape), np.float32)
    for row, event in enumerate(events):
        dense[(row, *event.coords.T)] = event.values
    np.testing.assert_allclose(regressor.predict(dense, batch_size=5).value, from_file.value, rtol=1e-5)
    np.testing.assert_allclose(regressor.predict(events[:3]).value, from_file.value[:3], rtol=1e-5)
    truth = [e.truth["deposited_energy_mev"] for e in read_volume_events(raw)]
    assert [e.truth["deposited_energy_mev"] for e in events] == truth
    with pytest.raises(InputError, match="volumes must have shape"):
        regressor.predict(dense[:, :8])
    dense[1, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match=r"NaN/inf in events \[1\]"):
        regressor.predict(dense)


VOLUME_KEYPOINTS = "tiny_volume_keypoints"


def test_volume_keypoints_are_catalogued_in_voxels_and_mm_and_scored_against_every_truth_end_point(workflow_run):
    from sciimg.io.catalogs import read_catalog
    from sciimg.io.store_readers import stored_events, stored_keypoints

    results = workflow_run / "results" / VOLUME_KEYPOINTS
    metrics = json.loads((results / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"unet", "pca_ends"}
    test = SampleStore(workflow_run / "data/interim" / VOLUME_KEYPOINTS / "test.h5")
    assert metrics["n_truth_keypoints"] == sum(len(k) for k in stored_keypoints(test)) > 0
    grid = test.attrs["grid"]
    occupied = {
        (e.event_id, *map(int, c)) for e in stored_events(test) for c in e.coords
    }  # points are occupied voxels' centres
    for name in ("predictions/model.ecsv", "baselines/pca_ends.ecsv"):
        table = read_catalog(results / name)
        assert table.colnames == ["event_id", "z", "y", "x", "z_mm", "y_mm", "x_mm", "score"]
        for row in table:
            assert (row["event_id"], *(int(row[a] - 0.5) for a in "zyx")) in occupied
            assert row["x_mm"] == pytest.approx(grid["origin_mm"][2] + row["x"] * grid["pitch_mm"])
    baseline = metrics["methods"]["pca_ends"]
    assert baseline["n_points"] == len(read_catalog(results / "baselines/pca_ends.ecsv")) > 0
    assert 0 < baseline["efficiency_all_points_within_10_voxels"] <= 1
    assert baseline["efficiency_all_points_within_3_voxels"] <= baseline["efficiency_all_points_within_10_voxels"]
    for figure in metrics["figures"]:
        assert (results / figure).stat().st_size > 10_000


def test_a_keypoint_model_trained_on_data_without_voxel_classes_loads_and_predicts(workflow_run, tmp_path):
    from sciimg.io.catalogs import read_catalog

    model = tmp_path / "model"
    shutil.copytree(workflow_run / "results" / VOLUME_KEYPOINTS / "model", model)
    card = json.loads((model / "card.json").read_text())
    card["volume"]["classes"] = None  # as ingest of a larnd-sim file records it
    (model / "card.json").write_text(json.dumps(card))
    test = workflow_run / "data/interim" / VOLUME_KEYPOINTS / "test.h5"
    result = sciimg_cli("predict", "--model", str(model), "--input", str(test), "--output", str(tmp_path / "p.ecsv"))
    assert result.returncode == 0, result.stderr
    expected = read_catalog(workflow_run / "results" / VOLUME_KEYPOINTS / "predictions/model.ecsv")
    assert len(read_catalog(tmp_path / "p.ecsv")) == len(expected)


VOLUME_DENOISE = "tiny_volume_denoise"


def test_volume_denoising_keeps_input_voxels_as_read_and_scores_every_test_voxel(workflow_run, tmp_path):
    from sciimg.baselines.detector3d_denoise import ThresholdIsolated
    from sciimg.io.store_readers import stored_events
    from sciimg.io.volumes import read_volume_events, volume_file_attrs

    results = workflow_run / "results" / VOLUME_DENOISE
    metrics = json.loads((results / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"unet", "threshold_isolated"}
    test = SampleStore(workflow_run / "data/interim" / VOLUME_DENOISE / "test.h5")
    truth = stored_events(test)
    noise = int(np.sum(np.concatenate([e.semantic for e in truth]) == 1))
    assert metrics["voxels"] == {"signal": sum(len(e.values) for e in truth) - noise, "noise": noise} and noise > 0
    pitch, origin = test.attrs["grid"]["pitch_mm"], np.array(test.attrs["grid"]["origin_mm"])
    cuts = volume_file_attrs(results / "baselines/threshold_isolated.h5")["cuts"]
    baseline = ThresholdIsolated(cuts["threshold"], int(cuts["min_neighbours"]))
    for name in ("predictions/model.h5", "baselines/threshold_isolated.h5"):
        kept_events = list(read_volume_events(results / name))
        removed = volume_file_attrs(results / name)["n_removed"]
        for kept, event, n_removed in zip(kept_events, truth, removed, strict=True):
            charges = {tuple(c): v for c, v in zip(event.coords, event.values, strict=True)}
            voxels = [tuple(c) for c in np.floor((kept.coords - origin) / pitch).astype(int)]
            assert [charges[v] for v in voxels] == kept.values.tolist()  # kept voxels, charges as read
            assert len(kept.values) + n_removed == len(event.values)
            if name.startswith("baselines"):
                assert len(kept.values) == baseline.keep(event.coords, event.values).sum()
    with h5py.File(results / "predictions/model.h5") as h5:
        scores = h5["scores"][()].astype(np.float32)
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-2)
        assert np.all(scores[:, 1] <= 0.5 + 1e-3)
    raw = workflow_run / "data/raw" / VOLUME_DENOISE / "simulated.h5"
    before = raw.stat().st_mtime_ns
    out = tmp_path / "denoised.h5"
    result = sciimg_cli("predict", "--model", str(results / "model"), "--input", str(raw), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert raw.stat().st_mtime_ns == before
    from_file = {e.event_id: e for e in read_volume_events(out)}
    assert len(from_file) == 16
    for kept in read_volume_events(results / "predictions/model.h5"):
        np.testing.assert_array_equal(from_file[kept.event_id].coords, kept.coords)
    assert (results / "denoise_views.png").stat().st_size > 10_000


def onnx_session(workflow_run: Path, experiment: str):
    """ONNX Runtime on the graph the workflow's export rule wrote for ``experiment``."""
    import onnxruntime

    return onnxruntime.InferenceSession(str(workflow_run / "results" / experiment / "model.onnx"))


def sky_test_tile(workflow_run: Path, experiment: str, index: int = 0):
    """A test tile of ``experiment``: ADU with NaN where unusable, usable mask, its scale, its network input."""
    from sciimg.data.sky_dataset import SkyDenoisingDataset

    dataset = SkyDenoisingDataset(workflow_run / "data/interim" / experiment / "test.h5", training_target="noise2void")
    arrays, scale = dataset.normalised(index), dataset.scales[index]
    adu = np.where(arrays["usable"], dataset.store[index]["image"][0], np.nan).astype(np.float32)
    adu[5, 7] = np.nan  # one more bad pixel, given the ONNX way
    usable = np.isfinite(adu)
    row = np.array([[scale.background, scale.sigma, scale.gain, scale.read_noise_e, scale.pedestal]], np.float32)
    return adu, usable, scale, row, np.where(usable, arrays["image"], 0.0).astype(np.float32)


def test_sky_denoiser_and_cleaner_onnx_exports_match_pytorch(workflow_run):
    """ADU with NaN gaps and the tile's scale in, the denoised or cleaned ADU out, as `sciimg predict` gives them."""
    adu, usable, scale, row, image = sky_test_tile(workflow_run, SKY)
    model = load_model(workflow_run / "results" / SKY / "model", runtime="torch")
    expected, _ = model.finish_rows(model.predict_normalised(image, usable), adu, usable, scale)
    (denoised,) = onnx_session(workflow_run, SKY).run(None, {"image": adu[None, None], "scale": row})
    assert np.isnan(denoised[0, 0, 5, 7]) and np.isfinite(denoised[0, 0][usable]).all()
    np.testing.assert_allclose(denoised[0, 0][usable], expected[usable], rtol=1e-5, atol=1e-3)

    adu, usable, scale, row, image = sky_test_tile(workflow_run, SKY_CLEAN)
    model = load_model(workflow_run / "results" / SKY_CLEAN / "model", runtime="torch")
    block = model.predict_normalised(image, usable)
    cleaned, masks = model.finish_rows(block, np.nan_to_num(adu), usable, scale)
    session = onnx_session(workflow_run, SKY_CLEAN)
    probability, replaced, onnx_cleaned = session.run(None, {"image": adu[None, None], "scale": row})
    np.testing.assert_allclose(probability[0, 0], block[0], atol=1e-5)
    np.testing.assert_array_equal(replaced[0, 0], masks["ARTEFACT"] | masks["BADPIX"])
    assert replaced[0, 0, 5, 7] and (~replaced[0, 0] & usable).any()
    np.testing.assert_allclose(onnx_cleaned[0, 0][usable], cleaned[usable], rtol=1e-5, atol=1e-3)


def test_sky_detector_onnx_export_finds_the_sources_of_pytorch(workflow_run):
    """The exported detector's peaks at the card's threshold are the catalog rows of the PyTorch path."""
    from sciimg.data.sky_detection_dataset import SkyDetectionDataset
    from sciimg.inference.sky_detect import logit, peak_rows, sources_at

    dataset = SkyDetectionDataset(workflow_run / "data/interim" / SKY_DETECT / "test.h5")
    model = load_model(workflow_run / "results" / SKY_DETECT / "model", runtime="torch")
    session = onnx_session(workflow_run, SKY_DETECT)
    n_sources = 0
    for index in range(len(dataset)):
        arrays, scale = dataset.normalised(index), dataset.scales[index]
        adu = np.where(arrays["usable"], dataset.store[index]["image"][0], np.nan).astype(np.float32)
        block = model.predict_normalised(arrays["image"], arrays["usable"])
        peaks = peak_rows(block, arrays["usable"], logit(model.threshold), (False, False))
        expected = sources_at(block, peaks, 0, scale.sigma)
        noise = np.array([[scale.background, scale.sigma]], np.float32)
        score, peak, dx, dy, flux = (o[0, 0] for o in session.run(None, {"image": adu[None, None], "noise": noise}))
        rows, columns = np.nonzero(peak)
        np.testing.assert_array_equal(np.argwhere(peak), peaks)
        np.testing.assert_allclose(columns + dx[rows, columns], expected["x"], atol=1e-4)
        np.testing.assert_allclose(rows + dy[rows, columns], expected["y"], atol=1e-4)
        np.testing.assert_allclose(flux[rows, columns], expected["flux"], rtol=1e-4)
        np.testing.assert_allclose(score[rows, columns], expected["score"], atol=1e-5)
        n_sources += len(rows)
    assert n_sources > 0


@pytest.mark.parametrize("experiment", [VOLUMES, VOLUME_DENOISE, VOLUME_KEYPOINTS])
def test_voxel_onnx_exports_score_events_as_pytorch(workflow_run, experiment):
    """Charges in the card's units in, per-voxel probabilities (keypoints: heat) out, as `sciimg predict` scores."""
    from sciimg.io.store_readers import stored_events

    model = load_model(workflow_run / "results" / experiment / "model", runtime="torch")
    session = onnx_session(workflow_run, experiment)
    events = list(stored_events(SampleStore(workflow_run / "data/interim" / experiment / "test.h5")))[:3]
    for event in events:
        dense = np.zeros((1, 1, *model.grid.shape), np.float32)
        dense[(0, 0, *event.coords.T)] = event.values
        (scores,) = session.run(None, {"charge": dense})
        assert scores.shape == (1, len(model.classes), *model.grid.shape)
        z, y, x = event.coords.T
        np.testing.assert_allclose(scores[0][:, z, y, x].T, model.classify(event.coords, event.values), atol=1e-5)


def test_volume_regressor_onnx_export_matches_pytorch(workflow_run):
    from sciimg.io.store_readers import stored_events

    model = load_model(workflow_run / "results" / VOLUME_ENERGY / "model", runtime="torch")
    events = list(stored_events(SampleStore(workflow_run / "data/interim" / VOLUME_ENERGY / "test.h5")))
    dense = np.zeros((len(events), *model.grid.shape), np.float32)
    for row, event in enumerate(events):
        dense[(row, *event.coords.T)] = event.values
    outputs = onnx_session(workflow_run, VOLUME_ENERGY).run(None, {"charge": dense})
    expected = model.predict(dense, return_std=bool(model.metadata.get("heteroscedastic")))
    for got, want in zip(outputs, expected if isinstance(expected, tuple) else (expected,), strict=True):
        np.testing.assert_allclose(got, want.value, rtol=1e-4)


@pytest.mark.parametrize("experiment", [SKY_CLEAN, VOLUMES])
def test_onnx_runtime_and_pytorch_predict_the_same_files(workflow_run, tmp_path, experiment):
    """`sciimg predict --runtime`: ONNX Runtime (sky models' default on a CPU) writes what PyTorch writes."""
    model = str(workflow_run / "results" / experiment / "model")
    inputs = {SKY_CLEAN: str(M67), VOLUMES: str(samples.path("larndsim_cosmics"))}[experiment]
    outputs = {}
    for runtime in ("torch", "onnxruntime"):
        outputs[runtime] = tmp_path / f"{runtime}{Path(inputs).suffix}"
        args = ("predict", "--model", model, "--input", inputs, "--output", str(outputs[runtime]))
        result = sciimg_cli(*args, "--runtime", runtime)
        assert result.returncode == 0, result.stderr
    if experiment == SKY_CLEAN:
        with fits.open(outputs["torch"]) as torch_hdus, fits.open(outputs["onnxruntime"]) as onnx_hdus:
            assert [h.name for h in torch_hdus] == [h.name for h in onnx_hdus]
            np.testing.assert_allclose(onnx_hdus[0].data, torch_hdus[0].data, rtol=1e-5, atol=1e-2)
            for name in ("ARTEFACT", "BADPIX"):
                assert (onnx_hdus[name].data != torch_hdus[name].data).mean() < 1e-5
    else:
        with h5py.File(outputs["torch"]) as a, h5py.File(outputs["onnxruntime"]) as b:
            np.testing.assert_allclose(b["scores"][:], a["scores"][:], atol=1e-3)  # float16


@pytest.mark.parametrize("experiment", [SKY_CLEAN, VOLUMES])
def test_an_int8_window_graph_is_run_by_onnx_runtime_and_checked_like_the_weights(workflow_run, tmp_path, experiment):
    import onnx

    from sciimg.errors import InputError
    from sciimg.inference.export import read_card
    from sciimg.inference.quantize import INT8_GRAPH, quantize_windows

    folder = tmp_path / "model"
    shutil.copytree(workflow_run / "results" / experiment / "model", folder)
    quantize_windows(folder, workflow_run / "data/interim" / experiment / "train.h5", tmp_path / "work")
    graph = read_card(folder)["window_graph"]
    assert graph["file"] == INT8_GRAPH and graph["calibration_windows"] > 0
    nodes = onnx.load(folder / INT8_GRAPH).graph
    int8_weights = [t for t in nodes.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) > 1]
    assert int8_weights and any(n.op_type == "QuantizeLinear" for n in nodes.node)  # activations quantised too
    int8, exact = load_model(folder), load_model(folder, runtime="torch")
    assert int8.windows.runtime == "onnxruntime" and exact.windows.runtime == "torch"
    channels = 2 if experiment == SKY_CLEAN else 1
    side = (1, channels, 64, 64) if experiment == SKY_CLEAN else (1, channels, 32, 32, 32)
    window = torch.rand(side, generator=torch.Generator().manual_seed(0))
    if experiment == SKY_CLEAN:
        window[:, 1:] = 1.0  # every pixel usable
    quantised, reference = int8.windows(window), exact.windows(window)
    assert quantised.shape == reference.shape and torch.isfinite(quantised).all()
    assert not torch.equal(quantised, reference)  # the 8-bit graph ran, not the float weights
    (folder / INT8_GRAPH).write_bytes((folder / INT8_GRAPH).read_bytes()[:-8])
    with pytest.raises(InputError, match="SHA-256 differs"):
        load_model(folder)
