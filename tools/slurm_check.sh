#!/usr/bin/env bash
# A real-SLURM check of the shipped profile (workflow/profiles/slurm), repeatable on a Debian or
# Ubuntu machine where we are root:
#   1. installs slurm-wlm + munge (and, for the accounting mode, slurmdbd + mariadb-server) with
#      apt-get if missing, and snakemake-executor-plugin-slurm into the project's .venv if missing;
#   2. clones the repository (committed state), writes a tiny configuration (packaged MiniLM, 2
#      models + 1 non-standard, 80 sequences, two proxy tasks, checkpoints every 4 steps, and the
#      one CPU-cluster setting `resources.gpu: none`) and runs it locally;
#   3. for each mode in $MODES ("none": no job accounting, AccountingStorageType=
#      accounting_storage/none; "accounting": slurmdbd on a private MariaDB) starts a private
#      one-node SLURM (munged, [mariadbd, slurmdbd,] slurmctld, slurmd) with its own config, state,
#      ports and sockets under the work folder, touching no system-wide SLURM/munge/MySQL setup
#      except /etc/slurm/slurm.conf, linked to its config while it runs (the plugin strips
#      SLURM_CONF from the jobs; an existing file is saved and put back at exit);
#      runs the DAG through the profile exactly as shipped (in the accounting mode with the
#      profile's commented alternative `--slurm-status-command sacct`); scancels one fine-tuning
#      job once it has written a checkpoint and requires the retry to log "resumed from
#      checkpoint"; compares the tables and GLUE scores byte for byte with the local run; checks
#      that `snakemake -n` says "Nothing to be done", also after changing resources.gpu and
#      resources.headroom; stops every daemon it started, by PID.
# Every step has a time limit and every mode ends with a verdict line ("VERDICT <mode>: PASS|FAIL
# (reason)"): the local run LOCAL_TIMEOUT s (default 3600), each SLURM run MODE_TIMEOUT s (default
# 3600), each dry run 600 s, daemon start-up 60-120 s; a run past its limit is stopped (its
# snakemake gets SIGINT, which scancels its jobs) and the mode FAILs with "timed out".
# The default MODES is "none". "accounting" is opt-in: with plugin 2.8.0 its sacct status never
# sees a job cancelled by hand as finished, so that mode is expected to end "timed out" (see
# benchmarks/README.md).
# DRYRUN=1 (no root, no SLURM, no clone: used by tests/test_slurm_check.py in the default test
# suite) only writes the configurations and dry-runs them, locally and through each profile.
# PROFILES (default workflow/profiles/slurm): the profiles to run, each in every mode, against one
# local run. A profile with group-components (workflow/profiles/slurm-grouped) runs the tiny
# config with resources.group_finetunes_minutes: 1, so that its fine-tunes are grouped too; the
# cancelled job is then a group job, whose retry must resume the fine-tuning.
# GPU=1: the node declares a stand-in GPU (GresTypes=gpu,shard; Gres=gpu:1,shard:4; gres.conf
# File= an empty file under the work folder: enough for the scheduler, nothing computes on it)
# and the tiny config asks for GPUs (resources.gpu: auto; minilm's gpu_share: 0.25). Then every
# embed and quantize job must be submitted with --gpus=1 and granted gres/gpu, every perturbed
# MiniLM fine-tuning with --gres=shard:1 and granted gres/shard (no --gpus), the non-standard
# model's fine-tunes with --gpus=1, and every other job with neither. The jobs see an empty
# CUDA_VISIBLE_DEVICES and compute on the CPU, so the results must still equal the local run's.
# Exit status: 0 pass, 1 fail, 77 skipped (not root / no apt-get / packages not installable).
# Usage: [MODES="none accounting"] [PROFILES="workflow/profiles/slurm workflow/profiles/slurm-grouped"]
#        [GPU=1] [KEEP=1] [REUSE=1] [DRYRUN=1]
#        [LOCAL_TIMEOUT=s] [MODE_TIMEOUT=s] tools/slurm_check.sh [WORKDIR]
set -uo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$REPO/.venv/bin/python}"
MODES="${MODES:-none}"
PROFILES="${PROFILES:-${PROFILE:-workflow/profiles/slurm}}"
DRYRUN="${DRYRUN:-0}"
GPU="${GPU:-0}"
LOCAL_TIMEOUT="${LOCAL_TIMEOUT:-3600}"
MODE_TIMEOUT="${MODE_TIMEOUT:-3600}"
WORK="${1:-$(mktemp -d /tmp/latentgeom-slurm.XXXXXX)}"
mkdir -p "$WORK" && chmod 700 "$WORK"
LOG="$WORK/check.log"
PIDS=()
T0=$(date +%s)

