"""Temperature fields (NetCDF on lat/lon grids): filling gaps and removing noise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sciimg.errors import ConfigError
from sciimg.kinds import Kind, Spec


def check_data(key: str, spec: Spec) -> None:
    """An odd time window (its centre is predicted), a mask file when masks come from one, a valid grid,
    a floor only for simulated data."""
    data = spec["data"]
    if data["time_window"] % 2 == 0:
        raise ConfigError(f"{key}.data.time_window must be odd (the centre is predicted), got {data['time_window']}")
    masks = data["masks"]
    if masks["kind"] == "file" and "file" not in masks:
        raise ConfigError(f"{key}.data.masks.file must name a NetCDF file when masks.kind is 'file'")
    if "floor" in spec.get("baselines", ()):
        if "simulate" not in data:
            raise ConfigError(f"{key}.baselines: the floor is computed from the simulator, but the data are files")
        if data["simulate"].get("events_per_month", 0) > 0:
            raise ConfigError(f"{key}.baselines: the floor is exact only for Gaussian fields (events_per_month: 0)")
    grid = (data.get("simulate") or {}).get("grid")
    if grid and (grid["lat_min"] >= grid["lat_max"] or grid["lon_min"] >= grid["lon_max"]):
        raise ConfigError(f"{key}.data.simulate.grid must have lat_min < lat_max and lon_min < lon_max, got {grid}")


def dataset_options(spec: Spec) -> dict[str, Any]:
    """The input window in time and the train split's augmentation."""
    data = spec["data"]
    return {"augment": data.get("augment"), "time_window": data["time_window"], "time_axis": data["time_axis"]}


def input_layout(spec: Spec) -> tuple[int, int]:
    """Months of the window as channels of a 2D field, or as the depth of one 3D input."""
    data = spec["data"]
    depth = data["time_axis"] == "depth"
    return (1 if depth else data["time_window"]), (3 if depth else 2)


def card(spec: Spec, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The source field's description and the input window."""
    data = spec["data"]
    field = {"time_window": data["time_window"], "time_axis": data["time_axis"], "source": attrs["field_info"]}
    return {
        "field": {
            **field,
            "masks": attrs["masks"],
            "noise_std_k": attrs["noise_std_k"],
            "corruption": attrs["corruption"],
        }
    }


FIELDS = {  # shared by both climate kinds
    "modality": "climate",
    "simulator": "sciimg.simulate.climate:simulate_climate_file",
    "raw_name": "simulated.nc",
    "ingester": "sciimg.data.ingest_climate:ingest_climate",
    "dataset": "sciimg.data.climate_dataset:FieldDataset",
    "dataset_options": dataset_options,
    "input_layout": input_layout,
    "model_class": "sciimg.inference.climate:FieldModel",
    "predict": "sciimg.inference.climate:predict_fields",
    "output_suffix": "nc",
    "baseline_runner": "sciimg.baselines.climate_infill:run_field_baseline",
    "evaluate": "sciimg.evaluate.climate:evaluate_fields",
    "figures": ("field_maps.png", "area_mean.png"),
    "report_section": "sciimg.evaluate.report:field_section",
    "check_data": check_data,
    "card": card,
    "keeps_train_arrays": True,
    "graph": "sciimg.inference.graphs:field_graph",
    "headline": ("rmse", "lower"),
}

KINDS = (
    Kind(
        task="inpainting",
        task_class="sciimg.tasks.dense:InpaintingTask",
        predictor="sciimg.predictors.dense:InpaintingPredictor",
        baselines=("climatology", "idw", "biharmonic", "kriging", "eof", "floor"),
        ingest_options={"corruption": "gaps"},
        **FIELDS,
    ),
    Kind(
        task="denoising",
        task_class="sciimg.tasks.dense:DenoisingTask",
        predictor="sciimg.predictors.dense:DenoisingPredictor",
        baselines=("gaussian_filter",),
        ingest_options={"corruption": "noise"},
        **FIELDS,
    ),
)
