def processes_per_node(wildcards):
    devices = experiment(wildcards)["trainer"]["devices"]
    return devices if isinstance(devices, int) else 1


def data_parallel(wildcards):
    return processes_per_node(wildcards) > 1 or experiment(wildcards)["trainer"]["num_nodes"] > 1


def fit_gpus(wildcards):
    """GPUs per node: one per process unless the experiment trains on the CPU (None: no GPU resource)."""
    return None if experiment(wildcards)["trainer"]["accelerator"] == "cpu" else processes_per_node(wildcards)


def fit_launcher(wildcards, resources):
    """``srun`` with one task per device inside a SLURM job; nothing elsewhere (Lightning starts them).

    The slurm plugin clears the job's SLURM_* task settings before running a rule, so the
    step's layout is spelled out here.
    """
    if not data_parallel(wildcards):
        return ""
    trainer = experiment(wildcards)["trainer"]
    step = f"--nodes={trainer['num_nodes']} --ntasks-per-node={processes_per_node(wildcards)}"
    if fit_gpus(wildcards):
        gpus = processes_per_node(wildcards)  # every task sees all GPUs of its node; Lightning picks by rank
        step += f" --gpus-per-node={gpus} --cpus-per-task={resources.get('cpus_per_gpu', 1)}"
    else:
        step += f" --cpus-per-task={resources.get('cpus_per_task', 1)}"
    return "${SLURM_JOB_ID:+srun " + step + "}"


# The process layout of a training job follows the experiment's trainer section, so the
# SLURM request cannot disagree with it; the slurm profile adds CPUs, memory, time and the
# preemption signal. Several processes under SLURM run as one srun task each (the slurm
# plugin's "mpi" launch); elsewhere Lightning starts them itself.
rule fit:
    input:
        train="data/interim/{experiment}/train.h5",
        val="data/interim/{experiment}/val.h5",
    output:
        model=directory("results/{experiment}/model"),
    params:
        spec=spec,
        store_dir=lambda wildcards, input: os.path.dirname(input.train),
        checkpoint_dir="results/{experiment}/checkpoints",
        launcher=fit_launcher,
    resources:
        gpu=fit_gpus,
        nodes=lambda wildcards: experiment(wildcards)["trainer"]["num_nodes"],
        mpi=lambda wildcards: "srun" if data_parallel(wildcards) else None,
        tasks_per_node=lambda wildcards: processes_per_node(wildcards) if data_parallel(wildcards) else None,
    log:
        "results/{experiment}/logs/fit.log",
    threads: lambda wildcards: workflow.cores  # the whole workstation; the slurm profile sets its own
    shell:
        "{params.launcher} sciimg fit --spec {params.spec:q} --experiment {wildcards.experiment} "
        "--store-dir {params.store_dir:q} --checkpoint-dir {params.checkpoint_dir:q} "
        "--output {output.model:q} > {log:q} 2>&1"


rule compress:
    """Opt-in (an experiment's compress section): a narrower student distilled from the model, published
    in compressed/model only if it keeps the headline metric on validation; compression.json says why."""
    input:
        model="results/{experiment}/model",
        train="data/interim/{experiment}/train.h5",
        val="data/interim/{experiment}/val.h5",
    output:
        directory("results/{experiment}/compressed"),
    params:
        spec=compress_spec,
        store_dir=lambda wildcards, input: os.path.dirname(input.train),
        checkpoint_dir="results/{experiment}/compress_checkpoints",
    resources:
        gpu=lambda wildcards: None if experiment(wildcards)["trainer"]["accelerator"] == "cpu" else 1,
    log:
        "results/{experiment}/logs/compress.log",
    threads: lambda wildcards: workflow.cores
    shell:
        "sciimg compress --spec {params.spec:q} --experiment {wildcards.experiment} --model {input.model:q} "
        "--store-dir {params.store_dir:q} --checkpoint-dir {params.checkpoint_dir:q} "
        "--output {output:q} > {log:q} 2>&1"


rule export:
    input:
        model="results/{experiment}/model",
    output:
        "results/{experiment}/model.onnx",
    log:
        "results/{experiment}/logs/export.log",
    shell:
        "sciimg export --model {input.model:q} --output {output:q} > {log:q} 2>&1"
