#!/usr/bin/env bash
# A one-node SLURM cluster for CI on Debian 12 (slurm 22.05 from Debian's packages), run as root.
#   bash .ci/slurm_ci.sh up [--accounting]   # install if needed, configure, start; --accounting adds
#                                             # MariaDB + slurmdbd so that `sacct` works
#   bash .ci/slurm_ci.sh down                # stop the daemons this script started (by PID file)
#   bash .ci/slurm_ci.sh status              # exit 0 when the node is up and idle
# The node is this machine ($(hostname -s)) with one count-only fake GPU (gres gpu:fake:1 backed by
# /dev/null): GPU-tagged jobs get a real GPU allocation and are serialised like on a one-GPU node,
# but nothing runs on a GPU. The node advertises generous CPUs/memory (SlurmdParameters=
# config_overrides) so that profiles/slurm's real-dataset requests are schedulable here; the
# demo's jobs are tiny. No cgroups (containers have none to spare). A one-node recipe: slurmctld and slurmd on
# localhost, munge, a count-only gres for the fake GPU.
set -euo pipefail
DIR=${SLURM_CI_DIR:-/tmp/slurm-ci}
HOST=$(hostname -s)
# What the node advertises to the scheduler (config_overrides: slurmd trusts these numbers).
CPUS=${SLURM_CI_CPUS:-16}
MEM=${SLURM_CI_MEM:-131072}

log() { echo "[slurm_ci] $*"; }

down() {
  local pids=() alive=() pf pid p
  for pf in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/slurmdbd.pid" /run/mysqld/ci-mariadb.pid \
    /run/munge/munged.pid; do
    [ -s "$pf" ] || continue
    pid=$(cat "$pf")
    kill "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$pf"
  done
  for _ in $(seq 1 40); do
    alive=()
    for p in "${pids[@]:-}"; do
      # Orphans can linger as zombies under some PID 1s: state Z counts as stopped.
      [ -n "$p" ] && [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && alive+=("$p")
    done
    [ ${#alive[@]} -eq 0 ] && break
    sleep 0.25
  done
  for p in "${alive[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  log "down"
}

install_packages() {
  local pkgs="$1" missing=0 p
  for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing=1; done
  [ $missing = 0 ] && return 0
  command -v apt-get >/dev/null || {
    log "apt-get not found: not a Debian-like system"
    return 1
  }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
}

write_config() {
  local acct=$1 acct_lines
  acct_lines="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
  [ "$acct" = 1 ] && acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux"
  cat >/etc/slurm/slurm.conf <<EOC
ClusterName=ci
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
$acct_lines
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=300
DefMemPerCPU=500
GresTypes=gpu
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM Gres=gpu:fake:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOC
  cat >/etc/slurm/gres.conf <<EOC
AutoDetect=off
NodeName=$HOST Name=gpu Type=fake File=/dev/null
EOC
}

start_accounting() {
  mkdir -p /run/mysqld
  chown mysql:mysql /run/mysqld
  mariadbd --user=mysql --skip-networking --socket=/run/mysqld/mysqld.sock \
    --pid-file=/run/mysqld/ci-mariadb.pid --log-error=/run/mysqld/ci-mariadb.err &
  for _ in $(seq 1 80); do
    mysql -e 'select 1' >/dev/null 2>&1 && break
    sleep 0.25
  done
  # A throwaway password for a socket-only local database (--skip-networking).
  mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'ci-only';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat >/etc/slurm/slurmdbd.conf <<EOC
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=ci-only
StorageLoc=slurm_acct_db
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/slurmdbd.pid
EOC
  chmod 600 /etc/slurm/slurmdbd.conf
  /usr/sbin/slurmdbd
  for _ in $(seq 1 40); do
    sacctmgr -n list cluster >/dev/null 2>&1 && break
    sleep 0.25
  done
  sacctmgr -i -Q add cluster ci >/dev/null 2>&1 || true
}

up() {
  local acct=0 pkgs="slurmctld slurmd slurm-client munge"
  [ "${1:-}" = "--accounting" ] && acct=1
  [ $acct = 1 ] && pkgs="$pkgs slurmdbd mariadb-server"
  [ "$(id -u)" = 0 ] || {
    log "must run as root (it installs packages and starts daemons)"
    return 1
  }
  # A second munged refuses to start: stop what a previous `up` left running.
  [ -s /run/munge/munged.pid ] || [ -s "$DIR/slurmctld.pid" ] && down
  install_packages "$pkgs"
  mkdir -p "$DIR"/{state,spool,log} /etc/slurm /run/munge /var/log/munge /var/lib/munge /etc/munge
  write_config $acct
  # Debian's postinst creates the munge key; make one if it is absent.
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 0700 /etc/munge
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged
  [ $acct = 1 ] && start_accounting
  /usr/sbin/slurmctld
  /usr/sbin/slurmd
  for _ in $(seq 1 60); do
    if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      sinfo
      return 0
    fi
    sleep 0.5
  done
  log "node did not become idle:"
  sinfo -R || true
  tail -5 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" || true
  return 1
}

status() { sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; }

case "${1:-}" in
up)
  shift
  up "$@"
  ;;
down) down ;;
status) status ;;
*)
  echo "usage: $0 up [--accounting] | down | status"
  exit 2
  ;;
esac
