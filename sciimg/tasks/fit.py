"""Train one experiment with a Lightning Trainer; fixed checkpoint names; resume from last.ckpt."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from sciimg.data.dataset import StoreDataModule
from sciimg.errors import ConfigError
from sciimg.provenance import config_hash
from sciimg.tasks import BaseTask, task_class

SPEC_HASH_FILE = "spec_hash.txt"


def task_options(spec: Mapping[str, Any], in_channels: int) -> dict[str, Any]:
    """The task's ``__init__`` arguments from the experiment's ``model`` section.

    Raises:
        ConfigError: an option the task does not accept (named, with the accepted ones).
    """
    cls = task_class(spec["task"])
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    options = dict(spec["model"])
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"model options of task {spec['task']!r} must be among {accepted}, got {unknown}")
    options.setdefault("max_epochs", spec["trainer"]["max_epochs"])
    options["in_channels"] = in_channels
    return options


def build_trainer(trainer: Mapping[str, Any], checkpoint_dir: Path, log_dir: Path) -> L.Trainer:
    """Trainer with ``best.ckpt`` (lowest val_loss), ``last.ckpt`` and early stopping."""
    checkpoint = ModelCheckpoint(
        dirpath=checkpoint_dir, filename="best", monitor="val_loss", mode="min", save_last=True
    )
    callbacks: list[L.Callback] = [checkpoint]
    if trainer["patience"] > 0:
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=trainer["patience"]))
    return L.Trainer(
        max_epochs=trainer["max_epochs"],
        accelerator=trainer["accelerator"],
        devices=trainer["devices"],
        precision=trainer["precision"],
        deterministic=True,
        callbacks=callbacks,
        logger=CSVLogger(log_dir, name="", version=""),
        enable_progress_bar=False,
        enable_model_summary=True,
        log_every_n_steps=10,
        num_sanity_val_steps=0,
    )


def fit(
    spec: Mapping[str, Any], store_dir: str | os.PathLike, checkpoint_dir: str | os.PathLike
) -> tuple[BaseTask, Path]:
    """Train the experiment's task on ``store_dir/{train,val}.h5``.

    Resumes from ``checkpoint_dir/last.ckpt`` when it was written for the same experiment
    spec; checkpoints of a different spec are removed first, so a changed config trains anew.

    Returns:
        the task loaded from the best checkpoint, and that checkpoint's path.
    """
    L.seed_everything(spec["seed"], workers=True)
    store_dir, checkpoint_dir = Path(store_dir), Path(checkpoint_dir)
    trainer_opts = spec["trainer"]
    data = StoreDataModule(
        str(store_dir / "train.h5"),
        str(store_dir / "val.h5"),
        batch_size=trainer_opts["batch_size"],
        num_workers=trainer_opts["num_workers"],
        augment=spec["data"].get("augment"),
        aux_targets=spec["model"].get("aux_targets") or (),
    )
    data.setup("fit")
    in_channels = data.datasets["train"].store.attrs.get("channels", ["x"])
    cls = task_class(spec["task"])
    task = cls(**task_options(spec, len(in_channels)))
    trainer = build_trainer(trainer_opts, checkpoint_dir, checkpoint_dir.parent / "logs")
    last = checkpoint_dir / "last.ckpt"
    discard_stale_checkpoints(checkpoint_dir, config_hash(spec))
    trainer.fit(task, datamodule=data, ckpt_path=str(last) if last.exists() else None)
    best = Path(trainer.checkpoint_callback.best_model_path or last)
    return cls.load_from_checkpoint(best, map_location="cpu"), best


def discard_stale_checkpoints(checkpoint_dir: Path, spec_hash: str) -> None:
    """Delete checkpoints written for another spec; record ``spec_hash`` for the new ones."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    marker = checkpoint_dir / SPEC_HASH_FILE
    if not marker.exists() or marker.read_text().strip() != spec_hash:
        for checkpoint in checkpoint_dir.glob("*.ckpt"):
            checkpoint.unlink()
        marker.write_text(spec_hash + "\n")
