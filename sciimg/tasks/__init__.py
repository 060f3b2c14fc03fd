"""LightningModules per task, on one base class; each experiment kind names its own (sciimg.kinds)."""

from sciimg.tasks.base import BaseTask
from sciimg.tasks.cleaning import CleaningTask
from sciimg.tasks.dense import DenoisingTask, InpaintingTask
from sciimg.tasks.detection import DetectionTask
from sciimg.tasks.keypoints import KeypointTask
from sciimg.tasks.regression import RegressionTask
from sciimg.tasks.segmentation import SegmentationTask

__all__ = [
    "BaseTask",
    "CleaningTask",
    "DenoisingTask",
    "DetectionTask",
    "InpaintingTask",
    "KeypointTask",
    "RegressionTask",
    "SegmentationTask",
]
