#!/bin/sh
# PID 1 of both images. Core dumps off before node starts: a dump of this process would hold request images and
# texts (patient data) on the node's disk. The service also sets RLIMIT_CORE to 0 itself; this covers a crash
# before that. `exec` keeps node as PID 1, so SIGTERM reaches the service's drain and no shell swallows it.
# --max-semi-space-size=16: as in `npm start` (docs/performance.md: V8's young generation otherwise grows to 128 MiB).
set -eu
ulimit -c 0
exec node --max-semi-space-size=16 dist/server.js "$@"
