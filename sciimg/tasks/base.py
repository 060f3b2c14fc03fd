"""Base LightningModule: trains a predictor (:mod:`sciimg.predictors`); losses, metrics, optimiser, LR schedule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import lightning as L
import torch
from torch import nn

from sciimg.predictors import Predictor, predictor_options

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("cosine", "plateau", "none")


class BaseTask(L.LightningModule):
    """Common training logic; subclasses name their :attr:`predictor_class`, implement the two
    ``configure_*`` hooks and ``step``.

    Every ``__init__`` argument is a string, number, bool, list or dict of those, and is
    saved with ``save_hyperparameters`` so ``Task.load_from_checkpoint(path)`` rebuilds the
    model without extra arguments. The arguments the predictor takes build :attr:`predictor`.

    Args:
        backbone: registered backbone name (:func:`sciimg.nets.available`).
        backbone_options: options for the backbone (widths, norm, act, ...).
        spatial_dims: 2 or 3.
        in_channels: input channels.
        optimizer: adam, adamw or sgd (with ``momentum``).
        lr: learning rate.
        weight_decay: weight decay (decoupled for adamw).
        momentum: SGD momentum.
        scheduler: cosine (over ``max_epochs``), plateau (on val loss) or none.
        max_epochs: length of the cosine schedule.
    """

    predictor_class: type[Predictor] = Predictor

    def __init__(
        self,
        backbone: str = "resnet18",
        backbone_options: dict[str, Any] | None = None,
        spatial_dims: int = 2,
        in_channels: int = 1,
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        momentum: float = 0.9,
        scheduler: str = "cosine",
        max_epochs: int = 10,
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {list(SCHEDULERS)}, got {scheduler!r}")
        self.save_hyperparameters()
        self.predictor = self.predictor_class(**predictor_options(self.predictor_class, self.hparams))
        self.configure_losses()
        self.configure_metrics()
        self.distil_weight = 0.0
        self.distil_terms: list[torch.Tensor] = []

    def distil_from(self, teacher: Predictor, weight: float = 1.0) -> None:
        """Train toward a trained ``teacher``'s outputs as well as the targets (knowledge distillation).

        Each network of the predictor (``model``, and ``inpainter`` for cleaning) adds, in
        training steps, ``weight`` x the mean squared difference between its raw outputs
        (logits, log-variances) and those of the teacher's network of the same name on the
        same inputs: logit matching (Ba and Caruana 2014; Hinton et al. 2015). The networks
        may differ in width; their outputs must have the same shape. The teacher stays
        frozen and is not part of the checkpoint.
        """
        teacher = teacher.eval().requires_grad_(False)
        self.__dict__["teacher"] = teacher  # not a submodule: neither trained, moved by Lightning nor saved
        self.distil_weight = weight
        teachers = dict(networks(teacher))
        for name, network in networks(self.predictor):
            network.register_forward_hook(self._match_hook(teachers[name]), with_kwargs=True)

    def _match_hook(self, teacher_network: nn.Module) -> Callable[..., None]:
        """A forward hook adding the distance between a network's and ``teacher_network``'s outputs."""

        def match(network: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
            if not (self.training and torch.is_grad_enabled()):  # only training steps learn from it
                return
            with torch.no_grad():
                wanted = teacher_network(*args, **kwargs)
            for mine, theirs in zip(_tensors(output), _tensors(wanted), strict=True):
                self.distil_terms.append(nn.functional.mse_loss(mine, theirs))

        return match

    def on_fit_start(self) -> None:
        if "teacher" in self.__dict__:
            self.__dict__["teacher"].to(self.device)

    def configure_losses(self) -> None:
        """Build the loss function(s)."""
        raise NotImplementedError

    def configure_metrics(self) -> None:
        """Build ``self.metrics``: a ModuleDict with one collection per stage, ``<stage>_metrics``."""
        raise NotImplementedError

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        """Compute the loss of one batch and update the stage's metrics."""
        raise NotImplementedError

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.predictor(*inputs)

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int = 0) -> dict[str, torch.Tensor]:
        return self.predictor.predict(batch)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.distil_terms.clear()
        loss = self.step(batch, "train")
        if self.distil_terms:
            distance = torch.stack(self.distil_terms).sum()
            self.distil_terms.clear()
            self.log("train_distil", distance, on_step=False, on_epoch=True, batch_size=len(batch["image"]))
            loss = loss + self.distil_weight * distance
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.step(batch, "test")

    def log_stage(self, stage: str, loss: torch.Tensor, batch_size: int) -> None:
        """Log the loss and the stage's metric collection once per epoch."""
        self.log(
            f"{stage}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            batch_size=batch_size,
            prog_bar=True,
            sync_dist=True,
        )
        self.log_dict(self.metrics[f"{stage}_metrics"], on_step=False, on_epoch=True, batch_size=batch_size)

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        if hp.optimizer == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(
                self.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay
            )
        else:
            cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
            opt = cls(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(hp.max_epochs, 1))
            return {"optimizer": opt, "lr_scheduler": sched}
        if hp.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss"}}
        return {"optimizer": opt}


def networks(predictor: Predictor) -> Iterator[tuple[str, nn.Module]]:
    """The trainable networks of a predictor: its direct children that have parameters."""
    for name, child in predictor.named_children():
        if any(True for _ in child.parameters()):
            yield name, child


def _tensors(output: Any) -> list[torch.Tensor]:
    """The floating-point tensors of a network's output (a tensor, or a tuple of them)."""
    items = output if isinstance(output, tuple | list) else (output,)
    return [item for item in items if isinstance(item, torch.Tensor) and item.is_floating_point()]
