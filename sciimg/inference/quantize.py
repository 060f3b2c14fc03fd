"""8-bit window graphs: a model's sliding-window pass, quantised by ONNX Runtime with a calibration set from train.

Static quantisation (Jacob et al. 2018; ONNX Runtime's QDQ format): weights become int8 per
output channel, activations uint8 with ranges measured on windows the model really sees
when it predicts the training split. The graph is written into the model folder and named,
with its SHA-256, in the card's ``window_graph``; the model's :class:`~sciimg.inference.runtime.WindowRunner`
then runs it on the CPU, while ``runtime="torch"`` still runs the float weights beside it.

Measured on the default config's sky denoiser (U-Net, 256^2 windows, 2 cores): the int8
graph runs 1.9x faster than the float one in ONNX Runtime, but sky images span thousands of
noise sigmas, and 8-bit activations cost it its accuracy (validation RMSE 0.26 -> 0.56
sigma). Keeping the first convolution in float halves the int8 graph's error but takes back
almost all of the speed.
`sciimg compress` therefore publishes an int8 graph only when the kind's headline metric
says it kept the accuracy.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import numpy as np
import torch

from sciimg.errors import ConfigError
from sciimg.inference.export import CARD, file_sha256
from sciimg.inference.load import TrainedModel, load_model
from sciimg.inference.runtime import traced_onnx
from sciimg.io.atomic import write_text_atomic
from sciimg.kinds import kind_of

log = logging.getLogger(__name__)

INT8_GRAPH = "windows.int8.onnx"
CALIBRATION_PASSES = 48  # window passes whose inputs set the activation ranges
ACTIVATION_PERCENTILE = 99.999  # of each activation's calibration values: its uint8 range


class _EnoughWindows(BaseException):
    """Enough window passes were recorded: the prediction of the training split stops here (a BaseException,
    so no handler of errors on the way takes it for one)."""


class _Recorder:
    """Stands for a model's window runner: keeps the inputs of its first ``limit`` passes, then stops."""

    def __init__(self, runner, limit: int) -> None:
        self.runner, self.limit = runner, limit
        self.batches: list[np.ndarray] = []

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        self.batches.append(batch.detach().cpu().numpy().astype(np.float32))
        if len(self.batches) >= self.limit:
            raise _EnoughWindows
        return self.runner(batch)


def calibration_windows(
    model: TrainedModel, train: Path, work: Path, limit: int = CALIBRATION_PASSES
) -> list[np.ndarray]:
    """Inputs of the first ``limit`` window passes of ``model`` (loaded with ``runtime="torch"``) predicting
    the training split.

    Raises:
        ConfigError: the model's kind does not predict by windows (camera regressors, temperature fields).
    """
    if not hasattr(model, "window_module"):
        raise ConfigError(
            f"compress.quantize int8 applies to sliding-window models (sky, detector3d voxels), not {model.path}'s "
            f"{model.metadata['modality']} {model.metadata['task']}"
        )
    recorder = _Recorder(model.windows, limit)
    model.windows = recorder  # the cached runner, replaced on this instance only
    work.mkdir(parents=True, exist_ok=True)
    kind = kind_of(model.metadata)
    with contextlib.suppress(_EnoughWindows):
        kind.load("predict")(model, [train], work / f"calibration.{kind.output_suffix}")
    return recorder.batches


class _Windows:
    """ONNX Runtime's calibration reader over recorded window batches."""

    def __init__(self, batches: list[np.ndarray]) -> None:
        self.batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {"windows": batch}


def quantize_windows(model_dir: Path, train: Path, work: Path) -> Path:
    """Write the int8 graph of the model's window pass into ``model_dir`` and name it in the card."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    model = load_model(model_dir, runtime="torch")
    batches = calibration_windows(model, train, work)
    float_graph, prepared = work / "windows.float.onnx", work / "windows.prepared.onnx"
    float_graph.write_bytes(traced_onnx(model.window_module(), torch.from_numpy(batches[0])))
    quant_pre_process(str(float_graph), str(prepared), skip_symbolic_shape=True)  # fold and fuse before quantising
    graph = model_dir / INT8_GRAPH
    quantize_static(
        str(prepared),
        str(graph),
        _Windows(batches),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.Percentile,  # a few bright pixels do not set a whole layer's range
        extra_options={"CalibPercentile": ACTIVATION_PERCENTILE},
    )
    card = json.loads((model_dir / CARD).read_text())
    card["window_graph"] = {
        "file": INT8_GRAPH,
        "sha256": file_sha256(graph),
        "precision": "int8 weights (per channel), uint8 activations",
        "calibration_windows": int(sum(len(b) for b in batches)),
    }
    write_text_atomic(model_dir / CARD, json.dumps(card, indent=2))
    log.info(
        "%s: int8 window graph from %d calibration windows", model_dir, card["window_graph"]["calibration_windows"]
    )
    return graph
