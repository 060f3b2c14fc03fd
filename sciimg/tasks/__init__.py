"""LightningModules per task, on one base class; chosen by name."""

from sciimg.tasks.base import BaseTask
from sciimg.tasks.cleaning import CleaningTask
from sciimg.tasks.dense import DenoisingTask, InpaintingTask
from sciimg.tasks.detection import DetectionTask
from sciimg.tasks.keypoints import KeypointTask
from sciimg.tasks.regression import RegressionTask
from sciimg.tasks.segmentation import SegmentationTask

TASKS: dict[str, type[BaseTask]] = {
    "regression": RegressionTask,
    "inpainting": InpaintingTask,
    "denoising": DenoisingTask,
    "cleaning": CleaningTask,
    "detection": DetectionTask,
    "segmentation": SegmentationTask,
    "keypoints": KeypointTask,
}


# Tasks whose network differs by modality: detector-volume denoising removes noise voxels,
# a two-class (signal, noise) segmentation, where image denoising regresses clean pixels.
MODALITY_TASKS: dict[tuple[str, str], type[BaseTask]] = {("detector3d", "denoising"): SegmentationTask}


def task_class(name: str, modality: str | None = None) -> type[BaseTask]:
    """The task class registered as ``name`` (for ``modality``, where it has its own)."""
    if (modality, name) in MODALITY_TASKS:
        return MODALITY_TASKS[(modality, name)]
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name]


__all__ = [
    "TASKS",
    "BaseTask",
    "CleaningTask",
    "DenoisingTask",
    "DetectionTask",
    "InpaintingTask",
    "KeypointTask",
    "RegressionTask",
    "SegmentationTask",
    "task_class",
]
