"""Image-to-image tasks on masked inputs: inpainting (fill gaps) and denoising.

Batches hold ``image`` and ``mask`` (``(B, T, Y, X)`` with the time window as channels, or
``(B, 1, T, Y, X)`` as a third axis), and ``target``/``valid`` of the centre step
``(B, 1, Y, X)``. Backbones that take the mask (``pconv_unet``) get it as a second
argument; any other dense backbone (``unet``) gets it as extra input channels.
"""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torch import nn

from sciimg.nets import build, takes_mask
from sciimg.nets.partial_conv import NormalisedConvolutionFill
from sciimg.tasks.base import BaseTask

LOSSES = ("l1", "mse")


def centre(x: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    """The centre time step, ``(B, 1, Y, X)``, of a window stacked as channels (2-D) or depth (3-D)."""
    if spatial_dims == 3:
        return x[:, :, x.shape[2] // 2]
    half = x.shape[1] // 2
    return x[:, half : half + 1]


class DenseTask(BaseTask):
    """Common model, forward and metrics; subclasses define :meth:`loss_terms` and :meth:`compose`.

    Args:
        loss: ``l1`` or ``mse`` per cell.
        hole_weight: weight of unobserved cells in the inpainting loss (observed cells: 1).
        prefill_sigma: if > 0, gaps are first filled by normalised Gaussian convolution
            (:class:`~sciimg.nets.partial_conv.NormalisedConvolutionFill`, finest width in
            cells, three widths 4x apart); the network gets that first guess and the
            estimate at each width as extra, fully valid, channels, and predicts the
            correction to the first guess.
        residual: the network predicts the change to the input's centre step (denoising of
            images with a large dynamic range, such as sky images with bright stars).
        **kwargs: see :class:`~sciimg.tasks.base.BaseTask`; ``backbone`` must be dense
            (``pconv_unet`` or ``unet``).
    """

    def __init__(
        self,
        backbone: str = "pconv_unet",
        loss: str = "mse",
        hole_weight: float = 6.0,
        prefill_sigma: float = 0.0,
        residual: bool = False,
        **kwargs: Any,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
        super().__init__(backbone=backbone, **kwargs)

    def configure_models(self) -> None:
        hp = self.hparams
        self.mask_as_argument = takes_mask(hp.backbone)
        self.prefill = NormalisedConvolutionFill(hp.prefill_sigma) if hp.prefill_sigma > 0 else None
        in_channels = hp.in_channels * (2 + len(self.prefill.kernels) if self.prefill is not None else 1)
        if not self.mask_as_argument:
            in_channels *= 2  # the mask as channels
        self.model = build(hp.backbone, hp.spatial_dims, in_channels, out_channels=1, **(hp.backbone_options or {}))
        if getattr(self.model, "out_channels", None) != 1:
            raise ValueError(f"backbone must be a dense network (pconv_unet or unet), got {hp.backbone!r}")

    def configure_losses(self) -> None:
        self.cell_loss = nn.L1Loss(reduction="none") if self.hparams.loss == "l1" else nn.MSELoss(reduction="none")

    def configure_metrics(self) -> None:
        metrics = torchmetrics.MetricCollection({"rmse": torchmetrics.MeanSquaredError(squared=False)})
        self.metrics = nn.ModuleDict({f"{s}_metrics": metrics.clone(prefix=f"{s}_") for s in ("train", "val", "test")})

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Output of the centre step, ``(B, 1, Y, X)``, in normalised units."""
        base = centre(image, self.hparams.spatial_dims) if self.hparams.residual else None
        if self.prefill is not None:
            guess, estimates = self.prefill.scales(image, mask)
            guesses = torch.cat([guess, *estimates], dim=1)
            base = centre(guess, self.hparams.spatial_dims) if base is None else base
            image, mask = torch.cat([image, guesses], dim=1), torch.cat([mask, torch.ones_like(guesses)], dim=1)
        inputs = (image, mask) if self.mask_as_argument else (torch.cat([image * mask, mask], dim=1),)
        out = centre(self.model(*inputs), self.hparams.spatial_dims)
        return out if base is None else out + base

    def compose(self, out: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The task's final field from the network output."""
        return out

    def loss_terms(self, cells: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-cell loss weights applied to ``cells`` (the per-cell loss); sum / valid cells."""
        valid = batch["valid"].to(cells.dtype)
        return (cells * valid).sum() / valid.sum().clamp(min=1)

    def scored_cells(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cells the metric is computed on."""
        return batch["valid"]

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        out = self(batch["image"], batch["mask"])
        loss = self.loss_terms(self.cell_loss(out, batch["target"]), batch)
        scored = self.scored_cells(batch)
        if scored.any():
            self.metrics[f"{stage}_metrics"].update(self.compose(out.detach(), batch)[scored], batch["target"][scored])
        self.log_stage(stage, loss, len(out))
        return loss

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int = 0) -> dict[str, torch.Tensor]:
        return {"prediction": self.compose(self(batch["image"], batch["mask"]), batch)}


class InpaintingTask(DenseTask):
    """Fill unobserved cells; observed cells keep their values.

    The loss is weighted per cell as in Liu et al. 2018: observed (valid) cells 1, holes
    ``hole_weight``; cells without truth count for nothing. The metric is the RMSE on holes.
    """

    def compose(self, out: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        seen = centre(batch["mask"], self.hparams.spatial_dims)
        return seen * centre(batch["image"], self.hparams.spatial_dims) + (1 - seen) * out

    def loss_terms(self, cells: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        seen = centre(batch["mask"], self.hparams.spatial_dims).to(cells.dtype)
        valid = batch["valid"].to(cells.dtype)
        weight = valid * (seen + self.hparams.hole_weight * (1 - seen))
        return (cells * weight).sum() / valid.sum().clamp(min=1)

    def scored_cells(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return batch["valid"] & (centre(batch["mask"], self.hparams.spatial_dims) == 0)


class DenoisingTask(DenseTask):
    """Predict the clean field from a noisy one (supervised: noisy in, clean target)."""
