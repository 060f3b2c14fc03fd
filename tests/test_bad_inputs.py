"""Bad input, generated: every reader, every CLI stage, the model loader, outputs, configs and the Python API.

Every case must end in one clear error: from the CLI, exit code 2 and one line naming the file
or key; from the Python API, an InputError or ConfigError. No traceback, no output left behind,
and the input unchanged (same SHA-256). Models are real model folders of four kinds, exported
untrained from stores ingested from tiny simulations (what is checked does not depend on the
weights). ``pytest -s`` prints the count per category.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
import yaml
from astropy.io import fits

from sciimg import cli
from sciimg.config import validate_config
from sciimg.errors import ConfigError, InputError
from sciimg.inference.export import export_model
from sciimg.kinds import ingest, kind_of
from sciimg.tasks.fit import task_options

DATA = Path(__file__).parent / "data"
EXPERIMENTS = {  # one model of each modality: (config file, experiment)
    "cherenkov": ("tiny.yaml", "tiny_energy"),
    "sky": ("tiny_sky.yaml", "tiny_sky"),
    "climate": ("tiny_fields.yaml", "tiny_fields"),
    "detector3d": ("tiny_volumes.yaml", "tiny_volumes"),
}
SUFFIX = {"cherenkov": ".dl1.h5", "sky": ".fits", "climate": ".nc", "detector3d": ".h5"}


@dataclass
class Built:
    """A modality's validated spec, its sample stores and an untrained model folder."""

    spec: dict
    stores: dict[str, Path]
    model: Path
    raw: Path  # what the simulator wrote


def build(config_file: str, name: str, folder: Path) -> Built:
    """Simulate, ingest and export (untrained) one experiment, as the workflow's rules would."""
    config = yaml.safe_load((DATA / config_file).read_text())
    spec = validate_config({"experiments": {name: config["experiments"][name]}})["experiments"][name]
    spec["data"].pop("apply_to", None)
    kind = kind_of(spec)
    simulate = dict(spec["data"]["simulate"])
    seed = simulate.pop("seed")
    raw = folder / "raw" / kind.raw_name
    raw.parent.mkdir(parents=True)
    kind.load("simulator")(raw, seed=seed, provenance={}, **simulate)
    stores = ingest([str(raw)], folder / "stores", spec)
    cls = kind.load("task_class")
    task = cls(**task_options(spec, cls, *kind.input_layout(spec)))
    card = kind.load("calibrate")(task.predictor, stores["val"], spec) if kind.calibrate else {}
    return Built(spec, stores, export_model(task, stores["train"], spec, name, folder / "model", card), raw)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Built]:
    return {m: build(*EXPERIMENTS[m], tmp_path_factory.mktemp(f"fuzz_{m}")) for m in EXPERIMENTS}


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> Built:
    """A source detector, for ``sciimg inject``."""
    return build("tiny_sky.yaml", "tiny_sky_detect", tmp_path_factory.mktemp("fuzz_detector"))


def sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


@dataclass
class Case:
    """One bad input: run it, then judge it."""

    category: str
    label: str
    argv: list[str] | None = None  # a CLI call ...
    call: Callable[[], object] | None = None  # ... or a Python API call
    names: tuple[str, ...] = ()  # the error must name one of these (file or key)
    inputs: tuple[Path, ...] = ()  # must be unchanged
    output: Path | None = None  # must not exist afterwards
    hashes: dict[Path, str | None] = field(default_factory=dict)
    detail: str = ""  # what came out, for the failure report


def run(case: Case) -> str:
    """``clear error``, ``traceback``, ``partial output``, ``silent``, ``input changed`` or ``unnamed``."""
    case.hashes = {path: sha256(path) for path in case.inputs}
    new_folder = case.output is not None and not case.output.parent.exists()  # must not appear either
    stderr = io.StringIO()
    message = ""
    try:
        if case.argv is not None:
            with contextlib.redirect_stderr(stderr):
                code = cli.main(case.argv)
            message = case.detail = stderr.getvalue()
            failed = code == 2 and message.startswith("sciimg: error:") and message.count("\n") == 1
            if code == 0:
                return "silent"
            if not failed:
                return "traceback"
        else:
            case.call()
            return "silent"
    except (InputError, ConfigError) as error:
        message = case.detail = str(error)
    except SystemExit as error:  # argparse on a malformed command line
        if error.code != 2:
            return "traceback"
        message = " ".join(case.names)
    except Exception as error:  # what the test counts
        case.detail = f"{type(error).__name__}: {error}"
        return "traceback"
    if case.output is not None and (
        case.output.exists()
        or list(case.output.parent.glob(f".{case.output.name}.*"))
        or (new_folder and case.output.parent.exists())
    ):
        return "partial output"
    if any(sha256(path) != digest for path, digest in case.hashes.items()):
        return "input changed"
    if case.names and not any(name in message for name in case.names):
        return "unnamed"
    return "clear error"


