#!/bin/bash
# Runs inside the test VM (started by guest/init, chrooted into the host's
# filesystem, read-only, as root): the VM tests, one node process each,
# TAP output into the results folder the host collects.
# Usage: main.sh STATEDIR  (the VM's one writable folder, shared with the host)
#   STATEDIR/run/tests lists the tests to run (default: all); results go to STATEDIR/run;
#   STATEDIR/tmp is TMPDIR, kept between runs: tsx's transpile cache lives there.
set -uo pipefail
OUT="$1/run"
mkdir -p "$1/tmp" "$OUT"
export TMPDIR="$1/tmp"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../../.." && pwd)"
cd "$REPO"
export KGPIO_OUT="$OUT" KGPIO_KERNEL="$(uname -r)"
# tap's own 30 s per-file timeout is too short under software emulation; the
# `timeout 480` below bounds each test file instead (the host's VM timeout, 1800 s
# by default, bounds them all).
export TAP_TIMEOUT=0
tests="$(cat "$OUT/tests" 2>/dev/null || echo 'driver turn turn-cdev wiring')"
echo "KGPIO-STAGE tests-start $(cut -d' ' -f1 /proc/uptime) repo=$REPO tests=$tests"
: > "$OUT/results"
for name in $tests; do
  start=$(cut -d' ' -f1 /proc/uptime)
  # stdout (TAP) to the results folder and the console, for a run that hangs
  timeout -k 5 480 node --import tsx --conditions=@clawgate/source "$HERE/$name.vm.ts" 2>&1 \
    | tee "$OUT/$name.tap" | sed -u "s/^/[$name] /"
  rc=${PIPESTATUS[0]}
  end=$(cut -d' ' -f1 /proc/uptime)
  echo "$name $rc $start $end" >> "$OUT/results"
  echo "KGPIO-STAGE test $name rc=$rc ${start}s..${end}s"
done
dmesg > "$OUT/dmesg.log" 2>/dev/null || true
sync
