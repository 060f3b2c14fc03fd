"""Train one experiment with a Lightning Trainer: one or many processes, fixed checkpoint names, resume."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.environments import ClusterEnvironment, LightningEnvironment, SLURMEnvironment
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from sciimg.data.dataset import StoreDataModule
from sciimg.errors import ConfigError
from sciimg.io.store import SampleStore
from sciimg.kinds import kind_of, require_kind
from sciimg.predictors import Predictor, init_arguments
from sciimg.provenance import config_hash
from sciimg.tasks import BaseTask
from sciimg.tasks.checkpoints import LAST, ResumeCheckpoint, discard_stale_checkpoints, resume_path

log = logging.getLogger(__name__)


def task_options(
    spec: Mapping[str, Any], cls: type[BaseTask], in_channels: int, spatial_dims: int = 2
) -> dict[str, Any]:
    """The ``__init__`` arguments of task class ``cls`` from the experiment's ``model`` section.

    Raises:
        ConfigError: an option the task does not accept (named, with the accepted ones).
    """
    accepted = init_arguments(cls, BaseTask)
    options = dict(spec["model"])
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"model options of task {spec['task']!r} must be among {accepted}, got {unknown}")
    options.setdefault("max_epochs", spec["trainer"]["max_epochs"])
    options["in_channels"] = in_channels
    options["spatial_dims"] = spatial_dims
    return options


# Trainer options that change how a run is executed, not what it learns: a run may resume
# from a checkpoint written with other values (e.g. requeued on another number of GPUs).
EXECUTION_KEYS = (
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "num_workers",
    "pin_memory",
    "channels_last",
    "compile",
    "checkpoint_every_n_steps",
)


def training_hash(spec: Mapping[str, Any], task: torch.nn.Module | None = None) -> str:
    """Hash of everything in the spec that changes what training learns.

    With ``task``, the names and shapes of its parameters count too: a checkpoint written
    by another version of a network (same config, other layers) is then never resumed.
    """
    trainer = {k: v for k, v in spec["trainer"].items() if k not in EXECUTION_KEYS}
    shapes = {k: list(v.shape) for k, v in task.state_dict().items()} if task is not None else None
    learned = {k: v for k, v in spec.items() if k != "compress"}  # compress trains a student after this model
    return config_hash({**learned, "trainer": trainer, **({"parameter_shapes": shapes} if shapes else {})})


def uses_cuda(trainer: Mapping[str, Any]) -> bool:
    """Whether the run trains on CUDA GPUs."""
    return trainer["accelerator"] in ("gpu", "cuda") or (trainer["accelerator"] == "auto" and torch.cuda.is_available())


def resolve_auto(trainer: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the ``auto`` defaults: bf16 mixed precision, pinned memory and channels-last on CUDA."""
    options = dict(trainer)
    cuda = uses_cuda(options)
    if options["precision"] == "auto":
        options["precision"] = "bf16-mixed" if cuda and torch.cuda.is_bf16_supported() else "32-true"
    for key in ("pin_memory", "channels_last"):
        if options[key] == "auto":
            options[key] = cuda
    return options


def cluster_environment(trainer: Mapping[str, Any]) -> ClusterEnvironment | None:
    """SLURM when SLURM launched one task per device; else Lightning launches the processes itself.

    Raises:
        ConfigError: SLURM started several tasks but not one per device.
    """
    if not SLURMEnvironment.detect():
        return None
    tasks = int(os.environ.get("SLURM_NTASKS", "1"))
    devices = trainer["devices"] if isinstance(trainer["devices"], int) else None
    if tasks == 1 and devices not in (1, None) and trainer["num_nodes"] == 1:
        return LightningEnvironment()  # one SLURM task: Lightning starts one process per device
    if devices is not None and tasks != devices * trainer["num_nodes"]:
        raise ConfigError(
            f"SLURM started {tasks} tasks; trainer.devices x trainer.num_nodes must match them, got "
            f"{devices} x {trainer['num_nodes']} (in the slurm profile, ask for tasks_per_node = devices)"
        )
    return SLURMEnvironment(auto_requeue=False)  # ResumeCheckpoint saves and requeues at a step boundary


