#!/usr/bin/env bash
# A real-SLURM check of the shipped profile (workflow/profiles/slurm), repeatable on a Debian or
# Ubuntu machine where we are root:
#   1. installs slurm-wlm + munge (apt-get) if missing, and snakemake-executor-plugin-slurm into
#      the project's .venv if missing;
#   2. starts a private one-node SLURM (munged, slurmctld, slurmd; no job accounting:
#      AccountingStorageType=accounting_storage/none) with its own config, state and sockets under
#      a work folder, touching no system-wide SLURM/munge setup;
#   3. clones the repository (committed state), writes a tiny configuration (packaged MiniLM, 2
#      models + 1 non-standard, 80 sequences, two proxy tasks, checkpoints every 5 steps, and the
#      one CPU-cluster setting `resources.gpu: none`), runs it locally, then through the profile
#      exactly as shipped;
#   4. while the SLURM run goes, scancels one fine-tuning job once it has written a checkpoint; the
#      retry must log "resumed from checkpoint";
#   5. compares tables and the per-model measures byte for byte with the local run, checks that a
#      second `snakemake -n` says "Nothing to be done", and stops every daemon it started by PID.
# Exit status: 0 pass, 1 fail, 77 skipped (not root / no apt-get / not Debian-like).
# Usage: tools/slurm_check.sh [WORKDIR]      (env: KEEP=1 keeps the work folder)
set -uo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$REPO/.venv/bin/python}"
WORK="${1:-$(mktemp -d /tmp/latentgeom-slurm.XXXXXX)}"
mkdir -p "$WORK" && chmod 700 "$WORK"
LOG="$WORK/check.log"
PIDS=()
T0=$(date +%s)

