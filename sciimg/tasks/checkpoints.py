"""``last.ckpt``: written regularly and when a signal stops training; resumed only for the same spec."""

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

log = logging.getLogger(__name__)

LAST = "last.ckpt"
SPEC_HASH_KEY = "sciimg_spec_hash"


class TrainingStoppedError(Exception):
    """Training was stopped by a signal after saving ``last.ckpt``; running the fit again resumes."""


class ResumeCheckpoint(L.Callback):
    """Keep ``last.ckpt`` current, and stop cleanly on SIGTERM or SLURM's SIGUSR1.

    ``last.ckpt`` is written every ``every_n_steps`` optimiser steps and at the end of every
    epoch (after validation), each time through a temporary file and a rename, so a kill
    never leaves half a checkpoint. Every checkpoint records the hash of the experiment spec.

    SIGTERM (preemption, ``scancel``) and, in a SLURM job, SIGUSR1 (``--signal=SIGUSR1@90``:
    the time limit is near) only set a flag. At the next step boundary all processes agree
    (one all-reduce), save ``last.ckpt`` and raise :class:`TrainingStoppedError`; after SIGUSR1,
    rank 0 first requeues the job with ``scontrol requeue`` and the requeued fit resumes.
    Lightning's own handlers were not used: they save inside the signal handler, mid-step,
    and call collectives from it, which hung two-process training when both got the signal.

    Args:
        dirpath: checkpoint folder.
        spec_hash: hash of the experiment spec.
        every_n_steps: steps between writes (0: at epoch ends and on signals only).
    """

    def __init__(self, dirpath: str | os.PathLike, spec_hash: str, every_n_steps: int = 0) -> None:
        self.dirpath, self.spec_hash, self.every_n_steps = Path(dirpath), spec_hash, every_n_steps
        self.received: signal.Signals | None = None

    def save(self, trainer: L.Trainer) -> None:
        """Write ``last.ckpt`` atomically (every rank takes part; rank 0 writes)."""
        partial = self.dirpath / f".{LAST}.partial"
        trainer.save_checkpoint(partial)
        if trainer.is_global_zero:
            os.replace(partial, self.dirpath / LAST)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint[SPEC_HASH_KEY] = self.spec_hash

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after Lightning installed its handlers, which it restores when fit ends
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._note_signal)
            if slurm_job_id() is not None:
                signal.signal(signal.SIGUSR1, self._note_signal)

    def _note_signal(self, signum: int, frame: Any) -> None:
        self.received = signal.Signals(signum)

    def _signalled(self, trainer: L.Trainer) -> bool:
        """Whether any rank got a signal (a collective: every rank calls it at the same point)."""
        return trainer.strategy.reduce_boolean_decision(self.received is not None, all=False)

    def _stop(self, trainer: L.Trainer) -> None:
        """After ``last.ckpt`` is saved: requeue after SIGUSR1 (rank 0), then stop every rank."""
        requeue = trainer.strategy.reduce_boolean_decision(self.received == signal.SIGUSR1, all=False)
        if requeue and trainer.is_global_zero:
            requeue_slurm_job()
        raise TrainingStoppedError(f"stopped by a signal at step {trainer.global_step}; {self.dirpath / LAST} saved")

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return  # on_train_epoch_end follows
        if self._signalled(trainer):
            self.save(trainer)
            self._stop(trainer)
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            self.save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        signalled = self._signalled(trainer)
        self.save(trainer)
        if signalled:
            self._stop(trainer)


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
