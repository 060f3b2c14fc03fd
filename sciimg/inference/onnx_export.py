"""Export a trained model to ONNX: the graph its kind builds (:mod:`sciimg.inference.graphs`), physical
inputs in and physical outputs out, with a dynamic batch size (and window sides, where the graph says so)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from sciimg.inference.load import load_model
from sciimg.io.atomic import atomic_path
from sciimg.kinds import kind_of


def export_onnx(model_dir: str | os.PathLike, output: str | os.PathLike, opset: int = 18) -> Path:
    """Write the model in ``model_dir`` as an ONNX file (the graph its kind builds), atomically."""
    model = load_model(model_dir)
    graph = kind_of(model.metadata).load("graph")(model)
    with atomic_path(output) as tmp, torch.no_grad():
        program = torch.onnx.export(
            graph.module.eval(),
            graph.example,
            dynamo=True,
            opset_version=opset,
            input_names=graph.inputs,
            output_names=graph.outputs,
            dynamic_shapes=graph.dynamic_shapes(),
        )
        program.save(str(tmp))
    return Path(output)
