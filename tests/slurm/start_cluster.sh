#!/usr/bin/env bash
# Start a one-node SLURM cluster on 127.0.0.1 (munged, slurmctld, slurmd; as root). Idempotent:
# daemons that already answer are left alone. Stop it with stop_cluster.sh.
#
#   tests/slurm/install.sh && tests/slurm/start_cluster.sh && sinfo
#
# The node is NodeName=localhost CPUs=2 (SlurmdParameters=config_overrides: the configured CPUs
# and memory count, not the hardware's). There is no accounting database: jobs are followed with
# squeue, so MinJobAge is long (finished jobs stay visible to squeue for 10 minutes).
# State, spool and logs go to $XRTFLOW_SLURM_STATE (default /var/tmp/xrtflow-slurm).
set -euo pipefail

STATE=${XRTFLOW_SLURM_STATE:-/var/tmp/xrtflow-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# Written by xrtflow tests/slurm/start_cluster.sh"

die() { echo "start_cluster.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (the daemons run as root on this test node)"
for tool in munged slurmctld slurmd sinfo scontrol; do
    command -v "$tool" >/dev/null || die "$tool not found: run tests/slurm/install.sh first"
done

# --- munge (authentication between the daemons and the client commands) ----------------------
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [[ ! -s /etc/munge/munge.key ]]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
    chown munge:munge /etc/munge /etc/munge/munge.key
    chmod 700 /etc/munge
    chmod 400 /etc/munge/munge.key
    install -d -o munge -g munge -m 755 /run/munge
    install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
    runuser -u munge -- /usr/sbin/munged
    touch "/run/munge/.started-by-xrtflow"
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"
fi

# --- slurm.conf -----------------------------------------------------------------------------
if [[ -e $CONF ]] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; not touching a real cluster's config"
fi
mkdir -p "$STATE/ctld" "$STATE/spool" /etc/slurm
# Memory the node offers: 90% of RAM, at most 16 GB (the profiles ask for far less).
mem_mb=$(awk '/MemTotal/ {m = int($2 / 1024 * 0.9); print (m > 16000 ? 16000 : m)}' /proc/meminfo)
cat >"$CONF.new" <<EOF
$MARK -- a one-node test cluster.
ClusterName=xrtflow
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
# No cgroups in containers: track processes by parent id, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# squeue --states=all must still show a job that finished before the next status check.
MinJobAge=600
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
if [[ -e $CONF ]] && cmp -s "$CONF" "$CONF.new"; then
    rm "$CONF.new"
else
    mv "$CONF.new" "$CONF"
    # A running daemon reads the new file on reconfigure.
    scontrol reconfigure >/dev/null 2>&1 || true
fi

# --- daemons --------------------------------------------------------------------------------
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
alive "$STATE/slurmctld.pid" || slurmctld
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
scontrol ping | grep -q UP || die "slurmctld does not answer (see $STATE/slurmctld.log)"
alive "$STATE/slurmd.pid" || slurmd -N localhost

state=""
for _ in $(seq 150); do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
    case $state in
        idle* | mixed* | allocated*) break ;;
        down* | drain*) scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
done
case $state in
    idle* | mixed* | allocated*) ;;
    *) die "node localhost is '$state' (see $STATE/slurmd.log and $STATE/slurmctld.log)" ;;
esac
sinfo
