"""``last.ckpt``: written regularly and on preemption (SLURM requeue); resumed only for the same spec."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)

LAST = "last.ckpt"
SPEC_HASH_KEY = "sciimg_spec_hash"


class ResumeCheckpoint(L.Callback):
    """Keep ``last.ckpt`` current so a stopped run loses at most ``every_n_steps`` steps.

    It is written every ``every_n_steps`` optimiser steps, at the end of every epoch (after
    validation) and when the run is stopped by SIGTERM, each time through a temporary file
    and a rename, so a kill never leaves half a checkpoint. Every checkpoint records the
    hash of the experiment spec.

    In a SLURM job, SIGUSR1 (``--signal=SIGUSR1@90``: the time limit is near) stops the run
    the same way at the next step boundary, and rank 0 then requeues the job with
    ``scontrol requeue``; the requeued fit resumes from ``last.ckpt``. Lightning's own
    requeue handler saves from inside the signal handler, in the middle of a step, and a
    run resumed from that checkpoint did not always end like an uninterrupted one.

    Args:
        dirpath: checkpoint folder.
        spec_hash: hash of the experiment spec.
        every_n_steps: steps between writes (0: at epoch ends and on signals only).
    """

    def __init__(self, dirpath: str | os.PathLike, spec_hash: str, every_n_steps: int = 0) -> None:
        self.dirpath, self.spec_hash, self.every_n_steps = Path(dirpath), spec_hash, every_n_steps
        self.requeue = False

    def save(self, trainer: L.Trainer) -> None:
        """Write ``last.ckpt`` atomically (every rank takes part; rank 0 writes)."""
        partial = self.dirpath / f".{LAST}.partial"
        trainer.save_checkpoint(partial)
        if trainer.is_global_zero:
            os.replace(partial, self.dirpath / LAST)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint[SPEC_HASH_KEY] = self.spec_hash

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if slurm_job_id() is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGUSR1, self._time_limit_near)  # Lightning restores it after fit

    def _time_limit_near(self, signum: int, frame: Any) -> None:
        self.requeue = True
        os.kill(os.getpid(), signal.SIGTERM)  # Lightning stops every rank at the next step boundary

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        last_of_epoch = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch  # the epoch end saves it
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0 and not last_of_epoch:
            self.save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException):
            return
        log.warning("stopped by a signal: saving %s at step %d", self.dirpath / LAST, trainer.global_step)
        self.save(trainer)
        if self.requeue and trainer.is_global_zero:
            requeue_slurm_job()


def slurm_job_id() -> str | None:
    """This SLURM job's id (``<array job>_<task>`` for array tasks), or None outside SLURM."""
    if "SLURM_ARRAY_JOB_ID" in os.environ:
        return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


def requeue_slurm_job() -> None:
    """Put this SLURM job back in the queue; it runs again from the start of its script."""
    job_id = slurm_job_id()
    result = subprocess.run(["scontrol", "requeue", str(job_id)], capture_output=True, text=True)
    if result.returncode:
        log.error("scontrol requeue %s failed: %s", job_id, result.stderr.strip())
    else:
        log.warning("requeued SLURM job %s; it resumes from %s", job_id, LAST)


def spec_hash_of(path: Path) -> str | None:
    """The spec hash a checkpoint records, or None if it records none or cannot be read."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as error:  # a truncated or foreign file is simply not resumable
        log.warning("%s: not a readable checkpoint (%s); ignored", path, error)
        return None
    return checkpoint.get(SPEC_HASH_KEY)


def resume_path(checkpoint_dir: Path, spec_hash: str) -> Path | None:
    """``last.ckpt`` if it was written for this spec, else None (start afresh)."""
    last = checkpoint_dir / LAST
    return last if last.exists() and spec_hash_of(last) == spec_hash else None


def discard_stale_checkpoints(checkpoint_dir: Path, spec_hash: str) -> None:
    """Delete checkpoints written for another spec (rank 0 only), so none of them is resumed."""
    if rank_zero_only.rank != 0:  # the global rank, known from the launcher's environment
        return
    for path in checkpoint_dir.glob("*.ckpt"):
        if spec_hash_of(path) != spec_hash:
            path.unlink(missing_ok=True)
