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


def task_class(name: str) -> type[BaseTask]:
    """The task class registered as ``name``."""
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