def bad_files(folder: Path, modality: str, built: dict[str, Built]) -> dict[str, Path]:
    """Damaged or wrong files, each with the suffix the modality's reader expects."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = SUFFIX[modality]
    files: dict[str, Path] = {}

    def new(label: str, data: bytes, name_suffix: str = suffix) -> None:
        files[label] = folder / f"{label}{name_suffix}"
        files[label].write_bytes(data)

    rng = np.random.default_rng(len(modality))
    new("empty", b"")
    new("random_bytes", rng.bytes(4096))
    new("text", b"temperature,time\n1,2\n")
    new("hdf5_signature_only", b"\x89HDF\r\n\x1a\n" + bytes(64))
    new("gzip_garbage", b"\x1f\x8b\x08\x00" + rng.bytes(100), suffix + ".gz")
    new("fits_signature_only", b"SIMPLE  =                    T" + b" " * 50)
    new("netcdf_signature_only", b"CDF\x01" + bytes(32))
    with h5py.File(folder / f"empty_hdf5{suffix}", "w"):
        pass
    files["empty_hdf5"] = folder / f"empty_hdf5{suffix}"
    with h5py.File(folder / f"unrelated_hdf5{suffix}", "w") as h5:
        h5["values"] = np.arange(10)
    files["unrelated_hdf5"] = folder / f"unrelated_hdf5{suffix}"
    fits.PrimaryHDU(np.zeros((2, 3, 4), np.float32)).writeto(folder / f"cube{suffix}")
    files["fits_cube"] = folder / f"cube{suffix}"
    fits.PrimaryHDU(np.full((40, 40), np.nan, np.float32)).writeto(folder / f"all_nan{suffix}")
    files["fits_all_nan"] = folder / f"all_nan{suffix}"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("a", "E", array=[1.0])])]).writeto(
        folder / f"table_only{suffix}"
    )
    files["fits_table_only"] = folder / f"table_only{suffix}"
    sky = rng.normal(1000.0, 20.0, (64, 64)).astype(np.float32)
    fits.PrimaryHDU(sky, fits.Header([("GAIN", "abc"), ("RDNOISE", 5.0)])).writeto(folder / f"gain_abc{suffix}")
    files["fits_gain_not_a_number"] = folder / f"gain_abc{suffix}"
    xr.Dataset({"precip": (("lat", "lon"), np.ones((3, 4)))}, coords={"lat": [0, 1, 2], "lon": [0, 1, 2, 3]}).to_netcdf(
        folder / f"no_temperature{suffix}"
    )
    files["netcdf_without_temperature"] = folder / f"no_temperature{suffix}"
    nan_field = xr.DataArray(
        np.full((2, 3, 4), np.nan, np.float32),
        dims=("time", "lat", "lon"),
        coords={"time": [0, 1], "lat": [10.0, 20.0, 30.0], "lon": [0.0, 5.0, 10.0, 15.0]},
        attrs={"units": "K", "standard_name": "air_temperature"},
    )
    xr.Dataset({"tas": nan_field}).to_netcdf(folder / f"all_nan_field{suffix}")
    files["netcdf_all_nan"] = folder / f"all_nan_field{suffix}"
    with gzip.open(folder / f"gzip_of_text{suffix}.gz", "wb") as stream:
        stream.write(b"not an image at all")
    files["gzip_of_text"] = folder / f"gzip_of_text{suffix}.gz"
    truncated = folder / f"truncated{suffix}"
    source = built[modality].stores["test"]
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    files["truncated_store"] = truncated
    for other, result in built.items():
        if other != modality:  # a store of another modality
            files[f"store_of_{other}"] = result.stores["test"]
    if modality == "cherenkov":
        files.update(damaged_dl1(built[modality].raw, folder))
    files["missing"] = folder / f"missing{suffix}"
    files["folder"] = folder / "a_folder"
    files["folder"].mkdir()
    return files


def damaged_dl1(source: Path, folder: Path) -> dict[str, Path]:
    """Copies of a real DL1 file: a NaN charge, NaN peak times, no events, no camera description."""
    files = {}
    table = "dl1/event/telescope/images/tel_001"
    for label in ("nan_charge", "nan_peak_time", "no_events", "no_subarray"):
        copy = folder / f"dl1_{label}.dl1.h5"
        shutil.copyfile(source, copy)
        with h5py.File(copy, "a") as h5:
            files[f"dl1_{label}"] = copy
            if label == "no_subarray":
                del h5["configuration/instrument/subarray/layout"]
                continue
            rows = h5[table][()]
            if label == "no_events":
                h5[table].resize((0,))  # the table as ctapipe wrote it, with no row left
                h5[table].attrs["NROWS"] = 0
                continue
            column = "image" if label == "nan_charge" else "peak_time"
            rows[column][0, :5] = np.nan
            h5[table][...] = rows
    return files


def test_every_bad_input_is_one_clear_error_and_nothing_is_lost(built, detector, tmp_path, capsys):
    cases: list[Case] = []
    all_files = {}
    for modality, result in built.items():
        files = all_files[modality] = bad_files(tmp_path / "bad" / modality, modality, built)
        model = str(result.model)
        for label, path in files.items():
            out = tmp_path / "out" / f"{modality}_{label}.out"
            cases.append(
                Case(
                    "readers (sciimg predict)",
                    f"{modality} model on {label}",
                    ["predict", "--model", model, "--input", str(path), "--output", str(out)],
                    names=(str(path),),
                    inputs=(path,),
                    output=out,
                )
            )
            spec = json.dumps(result.spec)
            out_dir = tmp_path / "ingested" / f"{modality}_{label}"
            cases.append(
                Case(
                    "readers (sciimg ingest)",
                    f"{modality} ingest of {label}",
                    ["ingest", "--spec", spec, "--input", str(path), "--output-dir", str(out_dir)],
                    names=(path.name, str(path.parent)),
                    inputs=(path,),
                    output=out_dir / "train.h5",
                )
            )
        test_store = result.stores["test"]
        alias = tmp_path / "aliases" / f"{modality}_link"
        alias.parent.mkdir(exist_ok=True)
        alias.symlink_to(test_store)
        (tmp_path / "a_file").write_text("x")
        for label, output in {
            "empty path": "",
            "a folder": str(tmp_path),
            "a device": os.devnull,
            "under a file": str(tmp_path / "a_file" / "out.x"),
            "the input": str(test_store),
            "a link to the input": str(alias),
            "a file in the model folder": str(result.model / "weights.pt"),
        }.items():
            cases.append(
                Case(
                    "outputs (sciimg predict --output)",
                    f"{modality} output to {label}",
                    ["predict", "--model", model, "--input", str(test_store), "--output", output],
                    names=(output,) if output else ("output path is empty",),
                    inputs=(test_store, result.model / "weights.pt", tmp_path / "a_file"),
                )
            )
        cases += damaged_model_cases(result.model, tmp_path / "damaged" / modality, test_store)
    cases += stage_cases(built, tmp_path / "stages", all_files)
    cases += inject_cases(built, detector, tmp_path / "inject", all_files["sky"])
    cases += fit_cases(built, tmp_path / "fit")
    cases += config_cases(built, tmp_path / "configs")
    cases += api_cases(built)
    outcomes = Counter()
    failures = []
    for case in cases:
        outcome = run(case)
        outcomes[(case.category, outcome)] += 1
        if outcome != "clear error":
            failures.append(f"{case.category}: {case.label} -> {outcome}: {case.detail.strip()[-300:]!r}")
    with capsys.disabled():
        categories = sorted({c for c, _ in outcomes})
        print(f"\n{len(cases)} bad inputs")
        for category in categories:
            counts = {o: n for (c, o), n in outcomes.items() if c == category}
            print(f"  {category}: tried {sum(counts.values())}, {counts}")
    assert len(cases) >= 200
    assert not failures, "\n".join(failures)


FIRST_BASELINE = {
    "cherenkov": "hillas_rf",
    "sky": "gaussian_filter",
    "climate": "biharmonic",
    "detector3d": "threshold_pca",
}
STAGE_FILES = ("empty", "random_bytes", "hdf5_signature_only", "truncated_store", "unrelated_hdf5", "missing", "folder")


def stage_cases(built: dict[str, Built], folder: Path, bad: dict[str, dict[str, Path]]) -> list[Case]:
    """``baseline``, ``evaluate``, ``report``, ``export`` and ``simulate`` given bad stores, files and outputs."""
    folder.mkdir()
    cases = []
    for modality, result in built.items():
        train, test = (str(result.stores[s]) for s in ("train", "test"))
        name = FIRST_BASELINE[modality]
        chosen = {k: p for k, p in bad[modality].items() if k in STAGE_FILES or k.startswith("store_of_")}
        for label, path in chosen.items():
            for role in ("train", "test"):
                out = folder / f"{modality}_{role}_{label}.out"
                stores = {"train": train, "test": test, role: str(path)}
                argv = ["baseline", "--name", name, "--train", stores["train"], "--test", stores["test"]]
                cases.append(
                    Case(
                        "stages (baseline, evaluate)",
                        f"{modality} baseline, {role} = {label}",
                        [*argv, "--output", str(out)],
                        names=(str(path),),
                        inputs=(path,),
                        output=out,
                    )
                )
            out_dir = folder / f"{modality}_evaluate_{label}"
            for role, argv in (
                ("test store", ["--test", str(path), "--predictions", f"m={test}"]),
                ("predictions", ["--test", test, "--predictions", f"m={path}"]),
            ):
                cases.append(
                    Case(
                        "stages (baseline, evaluate)",
                        f"{modality} evaluate with {label} as the {role}",
                        ["evaluate", "--experiment", "x", *argv, "--output-dir", str(out_dir)],
                        names=(str(path), test),  # the two disagree: naming either is clear
                        inputs=(path,),
                        output=out_dir / "metrics.json",
                    )
                )
        for label, output in {"a device": os.devnull, "the test store": test, "a folder": str(folder)}.items():
            argv = ["baseline", "--name", name, "--train", train, "--test", test, "--output", output]
            cases.append(
                Case(
                    "stages (baseline, evaluate)",
                    f"{modality} baseline output to {label}",
                    argv,
                    names=(output,),
                    inputs=(Path(test),),
                )
            )
        argv = ["baseline", "--name", "crystal_ball", "--train", train, "--test", test, "--output", str(folder / "b.x")]
        cases.append(
            Case(
                "stages (baseline, evaluate)",
                f"{modality} unknown baseline",
                argv,
                names=("crystal_ball",),
                output=folder / "b.x",
            )
        )
    metrics = {
        "not json": b"{",
        "empty": b"",
        "a list": b"[]",
        "no experiment": json.dumps({"task": "regression"}).encode(),
        "unknown kind": json.dumps({"experiment": "x", "task": "astrology", "modality": "sky"}).encode(),
    }
    for label, content in metrics.items():
        path = folder / f"metrics_{label.replace(' ', '_')}.json"
        path.write_bytes(content)
        out = folder / f"report_{path.stem}.html"
        cases.append(
            Case(
                "stages (report, export, simulate)",
                f"report of metrics {label}",
                ["report", "--metrics", str(path), "--output", str(out)],
                names=(str(path),),
                inputs=(path,),
                output=out,
            )
        )
    cherenkov = built["cherenkov"].model
    for label, output in {
        "a device": Path(os.devnull),
        "a folder": folder,
        "under a file": folder / "metrics_empty.json" / "m.onnx",
    }.items():
        cases.append(
            Case(
                "stages (report, export, simulate)",
                f"export output to {label}",
                ["export", "--model", str(cherenkov), "--output", str(output)],
                names=(str(output),),
            )
        )
    spec = json.dumps(built["cherenkov"].spec)
    for label, output in {
        "a device": os.devnull,
        "a folder": str(folder),
        "under a file": str(folder / "metrics_empty.json" / "s"),
    }.items():
        cases.append(
            Case(
                "stages (report, export, simulate)",
                f"simulate to {label}",
                ["simulate", "--spec", spec, "--output", output],
                names=(output,),
            )
        )
    return cases


def inject_cases(built: dict[str, Built], detector: Built, folder: Path, bad: dict[str, Path]) -> list[Case]:
    """``sciimg inject``: models that are not detectors, bad images, catalogs, counts and outputs."""
    folder.mkdir()
    image = detector.raw / "field_0000.fits"
    model = str(detector.model)
    (folder / "a_file").write_text("x")
    (folder / "not_a_catalog.ecsv").write_text("x y\n1 2\n")

    def case(label: str, names: tuple[str, ...], *argv: str, output_dir: Path = folder / "out") -> Case:
        argv_all = ["inject", *argv, "--output-dir", str(output_dir)]
        return Case(
            "stages (inject, fit)", f"inject {label}", argv_all, names=names, output=output_dir / "injection.json"
        )

    cases = [
        case(f"with a {m} model", (str(b.model),), "--model", str(b.model), "--input", str(image), "--n-stars", "5")
        for m, b in built.items()
    ]
    for label, path in bad.items():
        cases.append(case(f"into {label}", (str(path),), "--model", model, "--input", str(path), "--n-stars", "5"))
    for label, catalog in {
        "a missing catalog": "sep=" + str(folder / "missing.ecsv"),
        "a catalog without a cut": "sep=" + str(folder / "not_a_catalog.ecsv"),
        "a baseline without a name": str(folder / "not_a_catalog.ecsv"),
    }.items():
        names = (catalog.split("=")[-1],)
        cases.append(case(label, names, "--model", model, "--input", str(image), "--baseline", catalog))
    for count in ("0", "-3"):
        cases.append(
            case(f"{count} stars", ("--n-stars",), "--model", model, "--input", str(image), "--n-stars", count)
        )
    for label, output_dir in {"a device": Path(os.devnull), "under a file": folder / "a_file" / "out"}.items():
        argv = ("--model", model, "--input", str(image), "--n-stars", "5")
        cases.append(case(f"output to {label}", (str(output_dir),), *argv, output_dir=output_dir))
    return cases


def fit_cases(built: dict[str, Built], folder: Path) -> list[Case]:
    """``sciimg fit`` given store folders that are missing, empty or of another modality."""
    folder.mkdir()
    (folder / "empty").mkdir()
    (folder / "a_file").write_text("x")
    cases = []
    for modality, result in built.items():
        other = next(b for m, b in built.items() if m != modality)
        stores = {
            "a missing store folder": folder / "missing",
            "an empty store folder": folder / "empty",
            "a file as store folder": folder / "a_file",
            "stores of another modality": other.stores["train"].parent,
        }
        for label, store_dir in stores.items():
            out = folder / f"{modality}_{store_dir.name}_model"
            spec = json.dumps(result.spec)
            argv = ["fit", "--spec", spec, "--experiment", "x", "--store-dir", str(store_dir)]
            argv += ["--checkpoint-dir", str(folder / f"{modality}_checkpoints"), "--output", str(out)]
            cases.append(
                Case(
                    "stages (inject, fit)",
                    f"{modality} fit on {label}",
                    argv,
                    names=(str(store_dir),),
                    output=out / "card.json",
                )
            )
    return cases


def damaged_model_cases(model: Path, folder: Path, store: Path) -> list[Case]:
    """A model folder with one file damaged, swapped or missing, through the CLI and the API."""
    import sciimg

    folder.mkdir(parents=True)
    weights = (model / "weights.pt").read_bytes()
    card = json.loads((model / "card.json").read_text())
    edits: dict[str, tuple[str, bytes | None]] = {
        "card not json": ("card.json", b"{not json"),
        "card empty": ("card.json", b""),
        "card a list": ("card.json", b"[1, 2]"),
        "card of another format": ("card.json", json.dumps({**card, "model_format": 0}).encode()),
        "card of another task": ("card.json", json.dumps({**card, "task": "astrology"}).encode()),
        "card without options": ("card.json", json.dumps({**card, "predictor_options": {"widths": "x"}}).encode()),
        "weights truncated": ("weights.pt", weights[: len(weights) // 2]),
        "weights random": ("weights.pt", np.random.default_rng(0).bytes(len(weights))),
        "preprocess damaged": ("preprocess.npz", b"PK\x03\x04garbage"),
        "weights missing": ("weights.pt", None),
    }
    cases = []
    for label, (name, content) in edits.items():
        copy = folder / label.replace(" ", "_")
        shutil.copytree(model, copy)
        if content is None:
            (copy / name).unlink()
        else:
            (copy / name).write_bytes(content)
        out = folder / f"{copy.name}.out"
        argv = ["predict", "--model", str(copy), "--input", str(store), "--output", str(out)]
        cases.append(Case("model folders", f"CLI, {label}", argv, names=(str(copy),), inputs=(store,), output=out))
        cases.append(
            Case("model folders", f"API, {label}", call=lambda c=copy: sciimg.load_model(c), names=(str(copy),))
        )
    return cases


def config_cases(built: dict[str, Built], folder: Path) -> list[Case]:
    """Config files and specs that are not what a config must be, through ``sciimg ingest --spec``."""
    folder.mkdir()
    spec = built["cherenkov"].spec
    texts = {
        "empty": "",
        "broken yaml": "experiments: [\n",
        "a list": "- 1\n- 2\n",
        "a key twice": "experiments:\n  a: {modality: sky}\n  a: {modality: climate}\n",
        "no experiment": "experiments: {}\n",
        "two experiments": yaml.safe_dump({"experiments": {"a": spec, "b": spec}}),
    }
    edits: dict[str, Callable[[dict], None]] = {
        "lr a word": lambda e: e["model"].update(lr="fast"),
        "lr negative": lambda e: e["model"].update(lr=-1),
        "unknown optimizer": lambda e: e["model"].update(optimizer="lbfgs"),
        "unknown model option": lambda e: e["model"].update(lr_rate=0.1),
        "unknown backbone": lambda e: e["model"].update(backbone="resnet19"),
        "batch size a string": lambda e: e["trainer"].update(batch_size="64"),
        "split not summing to 1": lambda e: e["data"].update(split={"train": 0.5, "val": 0.1, "test": 0.1}),
        "unknown modality": lambda e: e.update(modality="radio"),
        "unknown task": lambda e: e.update(task="astrology"),
        "no task": lambda e: e.pop("task"),
        "misspelled trainer key": lambda e: e["trainer"].update(max_epoch=3),
        "negative seed": lambda e: e.update(seed=-1),
    }
    for label, edit in edits.items():
        experiment = json.loads(json.dumps(spec))
        edit(experiment)
        texts[label] = yaml.safe_dump({"experiments": {"x": experiment}})
    cases = []
    for label, text in texts.items():
        path = folder / f"{label.replace(' ', '_')}.yaml"
        path.write_text(text)
        out_dir = folder / f"{path.stem}_out"
        argv = ["ingest", "--spec", str(path), "--input", "x.dl1.h5", "--output-dir", str(out_dir)]
        cases.append(Case("configs (--spec)", label, argv, inputs=(path,), output=out_dir / "train.h5"))
    for label, spec_text in {"empty string": "", "broken json": '{"modality": "sky"', "json list": "[1]"}.items():
        argv = ["ingest", "--spec", spec_text, "--input", "x.dl1.h5", "--output-dir", str(folder / "json_out")]
        cases.append(Case("configs (--spec)", label, argv, output=folder / "json_out" / "train.h5"))
    return cases


def api_cases(built: dict[str, Built]) -> list[Case]:
    """The Python API given what it does not take."""
    import sciimg

    model = built["cherenkov"].model
    regressor = sciimg.load_regressor(model)
    pixels = regressor.mapper.n_pixels
    images = np.zeros((3, pixels), np.float32)
    calls: dict[str, Callable[[], object]] = {
        "load_regressor(None)": lambda: sciimg.load_regressor(None),
        "load_regressor(1)": lambda: sciimg.load_regressor(1),
        "load_regressor({})": lambda: sciimg.load_regressor({}),
        "load_regressor('')": lambda: sciimg.load_regressor(""),
        "load_regressor(missing)": lambda: sciimg.load_regressor(model / "missing"),
        "load_regressor(a sky model)": lambda: sciimg.load_regressor(built["sky"].model),
        "load_model(a file)": lambda: sciimg.load_model(model / "card.json"),
        "load_model(runtime='gpu')": lambda: sciimg.load_model(built["sky"].model, runtime="gpu"),
        "predict(scalar)": lambda: regressor.predict(3.0),
        "predict(dict)": lambda: regressor.predict({"image": images}),
        "predict(missing file)": lambda: regressor.predict("no_such_run.dl1.h5"),
        "predict(wrong pixels)": lambda: regressor.predict(np.zeros((2, pixels - 1))),
        "predict(3-d array)": lambda: regressor.predict(np.zeros((2, 2, pixels))),
        "predict(NaN)": lambda: regressor.predict(np.full((2, pixels), np.nan)),
        "predict(inf)": lambda: regressor.predict(np.full((2, pixels), np.inf)),
        "predict(strings)": lambda: regressor.predict(np.array([["a"] * pixels])),
        "predict(batch_size=0)": lambda: regressor.predict(images, batch_size=0),
        "predict(batch_size=-1)": lambda: regressor.predict(images, batch_size=-1),
        "predict(batch_size=1.5)": lambda: regressor.predict(images, batch_size=1.5),
        "predict(peak_time of another shape)": lambda: regressor.predict(images, peak_time=np.zeros((2, pixels))),
        "predict(peak_time NaN)": lambda: regressor.predict(images, peak_time=np.full((3, pixels), np.nan)),
    }
    return [Case("Python API", label, call=call) for label, call in calls.items()]
