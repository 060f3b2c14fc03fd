"""Base LightningModule: trains a predictor (:mod:`sciimg.predictors`); losses, metrics, optimiser, LR schedule."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

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
        return self.step(batch, "train")

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