say() { printf '[slurm-check %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" | tee -a "$LOG"; }
CURRENT_MODE=setup
fail() { say "FAIL: $*"; say "VERDICT $CURRENT_MODE: FAIL ($*)"; exit 1; }
# run_limited SECONDS CMD...: the command, stopped after SECONDS (SIGINT, then SIGKILL 60 s
# later); exit status 124 when it timed out.
run_limited() { local s=$1; shift; timeout -s INT -k 60 "$s" "$@"; }

stop_daemons() {
    # Stop exactly the daemons this script started, newest first, by PID.
    local i pid
    for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
        pid="${PIDS[$i]}"
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
            say "stopped pid $pid"
        fi
    done
    PIDS=()
}
ETC_CONF=/etc/slurm/slurm.conf
restore_etc_conf() {
    # Undo link_etc_conf: remove our link, put back a saved original.
    if [[ -L "$ETC_CONF" && "$(readlink "$ETC_CONF")" == "$WORK"/* ]]; then rm -f "$ETC_CONF"; fi
    if [[ -e "$WORK/etc-slurm.conf.orig" && ! -e "$ETC_CONF" ]]; then
        mv "$WORK/etc-slurm.conf.orig" "$ETC_CONF"; say "restored the original $ETC_CONF"
    fi
}
link_etc_conf() {
    # The plugin strips SLURM_* (SLURM_CONF too) from each job's environment, so the srun inside
    # a job reads the default /etc/slurm/slurm.conf, as on a real cluster: point it at ours while
    # the check runs (an existing file is saved and restored at exit).
    if [[ -e "$ETC_CONF" && ! ( -L "$ETC_CONF" && "$(readlink "$ETC_CONF")" == "$WORK"/* ) ]]; then
        mv "$ETC_CONF" "$WORK/etc-slurm.conf.orig"; say "saved the original $ETC_CONF"
    fi
    mkdir -p /etc/slurm
    ln -sfn "$1" "$ETC_CONF"
}
cleanup() {
    local rc=$?
    [[ -n "${WATCH_PID:-}" ]] && kill "$WATCH_PID" 2>/dev/null
    stop_daemons
    restore_etc_conf
    if [[ "${KEEP:-0}" != 1 && $rc -eq 0 ]]; then
        rm -rf "$WORK/local" "$WORK"/slurm-* "$WORK/repo" "$WORK"/state-*
    fi
    say "exit $rc; work folder: $WORK (log: $LOG)"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install() {
    command -v apt-get >/dev/null || { say "SKIP: no apt-get (Debian/Ubuntu only)"; exit 77; }
    say "installing $* (apt-get)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$LOG" 2>&1; then
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; } \
            >>"$LOG" 2>&1 || { say "SKIP: apt-get install $* failed (no network?)"; exit 77; }
    fi
}

# --- 1. prerequisites ------------------------------------------------------------------------
[[ -x "$PY" ]] || fail "no Python at $PY (make setup first)"
if [[ "$DRYRUN" == 1 ]]; then
    "$PY" -c "import snakemake_executor_plugin_slurm" 2>/dev/null \
        || fail "DRYRUN=1 needs snakemake-executor-plugin-slurm in $(dirname "$PY") (the test extra)"
else
    if [[ $(id -u) -ne 0 ]]; then say "SKIP: needs root (starts slurmctld/slurmd/munged)"; exit 77; fi
    command -v slurmctld >/dev/null && command -v munged >/dev/null || apt_install slurm-wlm munge
    if [[ " $MODES " == *" accounting "* ]]; then
        command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null \
            || apt_install slurmdbd mariadb-server
    fi
    if ! "$PY" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
        say "installing snakemake-executor-plugin-slurm into $(dirname "$PY")"
        "$PY" -m pip install -q "snakemake-executor-plugin-slurm>=2,<3" >>"$LOG" 2>&1 || fail "pip install"
    fi
    say "$(slurmctld -V), plugin $("$PY" -c 'import importlib.metadata as m; print(m.version("snakemake-executor-plugin-slurm"))'), snakemake $("$PY" -m snakemake --version), modes: $MODES, profiles: $PROFILES, GPU=$GPU"
fi

HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(awk '/MemTotal/ {print int($2/1024) - 1024}' /proc/meminfo)

start_munge() {  # $1: state folder
    local S=$1
    mkdir -p "$S"/{munge,log}
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
}

start_accounting_db() {  # $1: state folder; MariaDB on 127.0.0.1:16306 + slurmdbd on :16819
    local S=$1
    mkdir -p "$S/db" "$S/run"
    mariadb-install-db --user=root --datadir="$S/db" --skip-test-db >>"$S/log/mariadb-install.log" 2>&1 \
        || fail "mariadb-install-db (see $S/log/mariadb-install.log)"
    mariadbd --user=root --datadir="$S/db" --socket="$S/run/mysql.sock" --port=16306 \
        --bind-address=127.0.0.1 --pid-file="$S/run/mariadbd.pid" \
        --log-error="$S/log/mariadbd.log" --innodb-buffer-pool-size=64M >/dev/null 2>&1 &
    PIDS+=($!); say "mariadbd pid $!"
    for _ in $(seq 100); do [[ -S "$S/run/mysql.sock" ]] && break; sleep 0.2; done
    mariadb -S "$S/run/mysql.sock" -u root -e "
        CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'lgcheck';
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'lgcheck';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" || fail "MariaDB user"
    cat > "$S/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
DbdHost=$HOST
DbdPort=16819
SlurmUser=root
PidFile=$S/run/slurmdbd.pid
LogFile=$S/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=16306
StorageUser=slurm
StoragePass=lgcheck
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$S/slurmdbd.conf"
    slurmdbd -D >>"$S/log/slurmdbd.out" 2>&1 &   # reads slurmdbd.conf beside $SLURM_CONF
    PIDS+=($!); say "slurmdbd pid $!"
    for _ in $(seq 60); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 1; done
    sacctmgr -i add cluster lgcheck >>"$LOG" 2>&1
    sacctmgr -i add account lgcheck Description=check Organization=check >>"$LOG" 2>&1
    sacctmgr -i add user root Account=lgcheck DefaultAccount=lgcheck >>"$LOG" 2>&1
    sacctmgr -n list user root format=user,defaultaccount | tee -a "$LOG" | grep -q lgcheck \
        || fail "slurmdbd: no user root in account lgcheck (see $S/log/slurmdbd.log)"
}

start_slurm() {  # $1: mode (none | accounting)
    local mode=$1 S="$WORK/state-$1"
    rm -rf "$S"; mkdir -p "$S"/{ctld,spool,log}
    export SLURM_CONF="$S/slurm.conf"
    start_munge "$S"
    local acct="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
    if [[ $mode == accounting ]]; then
        acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$HOST
AccountingStoragePort=16819
AccountingStoragePass=$MUNGE_SOCK
JobAcctGatherType=jobacct_gather/linux"
    fi
    local gres_types="" node_gres=""
    if [[ "$GPU" == 1 ]]; then  # a stand-in GPU: the scheduler needs a device file, not a GPU
        mkdir -p "$S/dev" && : > "$S/dev/nvidia0"
        gres_types="GresTypes=gpu,shard"; node_gres="Gres=gpu:1,shard:4"
        printf 'NodeName=%s Name=gpu File=%s\nNodeName=%s Name=shard Count=4 File=%s\n' \
            "$HOST" "$S/dev/nvidia0" "$HOST" "$S/dev/nvidia0" > "$S/gres.conf"
    fi
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
$acct
JobCompType=jobcomp/none
$gres_types
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM $node_gres State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
    link_etc_conf "$SLURM_CONF"
    [[ $mode == accounting ]] && start_accounting_db "$S"
    slurmctld -D -i -f "$SLURM_CONF" >>"$S/log/slurmctld.out" 2>&1 &
    PIDS+=($!); say "slurmctld pid $!"
    sleep 2
    slurmd -D -f "$SLURM_CONF" >>"$S/log/slurmd.out" 2>&1 &
    PIDS+=($!); say "slurmd pid $!"
    for _ in $(seq 60); do
        sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break; sleep 1
    done
    sinfo -h -o "%P %D %T %c %m" | tee -a "$LOG" | grep -qE 'idle|mixed' || fail "node not idle"
    if timeout 30 sacct -n >/dev/null 2>"$WORK/sacct.err"; then say "sacct works"
    else say "sacct says: $(head -1 "$WORK/sacct.err")"; fi
}

# --- 2. clean clone, tiny config, local run ---------------------------------------------------
# REUSE=1 keeps the clone and a finished local run of an earlier (failed or KEEP=1) check.
# DRYRUN=1 uses this checkout as it is (uncommitted changes included) instead of a clone.
if [[ "$DRYRUN" == 1 ]]; then
    REUSED=0; rm -rf "$WORK/repo"; ln -sfn "$REPO" "$WORK/repo"
    say "dry run of this checkout, $REPO"
elif [[ "${REUSE:-0}" == 1 && -s "$WORK/local/results/tables/measures.csv" ]]; then
    REUSED=1; rm -rf "$WORK"/slurm-*
    say "clone at $(git -C "$WORK/repo" rev-parse --short HEAD)"
else
    REUSED=0; rm -rf "$WORK/repo" "$WORK/local" "$WORK"/slurm-*
    git clone -q "$REPO" "$WORK/repo" || fail "git clone"
    say "clone at $(git -C "$WORK/repo" rev-parse --short HEAD)"
fi
export PYTHONPATH="$WORK/repo/src${PYTHONPATH:+:$PYTHONPATH}"   # the clone's package, not $REPO's
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$PY" - "$WORK" <<'EOF' || fail "writing the tiny config"
import sys, yaml
from pathlib import Path
work = Path(sys.argv[1])
cfg = yaml.safe_load((work / "repo/config/config.yaml").read_text())
cfg["resources"] = {"gpu": "none"}            # the one documented CPU-cluster setting
# alphas/seeds replace the default's grid (an alpha in both is an error)
cfg["models"]["bases"]["minilm"].update(alphas=[0.0, 0.5], seeds=[0], grid=[])
cfg["nonstandard"] = {k: v for k, v in cfg["nonstandard"].items() if k == "minilm-shuffle"}
cfg["sample"].update(n=80, representativeness_samples=2)
cfg["quantize"]["train_size"] = None
for q in cfg["quantize"]["quantizers"].values():
    q.update(M=2, nbits=4)
# 24 optimizer steps on "shuffled", a checkpoint every 4: long enough to be cancelled mid-way.
cfg["glue"].update(tasks=["polarity", "shuffled"], epochs=2, batch_size=8, checkpoint_every=4)
cfg["glue"]["minibench"]["sizes"] = {"polarity": [24, 16], "shuffled": [96, 16]}
(work / "tiny.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
# For a grouping profile: the fine-tunes join the group finetune_small (same results); with
# GPU=1: GPU requests, a quarter of a GPU per perturbed MiniLM fine-tuning (same results).
import copy
for grouped in (False, True):
    for gpu in (False, True):
        c = copy.deepcopy(cfg)
        c["resources"] = {"gpu": "auto" if gpu else "none"}
        if grouped:
            c["resources"]["group_finetunes_minutes"] = 1
        if gpu:
            c["models"]["bases"]["minilm"]["gpu_share"] = 0.25
        name = "tiny" + ("_grouped" if grouped else "") + ("_gpushare" if gpu else "")
        if name != "tiny":
            (work / f"{name}.yaml").write_text(yaml.safe_dump(c, sort_keys=False))
# The same run with other resource settings: must re-run nothing.
cfg["resources"] = {"gpu": "auto", "headroom": 3.0, "group_finetunes_minutes": 3}
(work / "tiny_gpu.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
EOF
SMK=("$PY" -m snakemake -s "$WORK/repo/Snakefile")
# Dry runs: the tiny configuration locally, and through the profile (what the SLURM run submits).
tiny_for() {  # $1: profile -> the tiny config it runs
    local name=tiny
    grep -q "^group-components:" "$WORK/repo/$1/config.yaml" && name+=_grouped
    [[ "$GPU" == 1 ]] && name+=_gpushare
    echo "$WORK/$name.yaml"
}
dry_run() {  # $1: label, $2: run folder, $3: config, then snakemake arguments
    local label=$1 dir=$2 cfg=$3; shift 3
    mkdir -p "$dir"
    ( cd "$WORK/repo" && run_limited 600 "${SMK[@]}" --configfile "$cfg" -d "$dir" -n "$@" ) \
        >"$dir.dryrun.log" 2>&1 || fail "dry run $label (see $dir.dryrun.log)"
    say "dry run $label: $(awk '$1 == "total" {print $2 " jobs"}' "$dir.dryrun.log" | tail -1)"
}
dry_run local "$WORK/dry-local" "$WORK/tiny.yaml" --cores "$CPUS"
for profile in $PROFILES; do
    dry_run "--profile $profile" "$WORK/dry-$(basename "$profile")" "$(tiny_for "$profile")" \
        --profile "$profile"
done
if [[ "$DRYRUN" == 1 ]]; then CURRENT_MODE=dryrun; say "VERDICT dryrun: PASS"; exit 0; fi

mkdir -p "$WORK/local"
say "local run (--cores $CPUS, at most $LOCAL_TIMEOUT s)$( ((REUSED)) && echo ': reused from an earlier check')"
t=$(date +%s)
if ! ((REUSED)); then
    run_limited "$LOCAL_TIMEOUT" nice "${SMK[@]}" --configfile "$WORK/tiny.yaml" -d "$WORK/local" \
        --cores "$CPUS" >"$WORK/local.log" 2>&1
    rc=$?
    [[ $rc -eq 124 ]] && fail "local run timed out after $LOCAL_TIMEOUT s (see $WORK/local.log)"
    [[ $rc -eq 0 ]] || fail "local run (see $WORK/local.log)"
fi
say "local run done in $(( $(date +%s) - t )) s: $(grep -Eo '[0-9]+ of [0-9]+ steps \(100%\) done' "$WORK/local.log" | tail -1)"

# --- 3. SLURM runs through the shipped profile, one fine-tuning job cancelled mid-way ----------
watch_and_cancel() {  # $1: run folder. Cancel the SLURM job running a "shuffled" fine-tuning
    # once it has written a checkpoint: a plain job (comment rule_glue_finetune_wildcards_<model>_
    # shuffled) or a group job holding fine-tunes (comment rule_<group>_..._glue_finetune...).
    # It keeps recording what SLURM granted each running job (per job: --gpus; per node: --gres)
    # until the run ends (check_mode stops it).
    local run=$1 id comment ckpt model cancelled=0
    for _ in $(seq 7200); do
        squeue -h -t RUNNING -O "JobID:12,Comment:90,tres-per-job:30,tres-per-node:30" 2>/dev/null >> "$run.grants"
        ckpt=""
        ((cancelled)) || ckpt=$(find "$run/results/.scratch/glue" -path "*/shuffled/*" -name checkpoint.pt 2>/dev/null | head -1)
        if [[ -n "$ckpt" ]]; then
            model=${ckpt#"$run/results/.scratch/glue/"}; model=${model%%/*}
            while read -r id comment; do
                if [[ "$comment" == "rule_glue_finetune_wildcards_${model}_shuffled" \
                      || ( "$comment" == *glue_finetune* && "$comment" != rule_glue_finetune_wildcards_* ) ]]; then
                    echo "$id $model $comment" > "$run.cancelled"
                    scancel "$id"
                    say "scancel $id ($comment: glue_finetune $model/shuffled) after its first checkpoint"
                    cancelled=1
                    break
                fi
            done < <(squeue -h -t RUNNING -o "%i %k" 2>/dev/null)
        fi
        sleep 0.5
    done
    ((cancelled)) || say "watcher: no running fine-tuning job with a checkpoint seen"
}

check_gpu_requests() {  # $1: run folder. GPU=1: what each job asked for and was granted.
    local run=$1 line comment want bad=0 n=0
    while IFS= read -r line; do
        comment=$(grep -oE -- "--comment [^ ]+" <<<"$line" | cut -d' ' -f2)
        case "$comment" in
            rule_embed_*|rule_quantize_*|rule_glue_finetune_wildcards_minilm-*) want="--gpus=1" ;;
            rule_glue_finetune_wildcards_minilm_a*|rule_finetune_small_shared*) want="--gres=shard:1" ;;
            rule_finetune_small_glue*) want="--gpus=1" ;;
            rule_latent*) want="--gpus=1" ;;  # the grouped profile's embed->quantize->measures
            *) want="" ;;
        esac
        n=$((n + 1))
        if [[ -z "$want" ]]; then
            grep -qE -- "--gpus|--gres" <<<"$line" && { say "asked for a GPU: $comment"; bad=1; }
        else
            grep -q -- "$want" <<<"$line" || { say "no $want: $comment"; bad=1; }
            [[ "$want" == --gres=* ]] && grep -q -- "--gpus" <<<"$line" && { say "--gpus with a share: $comment"; bad=1; }
        fi
    done < "$run.sbatch"
    ((bad)) && fail "GPU requests (see $run.sbatch)"
    say "GPU requests of $n sbatch calls as configured: $(grep -c -- '--gpus=1' "$run.sbatch") --gpus=1, $(grep -c -- '--gres=shard:1' "$run.sbatch") --gres=shard:1, the rest none"
    # granted: squeue's per-job/per-node TRES of every job seen
    sort -u "$run.grants" > "$run.grants.u"
    awk '$2 ~ /^rule_(embed|quantize)_/ && $3 != "gres:gpu:1" {print}' "$run.grants.u" | grep -q . \
        && fail "an embed/quantize job was not granted gres:gpu:1 (see $run.grants.u)"
    awk '$2 ~ /^rule_glue_finetune_wildcards_minilm_a/ && $4 != "gres:shard:1" {print}' "$run.grants.u" | grep -q . \
        && fail "a shared fine-tuning job was not granted gres:shard:1 (see $run.grants.u)"
    awk '$2 ~ /^rule_(perturb|nonstandard|sample|measures|glue_scores|glue_cache)/ && ($3 != "N/A" || $4 != "N/A") {print}' "$run.grants.u" | grep -q . \
        && fail "a CPU job was granted a GPU resource (see $run.grants.u)"
    say "granted to running jobs (squeue, per job/per node): $(awk '{print $3 "/" $4}' "$run.grants.u" | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
}

check_mode() {  # $1: mode, $2: profile
    local mode=$1 PROFILE=$2 run extra=() rc t cid model flog n_same f rel tiny n_jobs n_sbatch
    run="$WORK/slurm-$1-$(basename "$2")"
    tiny=$(tiny_for "$PROFILE")
    CURRENT_MODE="$mode $(basename "$PROFILE")"
    say "=== SLURM, accounting: $mode, profile $PROFILE, config $(basename "$tiny") (the run at most $MODE_TIMEOUT s) ==="
    start_slurm "$mode"
    [[ $mode == accounting ]] && extra=(--slurm-status-command sacct)  # the profile's alternative
    mkdir -p "$run"
    watch_and_cancel "$run" & WATCH_PID=$!
    say "SLURM run: --profile $PROFILE (as shipped) ${extra[*]}"
    t=$(date +%s)
    # --verbose only so that the log shows each sbatch call.
    ( cd "$WORK/repo" && run_limited "$MODE_TIMEOUT" nice "${SMK[@]}" --configfile "$tiny" \
        -d "$run" --profile "$PROFILE" "${extra[@]}" --verbose ) >"$run.log" 2>&1
    rc=$?
    kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; WATCH_PID=""
    say "SLURM run exit $rc in $(( $(date +%s) - t )) s: $(grep -Eo '[0-9]+ of [0-9]+ steps \(100%\) done' "$run.log" | tail -1)"
    if [[ $rc -eq 124 ]]; then
        [[ $mode == accounting ]] && say "(the accounting mode's sacct status is known to wait forever on a job cancelled by hand)"
        fail "SLURM run timed out after $MODE_TIMEOUT s (see $run.log)"
    fi
    [[ $rc -eq 0 ]] || fail "SLURM run (see $run.log)"
    say "$(grep -m1 -o 'SLURM run ID: [^ ]*' "$run.log"); status via $(grep -m1 -oE "status quer(y|ies)[^.]*|using '(squeue|sacct)'[^.]*" "$run.log" || echo "${extra[*]:-squeue (profile)}")"
    grep -Eo "sbatch call: .*" "$run.log" > "$run.sbatch"
    n_sbatch=$(wc -l < "$run.sbatch")
    n_jobs=$(grep -Eo '[0-9]+ of [0-9]+ steps \(100%\) done' "$run.log" | tail -1 | cut -d' ' -f3)
    say "$n_sbatch sbatch calls for $n_jobs jobs; one fine-tuning call:"
    grep -m1 "glue_finetune" "$run.sbatch" | cut -c1-400 | tee -a "$LOG"
    if [[ "$tiny" == *grouped* ]]; then
        grep -q -- "--comment rule_finetune_small" "$run.sbatch" || fail "no grouped fine-tuning submission"
        (( n_sbatch < n_jobs )) || fail "grouping did not reduce the submissions ($n_sbatch for $n_jobs jobs)"
        say "group submissions: $(grep -Eo -- '--comment rule_[a-z_]+' "$run.sbatch" | sort | uniq -c | awk '$3 !~ /wildcards/ && $3 ~ /^rule_(latent|models|scores|caches|report|finetune_small)/ {printf "%s x%s; ", $3, $1}')"
    fi
    if [[ "$GPU" == 1 ]]; then check_gpu_requests "$run"
    else
        grep -qE -- "--gpus|--gres" "$run.sbatch" && fail "a job asked for a GPU"
        say "no sbatch call asked for a GPU"
    fi

    [[ -s "$run.cancelled" ]] || fail "no fine-tuning job was cancelled"
    read -r cid model _ < "$run.cancelled"
    flog="$run/results/logs/glue_finetune/${model}_shuffled.log"
    grep -q "resumed from checkpoint" "$flog" || fail "the retry of $model/shuffled did not resume (see $flog)"
    say "retry of cancelled job $cid: $(grep -m1 'resumed from checkpoint' "$flog")"
    grep -E "Trying to restart job|attempt 2|retr" "$run.log" | head -2 | cut -c1-200 | tee -a "$LOG" >/dev/null

    n_same=0
    while IFS= read -r f; do
        rel=${f#"$WORK/local/"}
        cmp -s "$f" "$run/$rel" || fail "differs from the local run: $rel"
        n_same=$((n_same + 1))
    done < <(find "$WORK/local/results/tables" "$WORK/local/results/analysis" \
                  "$WORK/local/results/sample" -name '*.csv'; ls "$WORK"/local/results/glue/*/scores.json)
    say "$n_same files byte-identical to the local run (tables/*.csv incl. measures.csv and glue.csv, analysis/*.csv, sample/*.csv, glue/*/scores.json)"

    ( cd "$WORK/repo" && run_limited 600 "${SMK[@]}" --configfile "$tiny" -d "$run" \
        --profile "$PROFILE" "${extra[@]}" -n ) >"$run.rerun.log" 2>&1
    grep -q "Nothing to be done" "$run.rerun.log" || fail "a second run would do work (see $run.rerun.log)"
    say "second run: Nothing to be done"
    ( cd "$WORK/repo" && run_limited 600 "${SMK[@]}" --configfile "$WORK/tiny_gpu.yaml" -d "$run" -n ) \
        >"$run.rerun-gpu.log" 2>&1
    grep -q "Nothing to be done" "$run.rerun-gpu.log" \
        || fail "changing resources.gpu/headroom would re-run jobs (see $run.rerun-gpu.log)"
    say "with resources.gpu: auto, headroom: 3, group_finetunes_minutes: 3 instead: Nothing to be done"
    stop_daemons
    say "VERDICT $CURRENT_MODE: PASS"
}

for mode in $MODES; do
    for profile in $PROFILES; do check_mode "$mode" "$profile"; done
done
say "PASS in $(( $(date +%s) - T0 )) s"
