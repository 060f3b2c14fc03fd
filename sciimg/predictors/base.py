"""The base predictor: a backbone chosen by name, built from plain options."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


def init_arguments(cls: type, root: type) -> list[str]:
    """The named ``__init__`` arguments of ``cls`` and of its bases down to ``root`` (where ``**kwargs`` go)."""
    names: list[str] = []
    for klass in cls.__mro__:
        if issubclass(klass, root) and "__init__" in vars(klass):
            for parameter in inspect.signature(klass.__init__).parameters.values():
                named = parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
                if named and parameter.name != "self" and parameter.name not in names:
                    names.append(parameter.name)
    return names


def predictor_options(cls: type[Predictor], options: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``options`` (e.g. a task's hyperparameters) that predictor class ``cls`` takes."""
    return {name: options[name] for name in init_arguments(cls, Predictor) if name in options}


class Predictor(nn.Module):
    """A task's network; subclasses build it in ``__init__`` and say what :meth:`predict` returns.

    Every argument is a string, number, bool, list or dict of those, so the options a model
    card records rebuild the predictor (:func:`predictor_options`).

    Args:
        backbone: registered backbone name (:func:`sciimg.nets.available`).
        backbone_options: options for the backbone (widths, norm, act, ...).
        spatial_dims: 2 or 3.
        in_channels: input channels.
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        backbone_options: dict[str, Any] | None = None,
        spatial_dims: int = 2,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.backbone_options = dict(backbone_options or {})
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(image)

    def predict(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Outputs in the units the task predicts (``prediction``, and ``std`` where the task has one)."""
        return {"prediction": self(batch["image"])}
