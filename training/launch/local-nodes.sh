#!/usr/bin/env bash
# Simulate N nodes of P processes each on this machine, for the multi-node path where no cluster exists:
#
#   training/launch/local-nodes.sh N P -- TRAIN ARGS...
#
# Each node is its own launch, as a scheduler starts one per node; it gives each of its P processes the environment
# SLURM (slurm.sbatch) and the Kubeflow operator give: RANK = NODE_RANK*P + LOCAL_RANK, LOCAL_RANK,
# WORLD_SIZE = N*P, LOCAL_WORLD_SIZE = P, NODE_RANK, MASTER_ADDR = 127.0.0.1 and MASTER_PORT (a free port unless
# set) and OMP_NUM_THREADS=1 unless set; training.train then uses gloo over loopback on CPU (nccl where there are
# GPUs, LOCAL_RANK choosing each process's). (Debian's torch 1.13 torchrun fails at start-up, hence no torchrun.)
# Runs "$PYTHON -m training.train TRAIN ARGS" (PYTHON defaults to /usr/bin/python3).
# Waits for every process; when one fails its node stops the others, then every node is stopped, as a scheduler
# tears a job down, and this script exits with the failed process's status.
set -uo pipefail

usage() { echo "usage: $0 NODES PROCS_PER_NODE -- TRAIN ARGS..." >&2; exit 2; }
[ $# -ge 3 ] && [ "$3" = "--" ] || usage
nodes=$1 procs=$2
shift 3
[[ $nodes =~ ^[1-9][0-9]*$ && $procs =~ ^[1-9][0-9]*$ ]] || usage
PYTHON=${PYTHON:-/usr/bin/python3}
# the package is importable from any working directory (relative paths in TRAIN ARGS stay relative to it)
export PYTHONPATH="$(cd "$(dirname "$0")/../.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"
export MASTER_ADDR=127.0.0.1
free_port='import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
export MASTER_PORT=${MASTER_PORT:-$("$PYTHON" -c "$free_port")}
export WORLD_SIZE=$((nodes * procs)) LOCAL_WORLD_SIZE=$procs OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# one node: P processes; the first failure stops its siblings and becomes the node's status
node() {
  local node_rank=$1 pids=() rc=0 i
  shift
  for ((i = 0; i < procs; i++)); do
    NODE_RANK=$node_rank LOCAL_RANK=$i RANK=$((node_rank * procs + i)) "$PYTHON" -m training.train "$@" &
    pids+=($!)
  done
  for ((i = 0; i < procs; i++)); do
    wait -n
    rc=$?
    if [ $rc -ne 0 ]; then
      kill "${pids[@]}" 2>/dev/null
      wait
      return $rc
    fi
  done
  return 0
}

set -m  # each node in its own process group, so the whole node can be stopped
node_pids=()
stop_nodes() { for pid in "${node_pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done; }
trap 'stop_nodes; wait; exit 130' INT TERM
for ((n = 0; n < nodes; n++)); do
  node "$n" "$@" &
  node_pids+=($!)
done
status=0
for ((n = 0; n < nodes; n++)); do
  wait -n
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "local-nodes.sh: a process exited with status $rc; stopping all nodes" >&2
    stop_nodes
    wait
    status=$rc
    break
  fi
done
exit $status
