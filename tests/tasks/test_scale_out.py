"""Data-parallel training (2 CPU processes, gloo) and resuming after SIGTERM or SIGKILL, via the real CLI."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sciimg.data.dataset import StoreDataset
from sciimg.inference.load import load_model

SCIIMG = [sys.executable, "-m", "sciimg.cli"]


def spec_with(tiny_spec: dict, **trainer) -> str:
    """The tiny experiment with group norm (batch statistics would differ per process) and ``trainer``."""
    model = {**tiny_spec["model"], "backbone_options": {**tiny_spec["model"]["backbone_options"], "norm": "group"}}
    return json.dumps({**tiny_spec, "model": model, "trainer": {**tiny_spec["trainer"], **trainer}})


def fit_command(spec: str, stores: Path, run: Path) -> list[str]:
    paths = ["--store-dir", str(stores), "--checkpoint-dir", str(run / "checkpoints"), "--output", str(run / "model")]
    return [*SCIIMG, "fit", "--spec", spec, "--experiment", "tiny", *paths]


def fit_cli(spec: str, stores: Path, run: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(fit_command(spec, stores, run), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def global_step(path: Path) -> int:
    return torch.load(path, map_location="cpu", weights_only=False)["global_step"]


@pytest.fixture(scope="module")
def stores(tiny_stores) -> Path:
    return tiny_stores["train"].parent


def test_two_processes_train_like_one_at_the_same_global_batch(tmp_path, stores, tiny_spec):
    one = spec_with(tiny_spec, devices=1, batch_size=16, max_epochs=3)
    two = spec_with(tiny_spec, devices=2, strategy="ddp", accelerator="cpu", batch_size=16, max_epochs=3)
    fit_cli(one, stores, tmp_path / "one")
    fit_cli(two, stores, tmp_path / "two")
    a, b = weights(tmp_path / "one/checkpoints/last.ckpt"), weights(tmp_path / "two/checkpoints/last.ckpt")
    assert a.keys() == b.keys()
    for name in a:  # gloo sums gradients in another order: float32 rounding only
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-5, msg=name)
    assert global_step(tmp_path / "two/checkpoints/last.ckpt") == global_step(tmp_path / "one/checkpoints/last.ckpt")
    # the data-parallel checkpoint loads and predicts in a single process
    network = load_model(tmp_path / "two/model").network
    image = StoreDataset(stores / "val.h5")[0]["image"][None]
    with torch.no_grad():
        out = network.predict({"image": image})
    assert torch.isfinite(out["prediction"]).all()


def interrupt(spec: str, stores: Path, run: Path, signum: int, env: dict | None = None) -> subprocess.Popen:
    """Start a fit, send ``signum`` once it has written its first periodic last.ckpt, wait for the end."""
    command = fit_command(spec, stores, run)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signum)
    process.output = process.communicate(timeout=300)[0]
    return process


@pytest.fixture(scope="module")
def resumable_spec(tiny_spec) -> str:
    return spec_with(tiny_spec, batch_size=8, max_epochs=3, checkpoint_every_n_steps=2)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, stores, resumable_spec) -> Path:
    """last.ckpt of a run that was never stopped."""
    run = tmp_path_factory.mktemp("whole")
    fit_cli(resumable_spec, stores, run)
    return run / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_stopped_fit_resumes_and_ends_like_an_uninterrupted_one(
    tmp_path, stores, resumable_spec, uninterrupted, signum
):
    spec, total = resumable_spec, global_step(uninterrupted)

    run = tmp_path / "stopped"
    stopped = interrupt(spec, stores, run, signum)
    if signum == signal.SIGTERM:
        assert stopped.returncode == 143 and "run it again to resume" in stopped.output, stopped.output[-3000:]
    else:
        assert stopped.returncode == -signal.SIGKILL
    assert not (run / "model").exists()  # no model is published by a stopped run
    saved = global_step(run / "checkpoints/last.ckpt")
    assert 2 <= saved < total
    assert not list((run / "checkpoints").glob(".*partial"))

    resumed = fit_cli(spec, stores, run)
    assert f"resuming from {run / 'checkpoints' / 'last.ckpt'}" in resumed.stderr
    assert global_step(run / "checkpoints/last.ckpt") == total
    a, b = weights(uninterrupted), weights(run / "checkpoints/last.ckpt")
    for name in a:  # the same batches in the same order from the saved step on: equal on CPU
        torch.testing.assert_close(b[name], a[name], rtol=1e-6, atol=1e-7, msg=name)
    print(f"{signum.name}: stopped at step {saved} of {total}, resumed to {total}")


def test_slurm_time_limit_signal_saves_requeues_and_the_requeued_fit_resumes(
    tmp_path, stores, resumable_spec, uninterrupted
):
    """SIGUSR1 as SLURM sends it before the time limit, in a fake one-task SLURM job (scontrol recorded)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "scontrol_calls.txt"
    (bin_dir / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "scontrol").chmod(0o755)
    slurm = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "fit", "SLURM_NTASKS": "1", "SLURM_NTASKS_PER_NODE": "1"}
    slurm |= {"SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NNODES": "1"}
    env = {**os.environ, **slurm, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    run = tmp_path / "job"
    stopped = interrupt(resumable_spec, stores, run, signal.SIGUSR1, env)
    assert stopped.returncode == 143 and "requeued SLURM job 4242" in stopped.output, stopped.output[-3000:]
    assert calls.read_text().split() == ["requeue", "4242"]
    saved = global_step(run / "checkpoints/last.ckpt")
    assert 2 <= saved < global_step(uninterrupted)

    resumed = subprocess.run(fit_command(resumable_spec, stores, run), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {run / 'checkpoints' / 'last.ckpt'}" in resumed.stderr
    a, b = weights(uninterrupted), weights(run / "checkpoints/last.ckpt")
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-6, atol=1e-7, msg=name)
    print(f"SIGUSR1: stopped and requeued at step {saved}, resumed to {global_step(run / 'checkpoints/last.ckpt')}")
