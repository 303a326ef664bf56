#!/usr/bin/env bash
# Install what the one-node test cluster needs (Debian/Ubuntu, as root): SLURM and munge.
#
# No slurmdbd/MariaDB: snakemake-executor-plugin-slurm >= 2 can read job states with
# `squeue --states=all` (`--slurm-status-command squeue`) instead of `sacct`, which is reliable
# when slurmctld keeps finished jobs long enough (MinJobAge >= 3 x the first status-check delay);
# start_cluster.sh sets MinJobAge=600. See tests/slurm/README.md.
set -euo pipefail

if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    echo "slurm-wlm and munge already installed: $(slurmctld -V)"
    exit 0
fi
if [[ $(id -u) != 0 ]]; then
    echo "install.sh: run as root (apt-get install slurm-wlm munge)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "install.sh: no apt-get here; install SLURM (slurmctld, slurmd, client tools) and munge with your package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends slurm-wlm munge
slurmctld -V
