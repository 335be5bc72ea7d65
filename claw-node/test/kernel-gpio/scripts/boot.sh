#!/bin/bash
# Boots the test VM once: boot.sh MAIN STATEDIR [TIMEOUT_S]
# MAIN (absolute path of a bash script, as the VM sees it) runs inside the VM, chrooted
# into the host's filesystem (read-only 9p), with STATEDIR (its only writable
# folder) as its argument. The serial console goes to STATEDIR/run/console.log
# (and to stderr with KGPIO_VERBOSE=1).
# No network device: everything the test talks to runs inside the VM.
set -euo pipefail
. "$(dirname "$0")/env.sh"
MAIN="$1"; OUTDIR="$(realpath "$2")"; TIMEOUT="${3:-600}"
KERNEL="$CACHE/image/boot/vmlinuz-$KVER"
[ -f "$KERNEL" ] && [ -f "$CACHE/initramfs.cpio.gz" ] || die "run setup/build first"
mkdir -p "$OUTDIR/run"
CONSOLE="$OUTDIR/run/console.log"
append="console=ttyS0 quiet loglevel=3 panic=-1 kgpio.main=$MAIN kgpio.out=$OUTDIR ${KGPIO_APPEND:-}"
# TCG (no /dev/kvm here). Two vCPUs (multi-threaded TCG): the turn test runs the
# node and the test side as two processes, and measured here two vCPUs took about
# half the wall time of one for less host CPU time in all (KGPIO_SMP=1 to override).
accel=tcg; [ -w /dev/kvm ] && accel=kvm
cmd=(qemu-system-x86_64 -machine q35,accel=$accel -cpu max -smp "${KGPIO_SMP:-2}" -m "${KGPIO_MEM:-1536}"
  -nographic -no-reboot -nic none -serial stdio -monitor none
  -kernel "$KERNEL" -initrd "$CACHE/initramfs.cpio.gz" -append "$append"
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
  -virtfs "local,path=$OUTDIR,mount_tag=out,security_model=none,multidevs=remap")
log "boot: $accel, smp ${KGPIO_SMP:-2}, timeout ${TIMEOUT}s, console -> $CONSOLE"
start=$(date +%s.%N)
set +e
if [ -n "${KGPIO_VERBOSE:-}" ]; then
  timeout -k 5 "$TIMEOUT" "${cmd[@]}" < /dev/null 2>&1 | while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" "$l"; done | tee "$CONSOLE" >&2
  rc=${PIPESTATUS[0]}
else
  timeout -k 5 "$TIMEOUT" "${cmd[@]}" < /dev/null 2>&1 | while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" "$l"; done > "$CONSOLE"
  rc=${PIPESTATUS[0]}
fi
set -e
echo "$start" > "$OUTDIR/run/qemu-start"
[ "$rc" -eq 124 ] && log "boot: TIMEOUT after ${TIMEOUT}s"
exit "$rc"
