#!/bin/bash
# The kernel-gpio test, from a fresh machine to a verdict:
#   ./run.sh [driver] [turn] [turn-cdev] [wiring]     (default: all four)
# 1. apt packages, the Debian kernel, gpio-sim's sources   (scripts/setup.sh, cached)
# 2. gpio-sim.ko, out of tree                              (scripts/build-module.sh, cached)
# 3. the initramfs                                         (scripts/build-initramfs.sh, cached)
# 4. one qemu VM (software emulation): vm/main.sh runs the vm/*.vm.ts tests
#    on a gpio-sim chip, reading the lines from outside the node   (scripts/boot.sh)
# 5. the verdict: exit 0 only if every test file ran and passed; last line
#    "N passed, M failed". Every step has a time limit (below), so the whole
#    run is bounded: at most KGPIO_SETUP_TIMEOUT + 300 + 120 + KGPIO_VM_TIMEOUT s.
set -uo pipefail
. "$(dirname "$0")/scripts/env.sh"
TESTS="${*:-driver turn turn-cdev wiring}"
SETUP_TIMEOUT="${KGPIO_SETUP_TIMEOUT:-900}"
VM_TIMEOUT="${KGPIO_VM_TIMEOUT:-1800}"
T0=$(date +%s.%N)
TIMES=()
verdict() { echo "$1 passed, $2 failed"; exit "$3"; }
phase() { # phase NAME TIMEOUT CMD...
  local name="$1" limit="$2" s e; shift 2
  s=$(date +%s.%N)
  timeout -k 10 "$limit" "$@"; local rc=$?
  e=$(date +%s.%N)
  TIMES+=("$(awk -v n="$name" -v s="$s" -v e="$e" 'BEGIN{printf "%s %.1f", n, e-s}')")
  if [ $rc -ne 0 ]; then
    [ $rc -eq 124 ] && log "$name: timed out after ${limit}s" || log "$name: failed ($rc)"
    printf '  %s s\n' "${TIMES[@]}" >&2
    verdict 0 1 1
  fi
}

phase setup "$SETUP_TIMEOUT" bash "$HERE/scripts/setup.sh"
phase module 300 bash "$HERE/scripts/build-module.sh"
phase initramfs 120 bash "$HERE/scripts/build-initramfs.sh"

addon="$REPO/node_modules/node-libgpiod/build/Release/node-libgpiod.node"
[ -f "$addon" ] || { log "node-libgpiod is not built in $REPO (apt-get install libgpiod-dev; npm rebuild node-libgpiod)"; verdict 0 1 1; }
[ -f "$REPO/node_modules/koffi/package.json" ] || { log "koffi (the gpio-cdev driver's FFI) is not installed in $REPO (npm install, with optional dependencies)"; verdict 0 1 1; }

STATE="$CACHE/vm"                    # the VM's writable folder: run/ (results), tmp/ (tsx cache)
rm -rf "$STATE/run"; mkdir -p "$STATE/run"
echo "$TESTS" > "$STATE/run/tests"
MAIN="$REPO/claw-node/test/kernel-gpio/vm/main.sh"
phase vm "$((VM_TIMEOUT + 30))" bash "$HERE/scripts/boot.sh" "$MAIN" "$STATE" "$VM_TIMEOUT"

# --- verdict and measurements
RUN="$STATE/run"
pass=0; fail=0
for t in $TESTS; do
  line="$(grep -E "^$t " "$RUN/results" 2>/dev/null || true)"
  summary="$(grep -E '^# \{ total: [0-9]+' "$RUN/$t.tap" 2>/dev/null | tail -1)"
  p=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary"); f=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
  p=${p:-0}; f=${f:-0}
  rc=$(awk '{print $2}' <<<"$line")
  if [ -z "$line" ] || [ -z "$summary" ] || [ "${rc:-1}" != 0 ]; then [ "$f" -eq 0 ] && f=1; fi
  dur=$(awk '{printf "%.1f", $4-$3}' <<<"$line")
  log "test $t: rc=${rc:-none}, $p passed, $f failed, ${dur:-?} s in the VM (TAP: $RUN/$t.tap)"
  grep -E '^\s*not ok' "$RUN/$t.tap" 2>/dev/null | head -20 >&2
  pass=$((pass + p)); fail=$((fail + f))
done

# from qemu's start (boot.sh records it) to the first line of guest/init on the serial console
boot_s=$(awk -v s="$(cat "$RUN/qemu-start" 2>/dev/null || echo 0)" '/KGPIO-STAGE userspace/{printf "%.1f s wall (guest uptime %s s)", $1-s, $NF; exit}' "$RUN/console.log")
log "boot to userspace: ${boot_s:-not reached}"
for f in "$RUN"/driver-levels-*.json; do
  [ -f "$f" ] || continue
  log "line levels with $(basename "$f" .json | sed 's/^driver-levels-//') (gpio-sim sysfs, read outside the holder), offsets 0-7:"
  node -e '
    const j = require(process.argv[1]);
    console.error("  line       active  pull       at-kill   before claimed atKill afterKill  direction-after");
    for (const r of j.rows) console.error(`  ${r.line.padEnd(10)} ${(r.activeLow ? "low" : "high").padEnd(7)} ${r.pull.padEnd(10)} ${(r.assertedAtKill ? "asserted" : "released").padEnd(9)} ${String(r.before).padEnd(6)} ${String(r.claimed).padEnd(7)} ${String(r.atKill).padEnd(6)} ${String(r.afterKill).padEnd(10)} ${r.directionAfterKill}`);
  ' "$f"
done
TIMES+=("$(awk -v s="$T0" -v e="$(date +%s.%N)" 'BEGIN{printf "total %.1f", e-s}')")
log "times (s): ${TIMES[*]}"
printf '%s\n' "${TIMES[@]}" > "$RUN/times"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ] && verdict "$pass" 0 0
verdict "$pass" "$fail" 1
