#!/usr/bin/env bash
# Runs tap on a chosen Node (issue 21):
#
#   .ci/tap-on.sh NODE_BIN [tap args...]
#   .ci/tap-on.sh .ci/node24/bin/node --jobs 1 router/test
#
# Every Node process of the run is NODE_BIN: tap itself, each test file (tap
# starts them with its own process.execPath), each child a test spawns with
# process.execPath, and every `node`, `npm` and `npx` found on PATH (their
# scripts start with `#!/usr/bin/env node`): NODE_BIN's folder goes first on
# PATH. So NODE_BIN must be named `node` (.ci/node24/bin/node is).
# CLAWGATE_EXPECT_NODE tells runtime/test/node-version.test.ts which version
# every one of them must report. The native addons must have a build for
# NODE_BIN's ABI: .ci/node24.sh makes them.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 NODE_BIN [tap args...]" >&2
  exit 2
fi
node_bin=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
case "$node_bin" in /*) ;; *) node_bin=$PWD/$node_bin ;; esac
if [ "$(basename "$node_bin")" != node ] || [ ! -x "$node_bin" ]; then
  echo "$0: $node_bin is not an executable named node" >&2
  exit 2
fi
version=$("$node_bin" -p process.version) || { echo "$0: $node_bin does not run" >&2; exit 2; }
export PATH="$(dirname "$node_bin"):$PATH"
export CLAWGATE_EXPECT_NODE=$version
echo "tap on Node $version ($node_bin)"
exec "$node_bin" "$root/node_modules/tap/dist/esm/run.mjs" "$@"
