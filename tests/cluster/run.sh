#!/usr/bin/env bash
# `make test-cluster`: start a real single-node SLURM on this machine (munge, slurmctld, slurmd
# on loopback, in a temporary folder; /etc is left alone), run the tiny cluster config once
# locally and once with `--profile workflow/profiles/slurm` (its training job preempted once
# with SIGUSR1), and check that every non-local rule ran as a SLURM job, that the preempted
# fit requeued itself and resumed, and that both runs wrote the same results. The daemons it started
# are stopped by pid at the end, also on failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$ROOT/.venv/bin:$PATH"
CONFIG="$ROOT/tests/cluster/cluster.yaml"
WORK=$(mktemp -d /tmp/sciimg-cluster.XXXXXX)
PIDS=()
PASSED=0

# srun inside a job step reads the standard path (the slurm plugin drops SLURM_CONF from
# the step's environment), so the config goes there, unless a real one is already there.
SLURM_CONF=/etc/slurm/slurm.conf
MARK="# written by sciimg's make test-cluster"
if [ -e "$SLURM_CONF" ] && ! grep -qF "$MARK" "$SLURM_CONF"; then
    echo "$SLURM_CONF exists and is not ours: this test runs its own cluster; move it away first" >&2
    exit 1
fi

stop_daemons() {
    set +e  # clean up everything, whatever fails
    trap - EXIT INT TERM
    for job in ${PREEMPT:-} ${LOCAL:-}; do kill "$job" 2>/dev/null; done
    if [ "${#PIDS[@]}" -gt 1 ]; then  # jobs left by a failed run, then the daemons
        squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
        sleep 2
    fi
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    grep -qsF "$MARK" "$SLURM_CONF" && rm -f "$SLURM_CONF"
    if [ "$PASSED" = 1 ]; then rm -rf "$WORK"; else echo "cluster test files kept in $WORK" >&2; fi
    return 0
}
trap stop_daemons EXIT
trap 'exit 1' INT TERM

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "installing slurm-wlm and munge (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge with its own key and socket
mkdir -p "$WORK/munge" "$WORK/state" "$WORK/spool"
chmod 700 "$WORK/munge"
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/munge/munge.key"
munged --foreground --force --socket="$WORK/munge/munge.socket" --key-file="$WORK/munge/munge.key" \
    --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munge/munged.log" \
    --seed-file="$WORK/munge/munged.seed" &
PIDS+=($!)

# slurm.conf for this machine: more CPUs and memory than it has (config_overrides), so the
# profile's requests fit; no cgroups, no accounting (squeue reports job states)
NODE=$(hostname -s)
PORT=$((20000 + RANDOM % 20000))
export SLURM_CONF
mkdir -p "$(dirname "$SLURM_CONF")"
cat > "$SLURM_CONF" <<CONF
$MARK
ClusterName=sciimg-ci
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/munge/munge.socket,cred_expire=10  # a requeued job may start again after 10 s (default 120)
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=16 RealMemory=64000 State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
for _ in $(seq 50); do [ -S "$WORK/munge/munge.socket" ] && break; sleep 0.1; done
slurmctld -D -f "$SLURM_CONF" &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" &
PIDS+=($!)
for _ in $(seq 60); do
    state=$(sinfo -h -o %T 2>/dev/null || true)
    [ "$state" = "idle" ] && break
    sleep 1
done
[ "$state" = "idle" ] || { echo "SLURM node did not come up (state '$state')"; tail -20 "$WORK"/*.log; exit 1; }
echo "SLURM up: node $NODE idle, slurm.conf $SLURM_CONF"

# The local run goes alongside the SLURM run, whose time is mostly waiting for the queue.
mkdir -p "$WORK/local" "$WORK/slurm"
(
    start=$(date +%s)
    snakemake -s "$ROOT/Snakefile" --directory "$WORK/local" --configfile "$CONFIG" --cores 2 --quiet all \
        > "$WORK/local.log" 2>&1
    echo "local run: $(( $(date +%s) - start )) s"
) &
LOCAL=$!

# Preempt the training job once, as SLURM does before a time limit: SIGUSR1 to its tasks
# after its first periodic last.ckpt. The job must requeue itself and resume.
preempt_fit() {
    local checkpoint="$WORK/slurm/results/cluster_energy/checkpoints/last.ckpt" job=""
    for _ in $(seq 1200); do [ -e "$checkpoint" ] && break; sleep 0.25; done
    job=$(squeue -h -o "%i|%k" | awk -F'|' '$2 ~ /rule_fit/ {print $1}')
    [ -n "$job" ] || { echo "preempt: no running fit job found" >&2; return 1; }
    scancel --signal=USR1 "$job"
    echo "sent SIGUSR1 to fit job $job at $(date +%T)"
}
preempt_fit &
PREEMPT=$!

start=$(date +%s)
snakemake -s "$ROOT/Snakefile" --directory "$WORK/slurm" --configfile "$CONFIG" \
    --profile "$ROOT/workflow/profiles/slurm" --slurm-status-command squeue \
    --slurm-init-seconds-before-status-checks 2 --slurm-keep-successful-logs --quiet rules
echo "SLURM run: $(( $(date +%s) - start )) s"
wait "$PREEMPT" || { echo "the fit job was not preempted" >&2; exit 1; }
wait "$LOCAL" || { echo "the local run failed:" >&2; tail -30 "$WORK/local.log" >&2; exit 1; }

python "$ROOT/tests/cluster/check_runs.py" "$WORK/local" "$WORK/slurm" "$CONFIG"
PASSED=1