say() { printf '[slurm-check %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" | tee -a "$LOG"; }
fail() { say "FAIL: $*"; exit 1; }

stop_daemons() {
    # Stop exactly the daemons this script started, newest first, by PID.
    local i pid
    for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
        pid="${PIDS[$i]}"
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
            say "stopped daemon pid $pid"
        fi
    done
    PIDS=()
}
cleanup() {
    local rc=$?
    [[ -n "${WATCH_PID:-}" ]] && kill "$WATCH_PID" 2>/dev/null
    stop_daemons
    if [[ "${KEEP:-0}" != 1 && $rc -eq 0 ]]; then rm -rf "$WORK/local" "$WORK/slurm" "$WORK/repo"; fi
    say "work folder: $WORK (log: $LOG)"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. prerequisites ------------------------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then say "SKIP: needs root (starts slurmctld/slurmd/munged)"; exit 77; fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || { say "SKIP: no apt-get (Debian/Ubuntu only)"; exit 77; }
    say "installing slurm-wlm munge (apt-get)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >>"$LOG" 2>&1; then
        apt-get update -q >>"$LOG" 2>&1 && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >>"$LOG" 2>&1 || \
        { say "SKIP: apt-get install slurm-wlm munge failed (no network?)"; exit 77; }
    fi
fi
[[ -x "$PY" ]] || fail "no Python at $PY (make setup first)"
if ! "$PY" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
    say "installing snakemake-executor-plugin-slurm into $(dirname "$PY")"
    "$PY" -m pip install -q "snakemake-executor-plugin-slurm>=2" >>"$LOG" 2>&1 || fail "pip install"
fi
say "$(slurmctld -V), plugin $("$PY" -c 'import importlib.metadata as m; print(m.version("snakemake-executor-plugin-slurm"))'), snakemake $("$PY" -m snakemake --version)"

# --- 2. a private one-node SLURM -------------------------------------------------------------
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(awk '/MemTotal/ {print int($2/1024) - 1024}' /proc/meminfo)
S="$WORK/slurm-state"
mkdir -p "$S"/{ctld,spool,munge,log}
chmod 700 "$S/munge"
dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$S/munge/munge.key"
MUNGE_SOCK="$S/munge/munge.socket"
munged --foreground --force --key-file="$S/munge/munge.key" --socket="$MUNGE_SOCK" \
    --pid-file="$S/munge/munged.pid" --log-file="$S/log/munged.log" \
    --seed-file="$S/munge/munged.seed" >>"$S/log/munged.out" 2>&1 &
PIDS+=($!); say "munged pid $!"
for _ in $(seq 50); do [[ -S "$MUNGE_SOCK" ]] && break; sleep 0.2; done
[[ -S "$MUNGE_SOCK" ]] || fail "munged did not start (see $S/log/munged.log)"

export SLURM_CONF="$S/slurm.conf"
cat > "$SLURM_CONF" <<EOF
ClusterName=lgcheck
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$S/ctld
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=300
# No job accounting: sacct answers "Slurm accounting storage is disabled".
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -i -f "$SLURM_CONF" >>"$S/log/slurmctld.out" 2>&1 &
PIDS+=($!); say "slurmctld pid $!"
sleep 2
slurmd -D -f "$SLURM_CONF" >>"$S/log/slurmd.out" 2>&1 &
PIDS+=($!); say "slurmd pid $!"
for _ in $(seq 60); do
    sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break; sleep 1
done
sinfo -h -o "%P %D %T %c %m" | tee -a "$LOG" | grep -qE 'idle|mixed' || fail "node not idle"
sacct -n >/dev/null 2>"$WORK/sacct.err"; say "sacct says: $(head -1 "$WORK/sacct.err")"

# --- 3. clean clone, tiny config, local run ---------------------------------------------------
rm -rf "$WORK/repo" "$WORK/local" "$WORK/slurm"
git clone -q "$REPO" "$WORK/repo" || fail "git clone"
say "clone at $(git -C "$WORK/repo" rev-parse --short HEAD)"
export PYTHONPATH="$WORK/repo/src${PYTHONPATH:+:$PYTHONPATH}"   # the clone's package, not $REPO's
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$PY" - "$WORK" <<'EOF' || fail "writing the tiny config"
import sys, yaml
from pathlib import Path
work = Path(sys.argv[1])
cfg = yaml.safe_load((work / "repo/config/config.yaml").read_text())
cfg["resources"] = {"gpu": "none"}            # the one documented CPU-cluster setting
cfg["models"]["bases"]["minilm"].update(alphas=[0.0, 0.5], seeds=[0])
cfg["nonstandard"] = {k: v for k, v in cfg["nonstandard"].items() if k == "minilm-shuffle"}
cfg["sample"].update(n=80, representativeness_samples=2)
cfg["quantize"]["train_size"] = None
for q in cfg["quantize"]["quantizers"].values():
    q.update(M=2, nbits=4)
cfg["glue"].update(tasks=["polarity", "shuffled"], epochs=2, checkpoint_every=5)
cfg["glue"]["minibench"]["sizes"] = {"polarity": [24, 16], "shuffled": [320, 32]}
(work / "tiny.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
EOF
SMK=("$PY" -m snakemake -s "$WORK/repo/Snakefile" --configfile "$WORK/tiny.yaml")
mkdir -p "$WORK/local" "$WORK/slurm"
say "local run (--cores $CPUS)"
t=$(date +%s)
nice "${SMK[@]}" -d "$WORK/local" --cores "$CPUS" >"$WORK/local.log" 2>&1 || fail "local run (see $WORK/local.log)"
say "local run done in $(( $(date +%s) - t )) s: $(grep -Eo '[0-9]+ of [0-9]+ steps \(100%\) done' "$WORK/local.log" | tail -1)"

# --- 4. SLURM run through the shipped profile, one fine-tuning job cancelled mid-way ----------
watch_and_cancel() {
    # Wait for a running glue_finetune job on task shuffled whose checkpoint exists, cancel it.
    local line id comment
    for _ in $(seq 1200); do
        while read -r id comment; do
            [[ "$comment" == *rule_glue_finetune*task=shuffled* ]] || continue
            if compgen -G "$WORK/slurm/results/.scratch/glue/*/shuffled*/checkpoint.pt" >/dev/null \
               || [[ -n "$(find "$WORK/slurm/results/.scratch" -name checkpoint.pt 2>/dev/null | head -1)" ]]; then
                echo "$id $comment" > "$WORK/cancelled.txt"
                scancel "$id"
                say "scancel $id ($comment) after its first checkpoint"
                return 0
            fi
        done < <(squeue -h -t RUNNING -o "%i %k" 2>/dev/null)
        sleep 0.5
    done
    say "watcher: no running fine-tuning job with a checkpoint seen"
}
watch_and_cancel & WATCH_PID=$!
say "SLURM run: --profile workflow/profiles/slurm (as shipped)"
t=$(date +%s)
# --verbose only so that the log shows each sbatch call (the profile itself is as shipped).
( cd "$WORK/repo" && nice "${SMK[@]}" -d "$WORK/slurm" --profile workflow/profiles/slurm --verbose ) \
    >"$WORK/slurm.log" 2>&1
rc=$?
wait "$WATCH_PID" 2>/dev/null; WATCH_PID=""
say "SLURM run exit $rc in $(( $(date +%s) - t )) s: $(grep -Eo '[0-9]+ of [0-9]+ steps \(100%\) done' "$WORK/slurm.log" | tail -1)"
[[ $rc -eq 0 ]] || fail "SLURM run (see $WORK/slurm.log)"
grep -m1 -o "SLURM run ID: [^ ]*" "$WORK/slurm.log" | tee -a "$LOG" >/dev/null
grep -Eo "sbatch call: .*" "$WORK/slurm.log" > "$WORK/sbatch_calls.txt"
say "$(wc -l < "$WORK/sbatch_calls.txt") sbatch calls; a fine-tuning one:"
grep -m1 "rule_glue_finetune" "$WORK/sbatch_calls.txt" | sed -E 's/ -- .*//' | cut -c1-300 | tee -a "$LOG"
grep -qE -- "--gpus|--gres" "$WORK/sbatch_calls.txt" && fail "a job asked for a GPU"
say "no sbatch call asked for a GPU"

# --- 5. checks --------------------------------------------------------------------------------
[[ -s "$WORK/cancelled.txt" ]] || fail "no fine-tuning job was cancelled"
read -r cid ccomment < "$WORK/cancelled.txt"
wc=${ccomment#*wildcards_}; model=$(sed -E 's/.*model=([^,]+).*/\1/' <<<"$wc")
flog="$WORK/slurm/results/logs/glue/finetune/${model}_shuffled.log"
if grep -q "resumed from checkpoint" "$flog"; then
    say "retry of $model/shuffled: $(grep -m1 'resumed from checkpoint' "$flog")"
else
    fail "the retry of $model/shuffled did not resume (see $flog)"
fi
grep -q "attempt 2\|attempt: 2\|Trying to restart job" "$WORK/slurm.log" && say "snakemake restarted the cancelled job (retries: 1)"

n_same=0
while IFS= read -r f; do
    rel=${f#"$WORK/local/"}
    if cmp -s "$f" "$WORK/slurm/$rel"; then n_same=$((n_same + 1)); else fail "differs: $rel"; fi
done < <(find "$WORK/local/results/tables" "$WORK/local/results/analysis" \
              "$WORK/local/results/sample" -name '*.csv' | sort)
for f in "$WORK"/local/results/glue/*/scores.json; do
    rel=${f#"$WORK/local/"}; cmp -s "$f" "$WORK/slurm/$rel" && n_same=$((n_same + 1)) || fail "differs: $rel"
done
say "$n_same tables/scores byte-identical to the local run (incl. tables/measures.csv, tables/glue.csv)"

( cd "$WORK/repo" && "${SMK[@]}" -d "$WORK/slurm" --profile workflow/profiles/slurm -n ) \
    >"$WORK/rerun.log" 2>&1
grep -q "Nothing to be done" "$WORK/rerun.log" || fail "a second run would do work (see $WORK/rerun.log)"
say "second run: Nothing to be done"
stop_daemons
say "PASS in $(( $(date +%s) - T0 )) s"
