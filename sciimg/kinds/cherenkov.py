"""Cherenkov telescope frames (hexagonal cameras, ctapipe DL1): the energy of gamma showers."""

from __future__ import annotations

from typing import Any

from sciimg.errors import ConfigError, InputError
from sciimg.kinds import Kind, Spec


def check_data(key: str, spec: Spec) -> None:
    """A sensible energy range; a camera geometry file that loads."""
    sim = spec["data"].get("simulate")
    if sim and sim["energy_min_tev"] >= sim["energy_max_tev"]:
        raise ConfigError(f"{key}.data.simulate.energy_min_tev must be below energy_max_tev")
    camera = (sim or {}).get("camera", "simulated")
    if camera != "simulated":
        from sciimg.geometry.camera import load_camera_geometry  # astropy tables: only for a camera file

        try:
            load_camera_geometry(camera)
        except InputError as error:
            raise ConfigError(f"{key}.data.simulate.camera: {error}") from None


def dataset_options(spec: Spec) -> dict[str, Any]:
    """Augmentation of the train split and auxiliary targets of the camera dataset."""
    return {"augment": spec["data"].get("augment"), "aux_targets": spec["model"].get("aux_targets") or ()}


def input_layout(spec: Spec) -> tuple[int, int]:
    """One input channel per camera channel (charge, peak time, ...), on a 2D grid."""
    return len(spec["data"]["channels"]), 2


ENERGY = Kind(
    modality="cherenkov",
    task="regression",
    simulator="sciimg.simulate.cherenkov:simulate_cherenkov_file",
    raw_name="simulated.dl1.h5",
    ingester="sciimg.data.ingest_cherenkov:ingest_cherenkov",
    task_class="sciimg.tasks.regression:RegressionTask",
    predictor="sciimg.predictors.regression:RegressionPredictor",
    dataset="sciimg.data.dataset:StoreDataset",
    dataset_options=dataset_options,
    input_layout=input_layout,
    model_class="sciimg.inference.load:Regressor",
    predict="sciimg.inference.predict:predict_table",
    output_suffix="ecsv",
    baselines=("hillas_rf",),
    baseline_runner="sciimg.baselines.run:run_table_baseline",
    evaluate="sciimg.evaluate.regression:evaluate_energy",
    evaluate_options={"per_bin_comparison": True, "camera_examples": True},
    figures=("energy_resolution.png", "energy_migration.png", "examples.png"),
    report_section="sciimg.evaluate.report:energy_section",
    check_data=check_data,
    keeps_train_arrays=True,
    graph="sciimg.inference.graphs:camera_graph",
    headline=("resolution_all", "lower"),
)

KINDS = (ENERGY,)
