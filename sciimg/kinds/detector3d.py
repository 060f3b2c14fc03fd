"""3D particle-detector volumes (LArTPC-like HDF5 events): voxel classes, end points, energy, noise removal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sciimg.errors import ConfigError
from sciimg.kinds import Kind, Spec, check_windowed_model, data_keys

RANGES = ("vertices", "particles_per_vertex", "muon_mev", "proton_mev", "electron_mev", "photon_mev")


def check_data(key: str, spec: Spec) -> None:
    """A grid of one side or three, simulator ranges as [low, high], a tiling-independent model."""
    data = spec["data"]
    grid = data["grid"]
    sides = [grid] * 3 if isinstance(grid, int) else grid
    if len(sides) != 3:
        raise ConfigError(f"{key}.data.grid must be one side or [Z, Y, X], got {grid}")
    sim = data.get("simulate") or {}
    for name in RANGES:
        if name in sim and sim[name][0] > sim[name][1]:
            raise ConfigError(f"{key}.data.simulate.{name} must be a [low, high] range, got {sim[name]}")
    check_windowed_model(key, spec["model"])


def one_channel_3d(spec: Spec) -> tuple[int, int]:
    """One charge channel, 3D."""
    return 1, 3


def card(spec: Spec, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The grid events are put on, the classes and the inference window."""
    return {"volume": {"grid": attrs["grid"], "classes": attrs["classes"], "patch_size": spec["data"]["patch_size"]}}


VOLUMES = {  # shared by every detector3d kind
    "modality": "detector3d",
    "simulator": "sciimg.simulate.detector3d:simulate_detector3d_file",
    "raw_name": "simulated.h5",
    "ingester": "sciimg.data.ingest_detector3d:ingest_detector3d",
    "input_layout": one_channel_3d,
    "check_data": check_data,
    "card": card,
    "graph": "sciimg.inference.graphs:volume_graph",
}
VOXEL_CLASSES = {  # voxel classifiers: segmentation, and denoising as signal vs noise
    "task_class": "sciimg.tasks.segmentation:SegmentationTask",
    "predictor": "sciimg.predictors.segmentation:SegmentationPredictor",
    "dataset": "sciimg.data.detector3d_dataset:VolumeDataset",
    "dataset_options": data_keys("patch_size", "crops_per_event"),
    "model_class": "sciimg.inference.detector3d:VolumeModel",
    "output_suffix": "h5",
    "needs_classes": True,
}

KINDS = (
    Kind(
        task="segmentation",
        predict="sciimg.inference.detector3d:predict_volumes",
        baselines=("threshold_pca",),
        baseline_runner="sciimg.baselines.detector3d_segment:run_volume_baseline",
        evaluate="sciimg.evaluate.detector3d_segment:evaluate_volume_segmentation",
        figures=("volume_views.png",),
        report_section="sciimg.evaluate.report:volume_section",
        headline=("mean_f1", "higher"),
        ingest_options={"voxel_labels": "classes"},
        **VOXEL_CLASSES,
        **VOLUMES,
    ),
    Kind(
        task="denoising",
        predict="sciimg.inference.detector3d_denoise:predict_denoised",
        baselines=("threshold_isolated",),
        baseline_runner="sciimg.baselines.detector3d_denoise:run_denoise_baseline",
        evaluate="sciimg.evaluate.detector3d_denoise:evaluate_volume_denoising",
        figures=("denoise_views.png",),
        report_section="sciimg.evaluate.report:denoise_section",
        headline=("noise_f1", "higher"),
        ingest_options={"voxel_labels": "signal_noise"},
        **VOXEL_CLASSES,
        **VOLUMES,
    ),
    Kind(
        task="keypoints",
        task_class="sciimg.tasks.keypoints:KeypointTask",
        predictor="sciimg.predictors.keypoints:KeypointPredictor",
        dataset="sciimg.data.detector3d_dataset:VolumeKeypointDataset",
        dataset_options=data_keys("patch_size", "crops_per_event", "heat_sigma"),
        model_class="sciimg.inference.detector3d_keypoints:KeypointModel",
        predict="sciimg.inference.detector3d_keypoints:predict_keypoints",
        output_suffix="ecsv",
        baselines=("pca_ends",),
        baseline_runner="sciimg.baselines.detector3d_keypoints:run_keypoint_baseline",
        evaluate="sciimg.evaluate.detector3d_keypoints:evaluate_volume_keypoints",
        figures=("keypoint_curves.png", "keypoint_views.png"),
        report_section="sciimg.evaluate.report:keypoint_section",
        headline=("efficiency_at_purity_0.9_within_3_voxels", "higher"),
        **VOLUMES,
    ),
    Kind(
        task="regression",
        task_class="sciimg.tasks.regression:RegressionTask",
        predictor="sciimg.predictors.regression:RegressionPredictor",
        dataset="sciimg.data.detector3d_dataset:VolumeEventDataset",
        dataset_options=data_keys(),
        model_class="sciimg.inference.detector3d_energy:VolumeRegressor",
        predict="sciimg.inference.predict:predict_table",
        output_suffix="ecsv",
        baselines=("calorimetric",),
        baseline_runner="sciimg.baselines.run:run_table_baseline",
        evaluate="sciimg.evaluate.regression:evaluate_energy",
        ingest_options={"event_target": True},
        evaluate_options={"per_bin_comparison": False, "camera_examples": False},
        figures=("energy_resolution.png", "energy_migration.png"),
        report_section="sciimg.evaluate.report:energy_section",
        headline=("resolution_all", "lower"),
        **VOLUMES,
    ),
)
