"""Sky images (FITS): denoising, cosmic-ray and artefact cleaning, source detection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sciimg.errors import ConfigError
from sciimg.kinds import Kind, Spec, check_windowed_model, data_keys


def check_data(key: str, spec: Spec) -> None:
    """Patches fit in tiles, simulator ranges are [low, high], the model is tiling-independent."""
    data = spec["data"]
    if data["patch_size"] > data["tile_size"]:
        raise ConfigError(
            f"{key}.data.patch_size must not exceed tile_size {data['tile_size']}, got {data['patch_size']}"
        )
    for name, values in (data.get("simulate") or {}).items():
        if isinstance(values, list) and len(values) == 2 and name != "shape" and values[0] > values[1]:
            raise ConfigError(f"{key}.data.simulate.{name} must be a [low, high] range, got {values}")
    check_windowed_model(key, spec["model"])


def one_channel_2d(spec: Spec) -> tuple[int, int]:
    """One image channel, 2D."""
    return 1, 2


def denoising_card(spec: Spec, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """How the denoiser was trained, and its pixel scale."""
    return {"sky": {"training_target": spec["data"]["training_target"], "pixel_scale": attrs["pixel_scale"]}}


def cleaning_card(spec: Spec, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The pixel scale, and how far artefact masks grow."""
    return {"sky": {"pixel_scale": attrs["pixel_scale"], "mask_dilation": spec["data"]["mask_dilation"]}}


def detection_card(spec: Spec, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The sources the detector was trained to find, and its pixel scale."""
    keys = ("min_snr", "heat_sigma", "target_purity")
    return {"sky": {"pixel_scale": "standardised, asinh-stretched", **{k: spec["data"][k] for k in keys}}}


SKY = {  # shared by every sky kind
    "modality": "sky",
    "simulator": "sciimg.simulate.sky:simulate_sky_folder",
    "raw_name": "simulated_fits",
    "ingester": "sciimg.data.ingest_sky:ingest_sky",
    "input_layout": one_channel_2d,
    "predict": "sciimg.inference.sky:predict_sky",
    "output_suffix": "fits",
    "check_data": check_data,
}

KINDS = (
    Kind(
        task="denoising",
        task_class="sciimg.tasks.dense:DenoisingTask",
        predictor="sciimg.predictors.dense:DenoisingPredictor",
        dataset="sciimg.data.sky_dataset:SkyDenoisingDataset",
        dataset_options=data_keys("training_target", "patch_size", "blind_spot_fraction", "crops_per_tile"),
        model_class="sciimg.inference.sky:SkyModel",
        graph="sciimg.inference.graphs:sky_graph",
        baselines=("gaussian_filter", "median_filter", "wavelet", "nl_means", "bm3d"),
        baseline_runner="sciimg.baselines.sky_denoise:run_sky_denoiser",
        evaluate="sciimg.evaluate.sky_denoise:evaluate_sky_denoising",
        figures=("denoise_cutouts.png",),
        report_section="sciimg.evaluate.report:sky_section",
        headline=("rmse_sigma", "lower"),
        card=denoising_card,
        **SKY,
    ),
    Kind(
        task="cleaning",
        task_class="sciimg.tasks.cleaning:CleaningTask",
        predictor="sciimg.predictors.cleaning:CleaningPredictor",
        dataset="sciimg.data.sky_dataset:SkyCleaningDataset",
        dataset_options=data_keys("patch_size", "crops_per_tile"),
        model_class="sciimg.inference.sky_clean:CleaningModel",
        graph="sciimg.inference.graphs:sky_graph",
        baselines=("astroscrappy", "biharmonic", "masked_median"),
        baseline_runner="sciimg.baselines.sky_clean:run_sky_cleaner",
        evaluate="sciimg.evaluate.sky_clean:evaluate_sky_cleaning",
        figures=("cleaning_roc.png", "cleaning_cutouts.png"),
        report_section="sciimg.evaluate.report:sky_cleaning_section",
        headline=("tpr_at_0.05%_fpr", "higher"),
        card=cleaning_card,
        ingest_options={"artefact_labels": True},
        calibrate="sciimg.inference.sky_clean:calibrate_card",
        **SKY,
    ),
    Kind(
        task="detection",
        task_class="sciimg.tasks.detection:DetectionTask",
        predictor="sciimg.predictors.detection:DetectionPredictor",
        dataset="sciimg.data.sky_detection_dataset:SkyDetectionDataset",
        dataset_options=data_keys("patch_size", "crops_per_tile", "min_snr", "heat_sigma"),
        model_class="sciimg.inference.sky_detect:DetectionModel",
        graph="sciimg.inference.graphs:sky_graph",
        baselines=("sep", "photutils"),
        baseline_runner="sciimg.baselines.sky_detect:run_sky_detector",
        evaluate="sciimg.evaluate.sky_detect:evaluate_sky_detection",
        figures=("detection_completeness.png", "detection_cutouts.png"),
        report_section="sciimg.evaluate.report:sky_detection_section",
        headline=("completeness_at_snr_5", "higher"),
        card=detection_card,
        ingest_options={"source_catalogs": True},
        calibrate="sciimg.inference.sky_detect:calibrate_card",
        **SKY,
    ),
)
