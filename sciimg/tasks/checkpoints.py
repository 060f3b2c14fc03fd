"""``last.ckpt``: written regularly and on preemption; resumed only for the same experiment spec."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)

LAST = "last.ckpt"
SPEC_HASH_KEY = "sciimg_spec_hash"


class ResumeCheckpoint(L.Callback):
    """Keep ``last.ckpt`` current so a stopped run loses at most ``every_n_steps`` steps.

    It is written every ``every_n_steps`` optimiser steps, at the end of every epoch (after
    validation) and when the run is stopped by SIGTERM (a SLURM preemption or time limit),
    each time through a temporary file and a rename, so a kill never leaves half a
    checkpoint. Every checkpoint, Lightning's SLURM requeue one included, records the hash
    of the experiment spec.

    Args:
        dirpath: checkpoint folder.
        spec_hash: hash of the experiment spec.
        every_n_steps: steps between writes (0: at epoch ends and on SIGTERM only).
    """

    def __init__(self, dirpath: str | os.PathLike, spec_hash: str, every_n_steps: int = 0) -> None:
        self.dirpath, self.spec_hash, self.every_n_steps = Path(dirpath), spec_hash, every_n_steps

    def save(self, trainer: L.Trainer) -> None:
        """Write ``last.ckpt`` atomically (every rank takes part; rank 0 writes)."""
        partial = self.dirpath / f".{LAST}.partial"
        trainer.save_checkpoint(partial)
        if trainer.is_global_zero:
            os.replace(partial, self.dirpath / LAST)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint[SPEC_HASH_KEY] = self.spec_hash

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        last_of_epoch = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch  # the epoch end saves it
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0 and not last_of_epoch:
            self.save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException):
            log.warning("SIGTERM: saving %s at step %d", self.dirpath / LAST, trainer.global_step)
            self.save(trainer)


def spec_hash_of(path: Path) -> str | None:
    """The spec hash a checkpoint records, or None if it records none or cannot be read."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as error:  # a truncated or foreign file is simply not resumable
        log.warning("%s: not a readable checkpoint (%s); ignored", path, error)
        return None
    return checkpoint.get(SPEC_HASH_KEY)


def resumable_checkpoints(checkpoint_dir: Path) -> list[Path]:
    """``last.ckpt`` and Lightning's SLURM requeue checkpoints, newest first."""
    paths = [checkpoint_dir / LAST, *checkpoint_dir.glob("hpc_ckpt_*.ckpt")]
    return sorted((p for p in paths if p.exists()), key=lambda p: p.stat().st_mtime_ns, reverse=True)


def resume_path(checkpoint_dir: Path, spec_hash: str) -> Path | None:
    """The newest checkpoint written for this spec, or None to start afresh."""
    for path in resumable_checkpoints(checkpoint_dir):
        if spec_hash_of(path) == spec_hash:
            return path
    return None


def discard_stale_checkpoints(checkpoint_dir: Path, spec_hash: str) -> None:
    """Delete checkpoints written for another spec (rank 0 only), so none of them is resumed."""
    if int(os.environ.get("LOCAL_RANK", os.environ.get("SLURM_PROCID", 0))) != 0:
        return
    for path in checkpoint_dir.glob("*.ckpt"):
        if spec_hash_of(path) != spec_hash:
            path.unlink(missing_ok=True)
