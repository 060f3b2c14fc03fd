"""Config validation: defaults filled, and one clear message naming the key at fault."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sciimg.config import load_experiment, validate_config
from sciimg.errors import ConfigError

ROOT = Path(__file__).parents[1]
DEFAULT = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())


def test_default_config_is_valid_and_gets_defaults():
    config = validate_config(DEFAULT)
    experiment = config["experiments"]["cherenkov_energy"]
    assert experiment["trainer"]["num_workers"] == 0
    assert experiment["data"]["simulate"]["max_impact_m"] == 300.0
    assert experiment["data"]["quality_cuts"] == {"min_intensity_pe": 50, "max_leakage_intensity_width_2": None}
    assert experiment["data"]["cleaning"] == {"picture_pe": 8.0, "boundary_pe": 4.0, "min_picture_neighbors": 2}


def _broken(edit) -> dict:
    config = copy.deepcopy(DEFAULT)
    edit(config["experiments"]["cherenkov_energy"])
    return config


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda e: e["trainer"].update(max_epoch=3),
            r"experiments\.cherenkov_energy\.trainer\.max_epoch is not allowed; "
            r"allowed keys there: \['accelerator', 'batch_size', 'channels_last', .*'max_epochs'",
        ),
        (
            lambda e: e.update(modality="radio"),
            r"experiments\.cherenkov_energy\.modality must be one of \['cherenkov', 'climate', 'sky', 'detector3d'\], "
            r"got 'radio'",
        ),
        (
            lambda e: e.update(modality="detector3d", task="detection", data={"simulate": {}}),
            r"experiments\.cherenkov_energy\.task must be one of \['denoising', 'keypoints', 'regression', "
            r"'segmentation'\] for detector3d, got 'detection'",
        ),
        (
            lambda e: e["trainer"].update(batch_size="64"),
            r"experiments\.cherenkov_energy\.trainer\.batch_size: '64' is not of type 'integer'",
        ),
        (
            lambda e: e["data"].update(files={"paths": ["x.h5"]}),
            r"experiments\.cherenkov_energy\.data must have exactly one of 'simulate' or 'files'",
        ),
        (
            lambda e: e["data"].update(split={"train": 0.5, "val": 0.1, "test": 0.1}),
            r"split must sum to 1",
        ),
        (
            lambda e: e["model"].update(lr_rate=0.1),
            r"model options of task 'regression' must be among \[.*'lr'.*\], got \['lr_rate'\]",
        ),
        (
            lambda e: e["model"].update(backbone="resnet19"),
            r"backbone must be one of \[.*'resnet18'.*\], got 'resnet19'",
        ),
        (
            lambda e: e["model"].update(lr="fast"),
            r"experiments\.cherenkov_energy\.model\.lr: 'fast' is not of type 'number'",
        ),
        (
            lambda e: e["model"].update(lr=-1),
            r"experiments\.cherenkov_energy\.model\.lr: -1 is less than or equal to the minimum of 0",
        ),
        (
            lambda e: e["model"].update(optimizer="lbfgs"),
            r"experiments\.cherenkov_energy\.model\.optimizer must be one of \['adam', 'adamw', 'sgd'\]",
        ),
        (
            lambda e: e["trainer"].update(devices=3, batch_size=64),
            r"trainer\.batch_size must be divisible by devices x num_nodes = 3 \(it is the global batch\), got 64",
        ),
    ],
)
def test_bad_config_names_the_key_and_the_allowed_values(edit, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(_broken(edit))


def test_steps_without_a_network_skip_the_model_checks_and_never_import_torch(tmp_path):
    bad_model = _broken(lambda e: e["model"].update(backbone="resnet19"))["experiments"]["cherenkov_energy"]
    spec = tmp_path / "experiment.yaml"
    spec.write_text(yaml.safe_dump(bad_model))
    script = f"""
import sys
from sciimg.baselines.run import run_baseline
from sciimg.config import load_experiment
import sciimg.cli
spec = load_experiment({str(spec)!r}, check_models=False)
heavy = sorted({{"torch", "lightning", "ctapipe", "sklearn"}} & set(sys.modules))
print(spec["model"]["backbone"], heavy)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["resnet19", "[]"]
    with pytest.raises(ConfigError, match="backbone must be one of"):
        load_experiment(str(spec))


