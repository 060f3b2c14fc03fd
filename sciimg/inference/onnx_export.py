"""Export a trained model to ONNX: the graph its kind builds (:mod:`sciimg.inference.graphs`), physical
inputs in and physical outputs out, with a dynamic batch size."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from sciimg.errors import InputError
from sciimg.inference.load import load_model
from sciimg.io.atomic import atomic_path
from sciimg.kinds import all_kinds, kind_of


def export_onnx(model_dir: str | os.PathLike, output: str | os.PathLike, opset: int = 18) -> Path:
    """Write the model in ``model_dir`` as an ONNX file, atomically.

    Raises:
        InputError: the model's kind has no graph to export.
    """
    model = load_model(model_dir)
    kind = kind_of(model.metadata)
    if not kind.exportable:
        exportable = [k.name for k in all_kinds() if k.exportable]
        raise InputError(f"{model_dir}: ONNX export is available for the kinds {exportable}, not {kind.name}")
    graph = kind.load("graph")(model)
    batch = torch.export.Dim("batch", min=1)
    with atomic_path(output) as tmp, torch.no_grad():
        program = torch.onnx.export(
            graph.module.eval(),
            graph.example,
            dynamo=True,
            opset_version=opset,
            input_names=graph.inputs,
            output_names=graph.outputs,
            dynamic_shapes=tuple({0: batch} for _ in graph.example),
        )
        program.save(str(tmp))
    return Path(output)
