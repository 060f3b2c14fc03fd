"""Image-to-image networks on masked inputs: inpainting (fill gaps) and denoising.

Batches hold ``image`` and ``mask`` (``(B, T, Y, X)`` with the time window as channels, or
``(B, 1, T, Y, X)`` as a third axis). Backbones that take the mask (``pconv_unet``) get it
as a second argument; any other dense backbone (``unet``) gets it as extra input channels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from sciimg.nets import build, takes_mask
from sciimg.nets.partial_conv import NormalisedConvolutionFill
from sciimg.predictors.base import Predictor

LOG_VARIANCE_LIMIT = 12.0  # the log-variance channel is clamped to +-this (normalised units)


def centre(x: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    """The centre time step, ``(B, 1, Y, X)``, of a window stacked as channels (2-D) or depth (3-D)."""
    if spatial_dims == 3:
        return x[:, :, x.shape[2] // 2]
    half = x.shape[1] // 2
    return x[:, half : half + 1]


class DensePredictor(Predictor):
    """A dense network giving the centre step; subclasses say how its output becomes the field (:meth:`compose`).

    Args:
        prefill_sigma: if > 0, gaps are first filled by normalised Gaussian convolution
            (:class:`~sciimg.nets.partial_conv.NormalisedConvolutionFill`, finest width in
            cells, three widths 4x apart); the network gets that first guess and the
            estimate at each width as extra, fully valid, channels, and predicts the
            correction to the first guess.
        residual: the network predicts the change to the input's centre step (denoising of
            images with a large dynamic range, such as sky images with bright stars).
        heteroscedastic: a second output channel, the log variance of each cell's value
            (trained with the Gaussian negative log-likelihood): each value comes with a std.
        **kwargs: see :class:`~sciimg.predictors.base.Predictor`; ``backbone`` must be dense
            (``pconv_unet`` or ``unet``).
    """

    def __init__(
        self,
        backbone: str = "pconv_unet",
        prefill_sigma: float = 0.0,
        residual: bool = False,
        heteroscedastic: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone=backbone, **kwargs)
        self.residual, self.heteroscedastic = residual, heteroscedastic
        self.mask_as_argument = takes_mask(backbone)
        self.prefill = NormalisedConvolutionFill(prefill_sigma) if prefill_sigma > 0 else None
        in_channels = self.in_channels * (2 + len(self.prefill.kernels) if self.prefill is not None else 1)
        if not self.mask_as_argument:
            in_channels *= 2  # the mask as channels
        outputs = 2 if heteroscedastic else 1
        self.model = build(backbone, self.spatial_dims, in_channels, out_channels=outputs, **self.backbone_options)
        if getattr(self.model, "out_channels", None) != outputs:
            raise ValueError(f"backbone must be a dense network (pconv_unet or unet), got {backbone!r}")

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Output of the centre step, ``(B, 1, Y, X)`` in normalised units; heteroscedastic: ``(B, 2, Y, X)``,
        the value and its log variance."""
        base = centre(image, self.spatial_dims) if self.residual else None
        if self.prefill is not None:
            guess, estimates = self.prefill.scales(image, mask)
            guesses = torch.cat([guess, *estimates], dim=1)
            base = centre(guess, self.spatial_dims) if base is None else base
            image, mask = torch.cat([image, guesses], dim=1), torch.cat([mask, torch.ones_like(guesses)], dim=1)
        inputs = (image, mask) if self.mask_as_argument else (torch.cat([image * mask, mask], dim=1),)
        out = self.model(*inputs)
        if self.spatial_dims == 3:
            out = out[:, :, out.shape[2] // 2]  # the centre step of the depth axis
        if base is None:
            return out
        return torch.cat([out[:, :1] + base, out[:, 1:]], dim=1)

    def compose(self, out: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The task's final field from the network's value channel."""
        return out

    def spread(self, out: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Each cell's std (normalised units) from the log-variance channel."""
        return torch.exp(0.5 * out[:, 1:].clamp(-LOG_VARIANCE_LIMIT, LOG_VARIANCE_LIMIT))

    def predict(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = self(batch["image"], batch["mask"])
        result = {"prediction": self.compose(out[:, :1], batch)}
        if self.heteroscedastic:
            result["std"] = self.spread(out, batch)
        return result


class InpaintingPredictor(DensePredictor):
    """Fill unobserved cells; observed cells keep their values (and have a std of 0)."""

    def compose(self, out: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        seen = centre(batch["mask"], self.spatial_dims)
        return seen * centre(batch["image"], self.spatial_dims) + (1 - seen) * out

    def spread(self, out: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return (1 - centre(batch["mask"], self.spatial_dims)) * super().spread(out, batch)


class DenoisingPredictor(DensePredictor):
    """The clean field from a noisy one."""
