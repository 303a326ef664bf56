#!/usr/bin/env bash
# Stop the one-node test cluster that start_cluster.sh started: slurmd, slurmctld (by their pid
# files), and munged if start_cluster.sh started it. Safe to run when nothing is running.
set -uo pipefail

STATE=${XRTFLOW_SLURM_STATE:-/var/tmp/xrtflow-slurm}

stop_pid_file() {
    local file=$1 name=$2 pid
    [[ -s $file ]] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        echo "stopped $name ($pid)"
    fi
    rm -f "$file"
}

# Jobs first, so that no job step outlives its slurmd.
command -v scancel >/dev/null && scancel --quiet --user root 2>/dev/null
stop_pid_file "$STATE/slurmd.pid" slurmd
stop_pid_file "$STATE/slurmctld.pid" slurmctld
if [[ -e /run/munge/.started-by-xrtflow ]]; then
    stop_pid_file /run/munge/munged.pid munged
    rm -f /run/munge/.started-by-xrtflow
fi
exit 0