def build_trainer(trainer: Mapping[str, Any], checkpoint_dir: Path, log_dir: Path, spec_hash: str) -> L.Trainer:
    """Trainer with ``best.ckpt`` (lowest val_loss), ``last.ckpt`` (:class:`ResumeCheckpoint`), early stopping.

    ``trainer`` is the experiment's validated, :func:`resolve_auto`-ed trainer section.
    """
    best = ModelCheckpoint(dirpath=checkpoint_dir, filename="best", monitor="val_loss", mode="min")
    callbacks: list[L.Callback] = [
        best,
        ResumeCheckpoint(checkpoint_dir, spec_hash, trainer["checkpoint_every_n_steps"]),
    ]
    if trainer["patience"] > 0:
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=trainer["patience"]))
    environment = cluster_environment(trainer)
    return L.Trainer(
        max_epochs=trainer["max_epochs"],
        accelerator=trainer["accelerator"],
        devices=trainer["devices"],
        num_nodes=trainer["num_nodes"],
        strategy=trainer["strategy"],
        precision=trainer["precision"],
        plugins=[environment] if environment is not None else None,
        deterministic=True,
        use_distributed_sampler=False,  # StoreDataModule shards the training batches itself
        callbacks=callbacks,
        default_root_dir=checkpoint_dir,
        logger=CSVLogger(log_dir, name="", version=""),
        enable_progress_bar=False,
        enable_model_summary=True,
        log_every_n_steps=10,
        num_sanity_val_steps=0,
    )


def _check_classes(spec: Mapping[str, Any], train: Path) -> None:
    """A voxel classifier (segmentation, volume denoising) must have one output per class of its data."""
    classes = SampleStore(train).attrs["classes"]
    if spec["model"].get("n_classes") != len(classes):
        raise ConfigError(
            f"model.n_classes must equal the {len(classes)} classes of {train} {classes}, "
            f"got {spec['model'].get('n_classes')}"
        )


def fit(
    spec: Mapping[str, Any],
    store_dir: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    teacher: Predictor | None = None,
    distil_weight: float = 1.0,
) -> tuple[BaseTask, Path] | None:
    """Train the experiment's task on ``store_dir/{train,val}.h5`` (distilled from ``teacher``, when given:
    :meth:`~sciimg.tasks.base.BaseTask.distil_from`).

    Resumes from ``last.ckpt`` when it was written for the same spec and network (:func:`training_hash`);
    checkpoints of another spec are removed first, so a changed config trains anew. Under
    data parallelism every process calls this.

    Returns:
        on the process of global rank 0, the task loaded from the best checkpoint and that
        checkpoint's path; None on the others.

    Raises:
        TrainingStoppedError: SIGTERM (or, in a SLURM job, SIGUSR1, after which the job is
            requeued) stopped the run; ``last.ckpt`` holds its state.
    """
    L.seed_everything(spec["seed"], workers=True)
    store_dir, checkpoint_dir = Path(store_dir), Path(checkpoint_dir)
    options = resolve_auto(spec["trainer"])
    kind = kind_of(spec)
    for split in ("train", "val"):
        path = store_dir / f"{split}.h5"
        require_kind(path, SampleStore(path).attrs, kind, "the experiment")
    data = StoreDataModule(
        str(store_dir / "train.h5"),
        str(store_dir / "val.h5"),
        batch_size=options["batch_size"],
        num_workers=options["num_workers"],
        seed=spec["seed"],
        pin_memory=options["pin_memory"],
        channels_last=options["channels_last"],
        dataset=kind.load("dataset"),
        dataset_options=kind.dataset_options(spec),
    )
    data.setup("fit")
    if kind.needs_classes:
        _check_classes(spec, store_dir / "train.h5")
    cls = kind.load("task_class")
    task = cls(**task_options(spec, cls, *kind.input_layout(spec)))
    if teacher is not None:
        task.distil_from(teacher, distil_weight)
    if options["channels_last"]:
        spatial_dims = task.hparams.spatial_dims
        task = task.to(memory_format=torch.channels_last if spatial_dims == 2 else torch.channels_last_3d)
    if options["compile"]:
        task.predictor.model.compile()  # in place: checkpoint keys stay those of the plain model
    spec_hash = training_hash(spec, task)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    discard_stale_checkpoints(checkpoint_dir, spec_hash)
    resume = resume_path(checkpoint_dir, spec_hash)
    trainer = build_trainer(options, checkpoint_dir, checkpoint_dir.parent / "logs", spec_hash)
    environment = getattr(trainer.strategy, "cluster_environment", None)
    log.info(
        "rank %d of %d processes (%s)",
        trainer.global_rank,
        trainer.world_size,
        type(environment).__name__ if environment is not None else "single process",
    )
    if resume is not None:
        log.info("resuming from %s", resume)
    trainer.fit(task, datamodule=data, ckpt_path=str(resume) if resume is not None else None)
    if not trainer.is_global_zero:
        return None
    best = Path(trainer.checkpoint_callback.best_model_path or checkpoint_dir / LAST)
    return cls.load_from_checkpoint(best, map_location="cpu"), best
