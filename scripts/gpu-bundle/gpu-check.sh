#!/bin/sh
# The GPU check (docs/performance.md "The GPU check"): run from the unpacked bundle, with its own Node.
#   ./gpu-check.sh [--provider webgpu|cpu] [--model auto|demo|full] [--seconds 8] [--warmup 2] [--concurrency 1,16,64]
# Exit status: 0 passed; 1 a check failed; 3 the CPU checks passed but WebGPU could not start; 2 bad arguments.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# The service refuses to start where core dumps stay on; they would hold the images and texts in memory.
ulimit -c 0 2>/dev/null || true
if ! "$here/bin/node" --version >/dev/null 2>&1; then
  echo "RESULT: FAIL (the bundled Node does not run here: it needs Linux x86-64 with glibc >= 2.28 and libstdc++.so.6)" >&2
  ldd "$here/bin/node" 2>&1 | grep -i 'not found' >&2 || true
  exit 1
fi
exec "$here/bin/node" "$here/check/gpu-check.js" "$@"