def test_snakemake_stops_with_one_message_on_a_misspelled_key(tmp_path):
    bad = _broken(lambda e: e["trainer"].update(max_epoch=3))
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(yaml.safe_dump(bad))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(configfile),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode != 0
    assert (
        "sciimg: invalid config: config key experiments.cherenkov_energy.trainer.max_epoch is not allowed"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [configfile] or not (tmp_path / "results").exists()


def test_a_given_configfile_replaces_the_default_experiments():
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--nolock", "--configfile", "tests/data/tiny.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "experiment=tiny_energy" in result.stdout
    assert "experiment=cherenkov_energy" not in result.stdout


def test_lst_experiment_config_is_valid(lst_geometry, monkeypatch):
    monkeypatch.chdir(ROOT)  # the config names the camera file relative to the project root
    config = validate_config(yaml.safe_load((ROOT / "configs" / "cherenkov_energy.yaml").read_text()))
    (experiment,) = config["experiments"].values()
    assert experiment["data"]["augment"] == {"hex_symmetries": True, "extra_nsb_pe": 1.0}


def test_camera_that_is_not_a_geometry_is_a_config_error(tmp_path):
    bad = tmp_path / "notes.fits"
    bad.write_text("not a table")
    config = copy.deepcopy(DEFAULT)
    config["experiments"]["cherenkov_energy"]["data"]["simulate"]["camera"] = str(bad)
    with pytest.raises(ConfigError, match=r"data.simulate.camera: .*notes.fits: not a readable camera geometry"):
        validate_config(config)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda e: e["model"]["backbone_options"]["encoder_options"].update(norm="group"),
            r"experiments\.sky_denoise\.model\.backbone_options: norm 'group' normalises over a whole input window",
        ),
        (lambda e: e["data"].update(patch_size=512), r"data\.patch_size must not exceed tile_size 128, got 512"),
        (
            lambda e: e["data"]["simulate"].update(fwhm_px=[4.0, 2.0]),
            r"simulate\.fwhm_px must be a \[low, high\] range",
        ),
        (
            lambda e: e.update(baselines=["kriging"]),
            r"baselines must be among \['gaussian_filter', .*'bm3d'\] for sky denoising, got \['kriging'\]",
        ),
    ],
)
def test_bad_sky_config_is_one_clear_error(edit, message):
    config = copy.deepcopy(DEFAULT)
    edit(config["experiments"]["sky_denoise"])
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_are_valid(path, monkeypatch):
    monkeypatch.chdir(ROOT)  # configs name files relative to the project root
    assert validate_config(yaml.safe_load(path.read_text()))["experiments"]


def test_one_rule_per_stage_and_the_slurm_profile_names_only_rules_the_workflow_defines():
    import re

    resources = yaml.safe_load((ROOT / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())["set-resources"]
    rules = "".join(path.read_text() for path in [ROOT / "Snakefile", *(ROOT / "workflow" / "rules").glob("*.smk")])
    assert not re.findall(r"^use rule", rules, flags=re.MULTILINE)  # no per-modality copies of a stage
    defined = set(re.findall(r"^rule (\w+):", rules, flags=re.MULTILINE))
    assert {"simulate", "ingest", "fit", "predict", "baseline"} <= set(resources) <= defined


def test_a_configfile_naming_no_experiment_is_an_error_not_the_default_config(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("experiments: {}\n")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--nolock", "--configfile", str(empty)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode != 0 and "cherenkov_energy" not in result.stdout
    assert "sciimg: invalid config: config key experiments names no experiment" in result.stderr


def test_the_schema_offers_the_tasks_own_choices():
    from sciimg.config import load_schema
    from sciimg.tasks.base import OPTIMIZERS, SCHEDULERS
    from sciimg.tasks.dense import LOSSES

    model = load_schema()["definitions"]["experiment"]["properties"]["model"]["properties"]
    assert model["optimizer"]["enum"] == list(OPTIMIZERS) and model["scheduler"]["enum"] == list(SCHEDULERS)
    assert model["loss"]["enum"] == list(LOSSES)


def test_a_config_file_that_is_empty_not_yaml_or_gives_a_key_twice_is_one_error_naming_it(tmp_path):
    from sciimg.config import read_config_file

    cases = {
        "empty.yaml": ("", "is empty"),
        "broken.yaml": ("experiments: [\n", "not valid YAML at line 2"),
        "twice.yaml": (
            "experiments:\n  a: {modality: sky}\n  a: {modality: climate}\n",
            "line 3: key 'a' is given twice",
        ),
        "list.yaml": ("- 1\n- 2\n", "a config is a YAML mapping of keys, got list"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match=f"{name}: {message}"):
            read_config_file(tmp_path / name)
