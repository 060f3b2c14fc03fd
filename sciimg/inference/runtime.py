"""Where a model's network runs at predict time: ONNX Runtime on the CPU, PyTorch otherwise.

A :class:`WindowRunner` wraps a module that maps one batch tensor to one output tensor (the
windows of a sliding-window pass). With ONNX Runtime it traces the module once into an
in-memory ONNX graph (about a second) and runs that; the module's own PyTorch code is the
fallback and the reference.

``runtime`` is ``"onnxruntime"``, ``"torch"`` or ``"auto"``: on the CPU, the runtime the
model class measured faster (its ``preferred``), else PyTorch. `make bench` times both in
one run: on this 2-core machine ONNX Runtime cleaned a 4096^2 sky image 1.21x and found the
sources of a 2048^2 one 1.80x faster than PyTorch, but classified detector voxels no faster
(0.46-1.03x) and ran the camera regressor at 0.99x, so those keep PyTorch.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sciimg.errors import InputError

log = logging.getLogger(__name__)
RUNTIMES = ("auto", "onnxruntime", "torch")


def check_runtime(runtime: str) -> str:
    """``runtime`` if it is one of :data:`RUNTIMES`.

    Raises:
        InputError: another value.
    """
    if runtime not in RUNTIMES:
        raise InputError(f"runtime must be one of {list(RUNTIMES)}, got {runtime!r}")
    return runtime


def traced_onnx(module: nn.Module, example: torch.Tensor) -> bytes:
    """``module`` traced on ``example`` as an ONNX graph (input ``windows``, output ``out``); every axis but the
    channels is dynamic."""
    axes = {axis: f"axis{axis}" for axis in range(example.dim()) if axis != 1}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracing exporter's deprecation and trace notices
        torch.onnx.export(
            module,
            (example,),
            buffer,
            dynamo=False,
            input_names=["windows"],
            output_names=["out"],
            dynamic_axes={"windows": axes, "out": axes},
            opset_version=18,
        )
    return buffer.getvalue()


def onnx_session(graph: bytes | str):
    """An ONNX Runtime session on the CPU of a graph (bytes or a file path), with the torch thread count."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class WindowRunner:
    """``runner(batch)`` is ``module(batch)``, run by ONNX Runtime or PyTorch as ``runtime`` says.

    Args:
        module: batch tensor in, one tensor out; in eval mode.
        example: a small batch of the input's dtype and number of channels.
        device: where the module's weights live (ONNX Runtime serves the CPU only).
        preferred: what ``auto`` means on the CPU (the runtime measured faster for this module).
        graph: an ONNX file of the module to run instead of tracing it (the int8 graph ``sciimg compress``
            writes); ``auto`` then runs it on the CPU, and PyTorch runs the module's float weights.
    """

    def __init__(
        self,
        module: nn.Module,
        example: torch.Tensor,
        runtime: str,
        device: torch.device,
        preferred: str = "onnxruntime",
        graph: Path | None = None,
    ) -> None:
        self.module, self.device = module.eval(), device
        self.session = None
        wanted = check_runtime(runtime)
        if wanted == "auto":
            wanted = "onnxruntime" if graph is not None else preferred
            wanted = wanted if device.type == "cpu" else "torch"
        if wanted == "torch":
            return
        try:
            self.session = onnx_session(str(graph) if graph is not None else traced_onnx(self.module, example))
        except ImportError:
            if runtime == "onnxruntime":
                raise InputError("runtime 'onnxruntime' needs the onnxruntime package") from None
        except Exception as error:  # any export failure leaves the PyTorch path, which is exact
            if runtime == "onnxruntime":
                raise
            log.warning("ONNX Runtime unavailable for %s (%s): PyTorch runs it", type(module).__name__, error)

    @property
    def runtime(self) -> str:
        """The runtime in use: ``onnxruntime`` or ``torch``."""
        return "torch" if self.session is None else "onnxruntime"

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.session is None:
            with torch.no_grad():
                return self.module(batch.to(self.device))
        (out,) = self.session.run(None, {"windows": np.ascontiguousarray(batch.numpy(), np.float32)})
        return torch.from_numpy(out)
